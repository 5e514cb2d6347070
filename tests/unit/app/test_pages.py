"""The demo app's pages in-process: landing, profile and admin, on sessions made directly
(tests/integration/ and tests/e2e/ sign in at the development provider instead)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from tests.support.clients import BROWSER_HEADERS
from tests.support.inprocess import (
    T0,
    Browser,
    FakeProvider,
    ManualClock,
    app_settings,
    running,
)
from tests.support.sessions import ADMIN_SUB, ALICE_SUB, alice_claims, new_session
from zitadel_bff import MemoryStore
from zitadel_bff.app import create_app
from zitadel_bff.auth.assets import STATIC_DIR


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    provider = FakeProvider()
    app = create_app(app_settings(), store=MemoryStore(), transport=provider.transport)
    async with running(app, ManualClock()) as started:
        started.http.headers.update(BROWSER_HEADERS)
        yield started


async def test_the_landing_page_offers_sign_in_until_signed_in(browser: Browser) -> None:
    signed_out = await browser.http.get("/")
    assert signed_out.status_code == 200
    assert '<a class="btn btn-large" href="/auth/login">Sign in</a>' in signed_out.text
    await browser.sign_in()
    signed_in = await browser.http.get("/")
    assert "<h1>Welcome back, Ada Admin</h1>" in signed_in.text
    assert "Sign in with ZITADEL" not in signed_in.text
    assert '<a class="btn btn-ghost" href="/admin">Admin page</a>' in signed_in.text


async def test_the_profile_shows_the_user_and_when_the_session_ends(browser: Browser) -> None:
    session_id = await browser.sign_in()
    page = await browser.http.get("/profile")
    assert page.status_code == 200
    assert f'<code id="sub">{ADMIN_SUB}</code>' in page.text
    assert "<h1>Ada Admin</h1>" in page.text
    assert (
        '<span class="badge badge-role">admin</span> <span class="badge badge-role">user</span>'
        in page.text
    )
    assert (
        '<dd><time datetime="2096-10-02T08:06:40Z" data-local>2096-10-02 08:06 UTC</time> <span'
        in page.text
    )  # T0 + the idle timeout; local-time.js shows it in the viewer's time zone too
    token = browser.auth.keyring.csrf_token(session_id)
    assert f'<input type="hidden" name="csrf_token" value="{token}">' in page.text


async def test_the_profile_needs_a_session(browser: Browser) -> None:
    resp = await browser.http.get("/profile")
    assert (resp.status_code, resp.headers["location"]) == (303, "/auth/login?returnTo=%2Fprofile")


async def test_the_admin_page_is_for_the_admin_role(browser: Browser) -> None:
    await browser.sign_in()
    page = await browser.http.get("/admin")
    assert page.status_code == 200
    assert (
        '<tr><td data-label="Organisation id"><code>301234567890123000</code></td>'
        '<td data-label="Domain">acme.localhost</td></tr>'
    ) in page.text
    browser.http.cookies.clear()
    await browser.sign_in(new_session(T0, sub=ALICE_SUB, claims=alice_claims()))
    denied = await browser.http.get("/admin")
    assert (
        denied.status_code == 403
        and "<h1>You don&#39;t have access to this page</h1>" in denied.text
    )


async def test_the_admin_page_needs_a_recent_sign_in(browser: Browser) -> None:
    """ADMIN_MAX_AGE (900 s by default): an older sign-in goes through the provider again."""
    await browser.sign_in()  # signed in at T0
    browser.clock.advance(900)
    assert (await browser.http.get("/admin")).status_code == 200
    browser.clock.advance(1)
    resp = await browser.http.get("/admin")
    assert (resp.status_code, resp.headers["location"]) == (
        303,
        "/auth/login?returnTo=%2Fadmin&prompt=login&max_age=900",
    )
    assert (await browser.http.get("/profile")).status_code == 200  # still signed in


async def test_without_the_role_an_old_sign_in_is_not_asked_to_sign_in_again(
    browser: Browser,
) -> None:
    await browser.sign_in(new_session(T0 - 3600, sub=ALICE_SUB, claims=alice_claims()))
    assert (await browser.http.get("/admin")).status_code == 403


async def test_favicon_ico_points_at_the_current_icon(browser: Browser) -> None:
    version = hashlib.sha256((STATIC_DIR / "favicon.svg").read_bytes()).hexdigest()[:16]
    current = f"/auth/static/favicon.svg?v={version}"
    resp = await browser.http.get("/favicon.ico")
    assert (resp.status_code, resp.headers["location"]) == (302, current)
    assert resp.headers["cache-control"] == "no-store"  # a new icon is found at once
    page = await browser.http.get("/")
    assert f'<link rel="icon" href="{current}" type="image/svg+xml">' in page.text
    icon = await browser.http.get(current)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")

"""What a person does in a real Chromium: sign in, look around, sign out, come back later.

Every test runs in a fresh browser context; the ``context`` fixture then fails the test if any
page of the app logged a console error, hit a CSP violation, failed to load one of its own
assets, or lacked the page structure every page needs (lang, title, one h1, labels).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from devtools.provider import OPProcess
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import TIMEOUT_MS, Watch, sign_in, sign_in_at_provider, sign_out
from tests.support.server import ThreadedServer
from tests.support.times import MovableClock

pytestmark = pytest.mark.e2e

ADMIN_SUB = "301234567890123456"
ALICE_SUB = "301234567890123457"
# short_op: access tokens live 4 s and the app refreshes them after half of that.
REFRESH_DUE = 2.3


def asgi_app(server: ThreadedServer) -> Any:
    return server.server.config.app


def login_url(app_url: str) -> re.Pattern[str]:
    return re.compile(r"^" + re.escape(app_url) + r"/auth/login\?")


PROVIDER_LOGIN = re.compile(r"/ui/login/")


def test_sign_in_profile_sign_out(page: Page, app: ThreadedServer, watch: Watch) -> None:
    page.goto(app.url + "/")
    expect(page).to_have_title(re.compile("Welcome"))
    sign_in(page, app.url, "admin")

    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Ada Admin")
    expect(page.locator("#sub")).to_have_text(ADMIN_SUB)
    expect(main).to_contain_text("admin@acme.localhost")
    expect(main.locator(".roles .badge")).to_have_text(["admin", "user"])
    expect(main.locator(".org .badge")).to_have_text("ACME")
    expect(main.locator(".org")).to_contain_text("acme.localhost")
    expect(main.locator(".metadata")).to_have_text("department platform")
    expect(main.locator("table.claims")).to_contain_text("email_verified")
    main.get_by_text("Raw JSON").click()
    expect(main.locator("pre.json")).to_contain_text(f'"sub": "{ADMIN_SUB}"')

    sign_out(page, app.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("You have been signed out")

    # The profile was served with no-store: going back fetches it again, and it is gone: the
    # browser is sent to sign in (straight to the provider's login).
    page.go_back()
    expect(page).to_have_url(PROVIDER_LOGIN)
    expect(page.locator("body")).not_to_contain_text(ADMIN_SUB)
    page.goto(app.url + "/profile")
    expect(page).to_have_url(PROVIDER_LOGIN)
    expect(page.get_by_label("Login name")).to_be_visible()
    assert any(u.endswith("/auth/logout/success") for u in watch.pages)


def test_deep_link_comes_back_after_sign_in(page: Page, app: ThreadedServer) -> None:
    page.goto(app.url + "/profile?tab=x")  # one redirect, straight to the provider
    sign_in_at_provider(page, "alice")
    expect(page).to_have_url(app.url + "/profile?tab=x")
    expect(page.locator("#sub")).to_have_text(ALICE_SUB)


def test_two_tabs_sign_in_at_once(context: BrowserContext, app: ThreadedServer) -> None:
    tabs = [context.new_page(), context.new_page()]
    # Both sign-ins are under way (two login transactions) before either finishes.
    for tab in tabs:
        tab.goto(app.url + "/auth/login")
        tab.wait_for_url(PROVIDER_LOGIN)
    for tab in tabs:
        sign_in_at_provider(tab, "admin")
        tab.wait_for_url(app.url + "/profile")
    for tab in tabs:
        tab.reload()
        expect(tab.locator("#sub")).to_have_text(ADMIN_SUB)


def test_admin_page_and_forbidden(context: BrowserContext, app: ThreadedServer) -> None:
    admin = context.new_page()
    sign_in(admin, app.url, "admin")
    admin.get_by_role("navigation").get_by_role("link", name="Admin").click()
    expect(admin).to_have_url(app.url + "/admin")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Admin")
    context.clear_cookies()

    other = context.new_page()
    sign_in(other, app.url, "alice")
    expect(other.get_by_role("navigation").get_by_role("link", name="Admin")).to_have_count(0)
    response = other.goto(app.url + "/admin")
    assert response is not None and response.status == 403
    expect(other.get_by_role("heading", level=1)).to_have_text("You don't have access to this page")
    expect(other.get_by_role("main")).to_contain_text("role")


def test_refresh_keeps_the_user_signed_in_until_revoked(
    page: Page, start_app: Any, short_op: OPProcess
) -> None:
    server = start_app(issuer=short_op.issuer)
    sign_in(page, server.url, "alice")
    before = short_op.stats()["token_requests"]["refresh_token"]
    for _ in range(2):  # past the 4 s lifetime of the first access token
        time.sleep(REFRESH_DUE)
        page.goto(server.url + "/profile")
        expect(page).to_have_url(server.url + "/profile")
        expect(page.locator("#sub")).to_have_text(ALICE_SUB)
    assert short_op.stats()["token_requests"]["refresh_token"] - before == 2

    assert short_op.revoke_user(ALICE_SUB) >= 1
    time.sleep(REFRESH_DUE)
    page.goto(server.url + "/profile")
    expect(page).to_have_url(login_url(server.url))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your session was ended")
    expect(alert).to_contain_text("no longer accepts your session")


def test_idle_timeout_asks_to_sign_in_again(page: Page, app: ThreadedServer) -> None:
    sessions = asgi_app(app).state.zitadel_auth.sessions
    clock = sessions.clock = MovableClock()
    sign_in(page, app.url, "alice")
    page.goto(app.url + "/profile")
    expect(page.locator("#sub")).to_have_text(ALICE_SUB)
    # Idle for longer than the timeout, without waiting for it: the app's clock moves on.
    # (Sliding expiry is checked in tests/integration/test_sessions.py.)
    clock.set(clock() + sessions.idle_timeout)
    page.goto(app.url + "/profile")
    expect(page).to_have_url(app.url + "/auth/login?returnTo=%2Fprofile&error=session_expired")
    expect(page.get_by_role("alert")).to_contain_text("Your session has expired")
    # Told once; the cookie is gone. Signing in again goes straight to the provider, where this
    # browser is still signed in: back on the profile with no form to fill.
    page.goto(app.url + "/profile")
    expect(page).to_have_url(app.url + "/profile")
    expect(page.locator("#sub")).to_have_text(ALICE_SUB)


def test_markup_in_claims_is_shown_as_text(page: Page, app: ThreadedServer) -> None:
    """The provider's user "mallory" has markup in the claims the profile shows."""
    sign_in(page, app.url, "mallory")
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("<script>alert(1)</script>")
    expect(main.locator("table.claims")).to_contain_text('"><img src=x onerror=alert(1)>')
    expect(main.locator(".metadata")).to_have_text("note <b onmouseover=alert(1)>hi</b>")
    # none of it became elements (and the watch saw no CSP violation or failed image)
    # The page's only script is the module's own file; none came from the claims.
    expect(page.locator("script")).to_have_count(1)
    expect(page.locator("script[src^='/auth/static/local-time.js']")).to_have_count(1)
    expect(page.locator("svg, b, img[src='x']")).to_have_count(0)


def tab_to(page: Page, name: str, limit: int = 20) -> None:
    """Press Tab until the focused control is named ``name``; it must show a focus ring."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const el = document.activeElement;"
            " return [el.textContent.trim(), getComputedStyle(el).outlineStyle]; }"
        )
        if focused[0] == name:
            assert focused[1] != "none", f"{name!r} has no visible focus"
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_keyboard_only(page: Page, app: ThreadedServer) -> None:
    page.goto(app.url + "/")
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    page.wait_for_url(PROVIDER_LOGIN)
    expect(page.get_by_label("Login name")).to_be_focused()  # autofocus, once rendered
    page.keyboard.type("admin")
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/profile")
    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/auth/logout/success")


@pytest.mark.parametrize(
    ("path", "status", "heading"),
    [
        ("/nowhere", 404, "Page not found"),
        ("/auth/error?error=invalid_state", 400, "This sign-in attempt has expired"),
        ("/auth/logout/callback?state=forged", 400, "Sign-out could not be confirmed"),
    ],
)
def test_error_pages(page: Page, app: ThreadedServer, path: str, status: int, heading: str) -> None:
    response = page.goto(app.url + path)
    assert response is not None and response.status == status
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    home = page.get_by_role("main").get_by_role("link", name=re.compile("[Hh]ome"))
    expect(home).to_be_visible()


def test_the_watch_sees_a_csp_violation(
    browser: Browser, app: ThreadedServer, app_ports: list[int]
) -> None:
    """The page checks are live: an inline style on an app page is reported (and blocked)."""
    watch = Watch(app_ports)
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        watch.attach(ctx)
        page = ctx.new_page()
        page.goto(app.url + "/")
        assert watch.problems == []
        # The report arrives as a console message some time after the insertion: wait for it.
        # The watch's own listener was attached first, so it has seen the message by then.
        with ctx.expect_console_message(lambda m: "CSP violation: style-src" in m.text):
            page.evaluate("""() => {
                const style = document.createElement('style');
                style.textContent = 'body { display: none }';
                document.head.append(style);
            }""")
        expect(page.get_by_role("heading", level=1)).to_be_visible()  # the style was refused
    finally:
        ctx.close()
    assert [p for p in watch.problems if "CSP violation: style-src" in p], watch.problems

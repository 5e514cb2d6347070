"""The dependencies and guards in-process: deny by default, public, csrf_exempt, the session
and user dependencies, role guards and CSRF (origin, Sec-Fetch-Site, the token's binding)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, Depends, FastAPI

from tests.support.clients import BROWSER_HEADERS, JSON_HEADERS, SESSION_COOKIE
from tests.support.inprocess import (
    APP_URL,
    T0,
    Browser,
    FakeProvider,
    ManualClock,
    module_for,
    running,
)
from tests.support.sessions import ADMIN_SUB, ALICE_SUB, alice_claims, new_session
from zitadel_bff import CurrentUser, csrf_exempt, guard, public

SIGN_IN_FIRST = {"error": "not_authenticated", "message": "Please sign in"}
EXPIRED = {"error": "session_expired", "message": "Your session has expired"}
CSRF_FAILED = {"error": "csrf_failed", "message": "This form has expired"}
FORBIDDEN = {"error": "forbidden", "message": "You don't have access to this page"}
IDLE_TIMEOUT = 3600  # SESSION_DURATION's default


# Deny by default ----------------------------------------------------------------------------


async def test_routes_need_a_session_unless_public(browser: Browser) -> None:
    home = await browser.http.get("/", headers=JSON_HEADERS)
    assert (home.status_code, home.json()) == (200, {"hello": "world"})
    for path in ("/api/me", "/api/session", "/api/admin"):
        denied = await browser.http.get(path, headers=JSON_HEADERS)
        assert (denied.status_code, denied.json()) == (401, SIGN_IN_FIRST), path


async def test_browsers_are_sent_to_sign_in_and_back(browser: Browser) -> None:
    resp = await browser.http.get("/api/me?tab=x&y=1", headers=BROWSER_HEADERS)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth/login?returnTo=%2Fapi%2Fme%3Ftab%3Dx%26y%3D1"


async def test_a_signed_in_user_reaches_every_route_their_roles_allow(browser: Browser) -> None:
    await browser.sign_in()
    me = await browser.http.get("/api/me")
    assert (me.status_code, me.json()) == (200, {"sub": ADMIN_SUB, "roles": ["admin", "user"]})
    session = await browser.http.get("/api/session")
    assert session.json() == {"sid": "sid-1", "expires_at": T0 + IDLE_TIMEOUT}
    assert (await browser.http.get("/api/admin")).json() == {"ok": True}


# The user and session dependencies ----------------------------------------------------------


async def test_optional_user_and_session_are_none_when_signed_out(browser: Browser) -> None:
    assert (await browser.http.get("/api/maybe")).json() == {"sub": None}
    assert (await browser.http.get("/api/maybe-session")).json() == {"sid": None}
    await browser.sign_in()
    assert (await browser.http.get("/api/maybe")).json() == {"sub": ADMIN_SUB}
    assert (await browser.http.get("/api/maybe-session")).json() == {"sid": "sid-1"}


async def test_a_cookie_for_no_session_reads_as_signed_out_and_is_cleared(
    browser: Browser,
) -> None:
    browser.set_session_cookie("x" * 43)  # ended elsewhere, or never existed
    resp = await browser.http.get("/api/maybe")
    assert (resp.status_code, resp.json()) == (200, {"sub": None})
    assert resp.headers.get_list("set-cookie") == [
        "zbff_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    ]
    assert browser.cookie(SESSION_COOKIE) is None


async def test_a_stale_cookie_says_the_session_expired_once(browser: Browser) -> None:
    browser.set_session_cookie("x" * 43)
    resp = await browser.http.get("/api/me", headers=BROWSER_HEADERS)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/auth/login?returnTo=%2Fapi%2Fme&error=session_expired"
    assert browser.cookie(SESSION_COOKIE) is None
    again = await browser.http.get("/api/me", headers=BROWSER_HEADERS)
    assert again.headers["location"] == "/auth/login?returnTo=%2Fapi%2Fme"


async def test_an_idle_session_ends_with_the_expired_message(
    browser: Browser, clock: ManualClock
) -> None:
    await browser.sign_in()
    clock.advance(IDLE_TIMEOUT - 1)
    assert (await browser.http.get("/api/me")).status_code == 200  # used: the idle time restarts
    clock.advance(IDLE_TIMEOUT - 1)
    assert (await browser.http.get("/api/me")).status_code == 200
    clock.advance(IDLE_TIMEOUT)
    resp = await browser.http.get("/api/me", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()) == (401, EXPIRED)
    assert await browser.auth.sessions.count() == 0  # ended, not only refused


async def test_the_absolute_lifetime_ends_an_active_session(
    browser: Browser, clock: ManualClock
) -> None:
    await browser.sign_in(new_session(T0, token_lifetime=2 * 86400))  # no refresh comes due
    for _ in range(23):  # active every hour: the idle timeout never ends it
        clock.advance(IDLE_TIMEOUT - 60)
        assert (await browser.http.get("/api/me")).status_code == 200
    clock.now = T0 + 86400  # SESSION_MAX_LIFETIME's default after sign-in
    resp = await browser.http.get("/api/me", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()) == (401, EXPIRED)


# Role guards --------------------------------------------------------------------------------


async def test_a_role_guard_refuses_users_without_the_role(browser: Browser) -> None:
    await browser.sign_in(new_session(T0, sub=ALICE_SUB, claims=alice_claims()))
    api = await browser.http.get("/api/admin", headers=JSON_HEADERS)
    assert (api.status_code, api.json()) == (403, FORBIDDEN)
    page = await browser.http.get("/api/admin", headers=BROWSER_HEADERS)
    assert page.status_code == 403
    assert "<h1>You don&#39;t have access to this page</h1>" in page.text
    assert '<a class="btn" href="/profile">Your profile</a>' in page.text  # signed in


async def test_a_guard_for_several_roles_needs_every_one(browser: Browser) -> None:
    await browser.sign_in()  # admin and user, not auditor
    resp = await browser.http.get("/api/audit", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)


async def test_a_role_guard_signed_out_asks_to_sign_in(browser: Browser) -> None:
    resp = await browser.http.get("/api/admin", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()) == (401, SIGN_IN_FIRST)


# CSRF ---------------------------------------------------------------------------------------


async def test_unsafe_methods_need_the_token(browser: Browser) -> None:
    await browser.sign_in()
    for headers in ({}, {"x-csrf-token": ""}, {"x-csrf-token": "forged"}):
        resp = await browser.http.post("/api/echo", headers=headers)
        assert (resp.status_code, resp.json()) == (403, CSRF_FAILED), headers
    token = await browser.csrf_token()
    ok = await browser.http.post("/api/echo", headers={"x-csrf-token": token})
    assert (ok.status_code, ok.json()) == (200, {"sub": ADMIN_SUB})


async def test_the_token_may_come_as_a_form_field(browser: Browser) -> None:
    await browser.sign_in()
    token = await browser.csrf_token()
    form = await browser.http.post("/api/echo", data={"csrf_token": token})
    assert form.json() == {"sub": ADMIN_SUB}
    multipart = await browser.http.post(
        "/api/echo", data={"csrf_token": token}, files={"f": ("a.txt", b"x")}
    )
    assert multipart.json() == {"sub": ADMIN_SUB}
    as_json = await browser.http.post("/api/echo", json={"csrf_token": token})
    assert as_json.status_code == 403  # only forms and the header carry it


async def test_an_oversized_token_is_refused(browser: Browser) -> None:
    await browser.sign_in()
    resp = await browser.http.post("/api/echo", headers={"x-csrf-token": "a" * 129})
    assert (resp.status_code, resp.json()) == (403, CSRF_FAILED)


async def test_public_routes_need_the_token_too(browser: Browser) -> None:
    resp = await browser.http.post("/api/public-echo")
    assert (resp.status_code, resp.json()) == (403, CSRF_FAILED)
    token = await browser.csrf_token()  # bound to this browser's id (set just now)
    ok = await browser.http.post("/api/public-echo", headers={"x-csrf-token": token})
    assert ok.json() == {"ok": True}


async def test_csrf_exempt_routes_take_unsafe_methods_without_a_token(
    browser: Browser,
) -> None:
    resp = await browser.http.post(
        "/hooks/exempt", content=b"abc", headers={"origin": "https://elsewhere.example"}
    )
    assert (resp.status_code, resp.json()) == (200, {"bytes": 3})


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": APP_URL}, 200),
        ({"sec-fetch-site": "same-origin"}, 200),
        ({"sec-fetch-site": "none"}, 200),  # typed into the address bar, a bookmark
        ({"origin": APP_URL, "sec-fetch-site": "same-origin"}, 200),
        ({"origin": "https://evil.example"}, 403),
        ({"origin": "null"}, 403),
        ({"origin": "http://127.0.0.1:3001"}, 403),
        ({"sec-fetch-site": "cross-site"}, 403),
        ({"sec-fetch-site": "same-site"}, 403),
        ({"origin": APP_URL, "sec-fetch-site": "cross-site"}, 403),
    ],
)
async def test_a_valid_token_from_another_origin_is_refused(
    browser: Browser, headers: dict[str, str], status: int
) -> None:
    await browser.sign_in()
    token = await browser.csrf_token()
    resp = await browser.http.post("/api/echo", headers={"x-csrf-token": token, **headers})
    assert resp.status_code == status


async def test_a_token_from_before_sign_in_is_refused_after_it(browser: Browser) -> None:
    before = await browser.csrf_token()  # bound to the browser id
    pre = await browser.http.post("/api/public-echo", headers={"x-csrf-token": before})
    assert pre.json() == {"ok": True}
    await browser.sign_in()
    stale = await browser.http.post("/api/echo", headers={"x-csrf-token": before})
    assert (stale.status_code, stale.json()) == (403, CSRF_FAILED)
    after = await browser.csrf_token()  # now bound to the session
    assert after != before
    ok = await browser.http.post("/api/echo", headers={"x-csrf-token": after})
    assert ok.status_code == 200


async def test_a_token_of_an_ended_session_is_refused(browser: Browser) -> None:
    session_id = await browser.sign_in()
    token = await browser.csrf_token()
    await browser.auth.sessions.delete(session_id)  # e.g. signed out in another tab
    resp = await browser.http.post("/api/public-echo", headers={"x-csrf-token": token})
    assert (resp.status_code, resp.json()) == (403, CSRF_FAILED)


async def test_another_browsers_token_is_refused(browser: Browser) -> None:
    await browser.csrf_token()
    theirs = browser.auth.keyring.csrf_token("another-browser-id")
    resp = await browser.http.post("/api/public-echo", headers={"x-csrf-token": theirs})
    assert (resp.status_code, resp.json()) == (403, CSRF_FAILED)


# guard, for apps that protect their own routes (install(app, deny_by_default=False)) -------

GUARDED = APIRouter(dependencies=[Depends(guard)])


@GUARDED.get("/guarded/me")
async def guarded_me(user: CurrentUser) -> dict[str, str]:
    return {"sub": user.sub}


@GUARDED.post("/guarded/echo")
async def guarded_echo(user: CurrentUser) -> dict[str, str]:
    return {"sub": user.sub}


@GUARDED.post("/guarded/public")
@public
async def guarded_public() -> dict[str, bool]:
    return {"ok": True}


@GUARDED.post("/guarded/hook")
@public
@csrf_exempt
async def guarded_hook() -> dict[str, bool]:
    return {"ok": True}


async def unguarded_post() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
async def self_guarded(provider: FakeProvider, clock: ManualClock) -> AsyncIterator[Browser]:
    """A host that opts out of deny by default and puts ``guard`` on one router only."""
    app = FastAPI()
    module_for(provider).install(app, deny_by_default=False, error_pages=True)
    app.include_router(GUARDED)
    app.add_api_route("/open", unguarded_post, methods=["POST"])
    async with running(app, clock) as browser:
        yield browser


async def test_guard_denies_by_default_where_it_is_installed(self_guarded: Browser) -> None:
    browser = self_guarded
    denied = await browser.http.get("/guarded/me", headers=JSON_HEADERS)
    assert (denied.status_code, denied.json()) == (401, SIGN_IN_FIRST)
    # Routes without it are the host's to protect: no session, no token asked for.
    assert (await browser.http.post("/open")).json() == {"ok": True}
    await browser.sign_in()
    assert (await browser.http.get("/guarded/me")).json() == {"sub": ADMIN_SUB}


async def test_guard_checks_csrf_on_unsafe_methods(self_guarded: Browser) -> None:
    browser = self_guarded
    await browser.sign_in()
    for path in ("/guarded/echo", "/guarded/public"):
        refused = await browser.http.post(path)
        assert (refused.status_code, refused.json()) == (403, CSRF_FAILED), path
    token = await browser.csrf_token()
    foreign = await browser.http.post(
        "/guarded/echo", headers={"x-csrf-token": token, "origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    by_header = await browser.http.post("/guarded/echo", headers={"x-csrf-token": token})
    assert by_header.json() == {"sub": ADMIN_SUB}
    by_form = await browser.http.post("/guarded/public", data={"csrf_token": token})
    assert by_form.json() == {"ok": True}
    assert (await browser.http.post("/guarded/hook")).json() == {"ok": True}  # csrf_exempt


async def test_guard_signed_out_forms_need_the_browsers_token(self_guarded: Browser) -> None:
    browser = self_guarded
    token = await browser.csrf_token()  # bound to the browser id
    ok = await browser.http.post("/guarded/public", headers={"x-csrf-token": token})
    assert ok.json() == {"ok": True}
    signed_out = await browser.http.post("/guarded/echo", headers={"x-csrf-token": token})
    assert (signed_out.status_code, signed_out.json()) == (401, SIGN_IN_FIRST)

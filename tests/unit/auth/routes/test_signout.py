"""Signing out, in-process: the local session ends at once, the refresh token is revoked, and
the browser goes to the provider's end_session and back (RP-Initiated Logout 1.0)."""

from __future__ import annotations

from urllib.parse import urlencode

from devtools.provider import CLIENT_ID

from tests.support.clients import BROWSER_HEADERS, SESSION_COOKIE
from tests.support.inprocess import (
    APP_URL,
    ISSUER,
    T0,
    Browser,
    FakeProvider,
    ManualClock,
    form_of,
    host_app,
    module_for,
    query_of,
    running,
)
from tests.support.sessions import new_session

LOGOUT_COOKIE = "zbff_logout"


async def sign_out(browser: Browser) -> str:
    """POST /auth/logout with the browser's CSRF token; where it was sent."""
    token = await browser.csrf_token()
    resp = await browser.http.post("/auth/logout", data={"csrf_token": token})
    assert resp.status_code == 303
    location: str = resp.headers["location"]
    return location


async def test_logout_ends_the_session_revokes_and_goes_to_end_session(
    browser: Browser, provider: FakeProvider
) -> None:
    session_id = await browser.sign_in()
    location = await sign_out(browser)
    assert location.startswith(f"{ISSUER}/oidc/v1/end_session?")
    params = query_of(location)
    state = params.pop("state")
    assert params == {
        "id_token_hint": "id-1",
        "client_id": CLIENT_ID,
        "post_logout_redirect_uri": f"{APP_URL}/auth/logout/callback",
    }
    assert len(state) == 43  # 32 random bytes
    [revoke] = provider.calls("/oauth/v2/revoke")
    assert form_of(revoke) == {"token": "rt-1", "token_type_hint": "refresh_token"}
    assert revoke.headers["authorization"].startswith("Basic ")
    assert await browser.auth.sessions.load(session_id) is None
    assert browser.cookie(SESSION_COOKIE) is None
    assert browser.cookie(LOGOUT_COOKIE) == state


async def test_the_provider_comes_back_with_the_state(browser: Browser) -> None:
    await browser.sign_in()
    state = query_of(await sign_out(browser))["state"]
    back = await browser.http.get("/auth/logout/callback?" + urlencode({"state": state}))
    assert (back.status_code, back.headers["location"]) == (303, "/auth/logout/success")
    assert browser.cookie(LOGOUT_COOKIE) is None  # one use only
    again = await browser.http.get("/auth/logout/callback?" + urlencode({"state": state}))
    assert again.headers["location"] == "/auth/logout/error"
    page = await browser.http.get("/auth/logout/success", headers=BROWSER_HEADERS)
    assert page.status_code == 200 and "<h1>You have been signed out</h1>" in page.text


async def test_a_wrong_or_missing_state_is_the_error_page(browser: Browser) -> None:
    await browser.sign_in()
    await sign_out(browser)
    for query in ("", "?state=forged", "?state="):
        resp = await browser.http.get("/auth/logout/callback" + query)
        assert resp.headers["location"] == "/auth/logout/error", query
    page = await browser.http.get("/auth/logout/error", headers=BROWSER_HEADERS)
    assert page.status_code == 400 and "could not be confirmed" in page.text


async def test_a_session_without_refresh_token_is_not_revoked(
    browser: Browser, provider: FakeProvider
) -> None:
    await browser.sign_in(new_session(T0, refresh_token=None))
    assert query_of(await sign_out(browser))["id_token_hint"] == "id-1"
    assert provider.calls("/oauth/v2/revoke") == []


async def test_signed_out_logout_says_already_signed_out(
    browser: Browser, provider: FakeProvider
) -> None:
    assert await sign_out(browser) == "/auth/logout/success?already=1"
    assert provider.calls("/oauth/v2/revoke") == []
    # A stale tab's form (its token no longer matches anything): no "form expired" either.
    stale = await browser.http.post("/auth/logout", data={"csrf_token": "x" * 43})
    assert stale.status_code == 303
    assert stale.headers["location"] == "/auth/logout/success?already=1"
    page = await browser.http.get("/auth/logout/success?already=1")
    assert "You are already signed out" in page.text


async def test_a_signed_in_logout_still_needs_the_csrf_token(browser: Browser) -> None:
    await browser.sign_in()
    forged = await browser.http.post("/auth/logout", data={"csrf_token": "x" * 43})
    assert forged.status_code == 403
    foreign = await browser.http.post(
        "/auth/logout", headers={"origin": "https://evil.example"}, data={}
    )
    assert foreign.status_code == 403
    assert (await browser.http.get("/auth/session")).json()["authenticated"] is True


async def test_typing_the_logout_address_shows_a_sign_out_button(browser: Browser) -> None:
    signed_out = await browser.http.get("/auth/logout")
    assert signed_out.headers["location"] == "/auth/logout/success?already=1"
    await browser.sign_in()
    page = await browser.http.get("/auth/logout")
    assert page.status_code == 200
    assert '<form method="post" action="/auth/logout">' in page.text


async def test_a_provider_without_end_session_ends_the_local_session_only(
    clock: ManualClock,
) -> None:
    provider = FakeProvider()
    del provider.discovery["end_session_endpoint"]
    async with running(host_app(module_for(provider)), clock) as browser:
        session_id = await browser.sign_in()
        assert await sign_out(browser) == "/auth/logout/success"
        assert len(provider.calls("/oauth/v2/revoke")) == 1
        assert await browser.auth.sessions.load(session_id) is None
        assert browser.cookie(LOGOUT_COOKIE) is None


async def test_a_provider_that_cannot_be_reached_still_lets_the_user_sign_out(
    clock: ManualClock,
) -> None:
    provider = FakeProvider(down=True)  # down since the app started: no discovery at all
    async with running(host_app(module_for(provider)), clock) as browser:
        session_id = await browser.sign_in()
        assert await sign_out(browser) == "/auth/logout/success"
        assert await browser.auth.sessions.load(session_id) is None


async def test_logout_needs_the_csrf_token(browser: Browser) -> None:
    session_id = await browser.sign_in()
    resp = await browser.http.post("/auth/logout", data={"csrf_token": "forged"})
    assert resp.status_code == 403
    assert await browser.auth.sessions.load(session_id) is not None

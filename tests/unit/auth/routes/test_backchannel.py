"""OIDC Back-Channel Logout 1.0 in-process: logout tokens signed with the test key, which the
scripted provider's JWKS publishes (tests/integration/test_logout.py uses the real provider)."""

from __future__ import annotations

import time
from typing import Any

from devtools.provider import CLIENT_ID

from tests.support.inprocess import ISSUER, T0, Browser
from tests.support.sessions import ADMIN_SUB, ALICE_SUB, alice_claims, new_session
from tests.support.tokens import sign
from zitadel_bff.oidc.tokens import BACKCHANNEL_EVENT

REFUSED = {"error": "invalid_logout_token", "message": "Invalid logout token"}


def logout_token(**claims: Any) -> str:
    now = int(time.time())  # the validator checks iat and exp against the wall clock
    base = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": "jti-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return sign({k: v for k, v in {**base, **claims}.items() if v is not None}, typ="logout+jwt")


async def post(browser: Browser, token: str) -> tuple[int, Any]:
    resp = await browser.http.post("/auth/backchannel-logout", data={"logout_token": token})
    return resp.status_code, (resp.json() if resp.content else None)


async def test_a_logout_token_with_sid_ends_that_provider_session_only(browser: Browser) -> None:
    first = await browser.sign_in(new_session(T0, sid="sid-a"))
    second = await browser.sign_in(new_session(T0, sid="sid-b"))
    assert await post(browser, logout_token(sub=ADMIN_SUB, sid="sid-a")) == (200, None)
    assert await browser.auth.sessions.load(first) is None
    assert await browser.auth.sessions.load(second) is not None


async def test_a_logout_token_without_sid_ends_every_session_of_the_user(
    browser: Browser,
) -> None:
    admins = [await browser.sign_in(new_session(T0, sid=f"sid-{i}")) for i in range(2)]
    alice = await browser.sign_in(new_session(T0, sub=ALICE_SUB, claims=alice_claims()))
    assert await post(browser, logout_token(sub=ADMIN_SUB)) == (200, None)
    assert [await browser.auth.sessions.load(s) is None for s in [*admins, alice]] == [
        True,
        True,
        False,
    ]


async def test_a_replayed_logout_token_is_refused(browser: Browser) -> None:
    token = logout_token(sub=ADMIN_SUB, jti="once")
    assert await post(browser, token) == (200, None)
    assert await post(browser, token) == (400, REFUSED)


async def test_requests_without_a_valid_token_are_refused(browser: Browser) -> None:
    session_id = await browser.sign_in()
    for token in ("", "a.b.c", logout_token(sub=ADMIN_SUB, iss="https://evil.example")):
        assert await post(browser, token) == (400, REFUSED), token
    nothing = await browser.http.post("/auth/backchannel-logout")
    assert (nothing.status_code, nothing.json()) == (400, REFUSED)
    assert await browser.auth.sessions.load(session_id) is not None


async def test_no_csrf_token_or_browser_cookie_is_needed(browser: Browser) -> None:
    resp = await browser.http.post(
        "/auth/backchannel-logout",
        data={"logout_token": logout_token(sub=ADMIN_SUB)},
        headers={"origin": ISSUER},  # a server-to-server call from the provider
    )
    assert (resp.status_code, resp.headers["cache-control"]) == (200, "no-store")

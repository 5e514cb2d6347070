"""For single-page apps, in-process: /auth/session, and /auth/userinfo with its one refresh
when the provider refuses the access token."""

from __future__ import annotations

import httpx
import pytest

from tests.support.clients import JSON_HEADERS, SESSION_COOKIE
from tests.support.inprocess import T0, Browser, FakeProvider, ManualClock
from tests.support.sessions import ADMIN_SUB, ORG_ID, claims_for, new_session

IDLE_TIMEOUT = 3600
REFRESH_FAILED = {"error": "refresh_failed", "message": "Your session was ended"}
JSON_TYPE = {"content-type": "application/json"}


async def test_session_signed_out_gives_a_token_for_this_browser(browser: Browser) -> None:
    resp = await browser.http.get("/auth/session")
    browser_id = browser.cookie("zbff_browser")
    assert browser_id is not None
    assert resp.json() == {
        "authenticated": False,
        "csrf_token": browser.auth.keyring.csrf_token(browser_id),
    }
    assert resp.headers["cache-control"] == "no-store"


async def test_session_signed_in_says_who_until_when(browser: Browser) -> None:
    session_id = await browser.sign_in()
    resp = await browser.http.get("/auth/session")
    assert resp.json() == {
        "authenticated": True,
        "user": {
            "sub": ADMIN_SUB,
            "name": "Ada Admin",
            "email": "admin@acme.localhost",
            "roles": ["admin", "user"],
            "organisation": {"id": ORG_ID, "name": "ACME", "primary_domain": "acme.localhost"},
        },
        "expires_at": int(T0 + IDLE_TIMEOUT),
        "csrf_token": browser.auth.keyring.csrf_token(session_id),
    }
    assert browser.cookie("zbff_browser") is None  # the session binds the token: no browser id


async def test_userinfo_is_the_providers_for_the_sessions_access_token(
    browser: Browser, provider: FakeProvider
) -> None:
    await browser.sign_in()
    provider.userinfo["at-1"] = claims_for(locale="en")
    resp = await browser.http.get("/auth/userinfo")
    assert (resp.status_code, resp.json()) == (200, claims_for(locale="en"))
    [call] = provider.calls("/oidc/v1/userinfo")
    assert call.headers["authorization"] == "Bearer at-1"


async def test_userinfo_signed_out_is_401(browser: Browser) -> None:
    resp = await browser.http.get("/auth/userinfo", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()["error"]) == (401, "not_authenticated")


async def test_a_refused_access_token_is_refreshed_once(
    browser: Browser, provider: FakeProvider
) -> None:
    session_id = await browser.sign_in()  # the provider no longer takes "at-1"
    provider.refreshes.append({"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300})
    provider.userinfo["at-2"] = claims_for()
    resp = await browser.http.get("/auth/userinfo")
    assert (resp.status_code, resp.json()["sub"]) == (200, ADMIN_SUB)
    assert [c.headers["authorization"] for c in provider.calls("/oidc/v1/userinfo")] == [
        "Bearer at-1",
        "Bearer at-2",
    ]
    data = await browser.auth.sessions.load(session_id)
    assert data is not None and (data.access_token, data.refresh_token) == ("at-2", "rt-2")


async def test_a_refused_refresh_ends_the_session(browser: Browser, provider: FakeProvider) -> None:
    session_id = await browser.sign_in()  # "at-1" refused, and no refresh will be granted
    resp = await browser.http.get("/auth/userinfo")
    assert (resp.status_code, resp.json()) == (401, REFRESH_FAILED)
    assert browser.cookie(SESSION_COOKIE) is None
    assert await browser.auth.sessions.load(session_id) is None


async def test_a_refreshed_token_refused_too_ends_the_session(
    browser: Browser, provider: FakeProvider
) -> None:
    session_id = await browser.sign_in()
    provider.refreshes.append({"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300})
    resp = await browser.http.get("/auth/userinfo")  # neither "at-1" nor "at-2" is taken
    assert (resp.status_code, resp.json()) == (401, REFRESH_FAILED)
    assert len(provider.calls("/oidc/v1/userinfo")) == 2
    assert browser.cookie(SESSION_COOKIE) is None
    assert await browser.auth.sessions.load(session_id) is None


async def test_an_expired_token_the_provider_cannot_refresh_is_a_503(
    browser: Browser, provider: FakeProvider, clock: ManualClock
) -> None:
    await browser.sign_in(new_session(T0, token_lifetime=300))
    clock.advance(301)
    provider.down = True  # the refresh fails for provider reasons: the session stays
    resp = await browser.http.get("/auth/userinfo")
    assert (resp.status_code, resp.json()["error"]) == (503, "provider_unavailable")
    session = await browser.http.get("/auth/session")
    assert session.json()["authenticated"] is True


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, text="OK"),
        httpx.Response(200, content=b'{"access_token": "at-2",', headers=JSON_TYPE),
        httpx.Response(200, json=[{"access_token": "at-2"}]),
        httpx.Response(200, json={"access_token": "at-2", "expires_in": "soon"}),
    ],
    ids=["html", "plain-text", "invalid-json", "array", "unreadable-expiry"],
)
async def test_an_expired_token_refreshed_with_an_unusable_answer_is_kept(
    browser: Browser, provider: FakeProvider, clock: ManualClock, answer: httpx.Response
) -> None:
    # An unusable answer is the provider's failure, as an outage is: the session stays, is
    # served as it is (a page, /auth/session), and userinfo says the provider is unavailable.
    session_id = await browser.sign_in(new_session(T0, token_lifetime=300))
    clock.advance(301)
    provider.refreshes.append(answer)
    resp = await browser.http.get("/auth/userinfo", headers=JSON_HEADERS)
    assert (resp.status_code, resp.json()["error"]) == (503, "provider_unavailable")
    assert (await browser.http.get("/api/me")).json()["sub"] == ADMIN_SUB
    session = await browser.http.get("/auth/session")
    assert session.json()["authenticated"] is True
    assert len(provider.calls("/oauth/v2/token")) == 1  # then backing off, as after an outage
    data = await browser.auth.sessions.load(session_id)
    assert data is not None and (data.access_token, data.refresh_token) == ("at-1", "rt-1")

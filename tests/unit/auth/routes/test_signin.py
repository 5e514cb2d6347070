"""Signing in, in-process: the sign-in page, the start of the flow and the callback, against a
scripted provider (tests/integration/test_login.py runs the same against the real one)."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from devtools.provider import CLIENT_ID

from tests.support.clients import BROWSER_HEADERS, JSON_HEADERS, SESSION_COOKIE
from tests.support.hostile import HOSTILE, LONG
from tests.support.inprocess import (
    APP_URL,
    ISSUER,
    Browser,
    FakeProvider,
    ManualClock,
    query_of,
)
from tests.support.sessions import ADMIN_SUB, claims_for
from tests.support.tokens import at_hash, sign
from zitadel_bff import DEFAULT_SCOPES

CSRF_FIELD = 'name="csrf_token" value="'
SIGNIN_LOGGER = "zitadel_bff.auth.routes.signin"
JSON_TYPE = {"content-type": "application/json"}


def page_token(html: str) -> str:
    return html.split(CSRF_FIELD, 1)[1].split('"', 1)[0]


async def start(browser: Browser, **form: str) -> dict[str, str]:
    """POST /auth/signin as the sign-in form does; the authorize request's parameters."""
    token = await browser.csrf_token()
    resp = await browser.http.post("/auth/signin", data={"csrf_token": token, **form})
    assert resp.status_code == 303
    location = resp.headers["location"]
    assert location.startswith(f"{ISSUER}/oauth/v2/authorize?")
    return query_of(location)


def code_for(provider: FakeProvider, nonce: str, code: str = "code-1", sub: str = ADMIN_SUB) -> str:
    """Let the provider answer the exchange of ``code`` with tokens for this sign-in."""
    now = int(time.time())  # the validator checks exp and iat against the wall clock
    id_token = sign(
        {
            "iss": ISSUER,
            "sub": sub,
            "aud": CLIENT_ID,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "sid": "sid-9",
            "at_hash": at_hash("at-9"),
        }
    )
    provider.codes[code] = {
        "access_token": "at-9",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": id_token,
        "refresh_token": "rt-9",
    }
    return code


# The sign-in page ---------------------------------------------------------------------------


async def test_login_goes_straight_to_the_provider_bound_to_this_browser(
    browser: Browser,
) -> None:
    resp = await browser.http.get("/auth/login?returnTo=/api/me", headers=BROWSER_HEADERS)
    assert resp.status_code == 303
    location = resp.headers["location"]
    assert location.startswith(ISSUER + "/oauth/v2/authorize?")
    params = parse_qs(urlsplit(location).query)
    assert params["code_challenge_method"] == ["S256"] and len(params["state"][0]) >= 43
    assert browser.cookie("zbff_browser") is not None  # the flow is bound to this browser


async def test_the_sign_in_page_posts_to_signin_with_a_token_for_this_browser(
    browser: Browser,
) -> None:
    page = await browser.http.get(
        "/auth/login?error=session_expired&returnTo=/api/me%3Fx%3D1", headers=BROWSER_HEADERS
    )
    assert page.status_code == 200
    assert '<form method="post" action="/auth/signin">' in page.text
    assert '<input type="hidden" name="returnTo" value="/api/me?x=1">' in page.text
    browser_id = browser.cookie("zbff_browser")
    assert browser_id is not None
    assert page_token(page.text) == browser.auth.keyring.csrf_token(browser_id)
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil", "x" * 3000]
)
async def test_the_sign_in_page_drops_a_return_to_that_leaves_the_site(
    browser: Browser, target: str
) -> None:
    page = await browser.http.get(
        "/auth/login?" + urlencode({"returnTo": target, "error": "session_expired"})
    )
    assert '<input type="hidden" name="returnTo" value="/profile">' in page.text


async def test_a_signed_in_browser_goes_straight_on(browser: Browser) -> None:
    await browser.sign_in()
    resp = await browser.http.get("/auth/login?returnTo=/api/me")
    assert (resp.status_code, resp.headers["location"]) == (303, "/api/me")
    default = await browser.http.get("/auth/login?returnTo=//evil.example")
    assert default.headers["location"] == "/profile"


async def test_with_a_message_the_page_shows_even_when_signed_in(browser: Browser) -> None:
    await browser.sign_in()
    page = await browser.http.get("/auth/login?error=session_expired")
    assert page.status_code == 200
    assert "<strong>Your session has expired</strong>" in page.text
    unknown = await browser.http.get("/auth/login?error=nonsense")
    assert unknown.status_code == 200 and 'role="alert"' not in unknown.text


# Starting the flow --------------------------------------------------------------------------


async def test_signin_sends_the_browser_to_authorize_with_pkce_state_and_nonce(
    browser: Browser,
) -> None:
    params = await start(browser, returnTo="/api/me")
    assert set(params) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "nonce",
    }
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == f"{APP_URL}/auth/callback"
    assert params["scope"] == DEFAULT_SCOPES
    assert params["code_challenge_method"] == "S256"
    tx = await browser.auth.sessions.take_transaction(params["state"])
    assert tx is not None
    digest = hashlib.sha256(tx["verifier"].encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert (tx["nonce"], tx["return_to"]) == (params["nonce"], "/api/me")
    browser_id = browser.cookie("zbff_browser")
    assert browser_id is not None
    assert tx["browser"] == browser.auth.keyring.lookup_key("browser", browser_id)


async def test_signin_passes_a_login_hint_and_drops_a_foreign_return_to(browser: Browser) -> None:
    params = await start(browser, returnTo="https://evil.example", login_hint="alice")
    assert params["login_hint"] == "alice"
    tx = await browser.auth.sessions.take_transaction(params["state"])
    assert tx is not None and tx["return_to"] == "/profile"


async def test_signin_with_the_provider_down_is_a_503(
    browser: Browser, provider: FakeProvider
) -> None:
    browser.auth.oidc._metadata = None  # as after a restart while the provider is down
    provider.down = True
    token = await browser.csrf_token()
    api = await browser.http.post("/auth/signin", data={"csrf_token": token}, headers=JSON_HEADERS)
    assert (api.status_code, api.json()) == (
        503,
        {"error": "provider_unavailable", "message": "The identity provider is unreachable"},
    )
    page = await browser.http.post(
        "/auth/signin", data={"csrf_token": token}, headers=BROWSER_HEADERS
    )
    assert page.status_code == 503 and "<h1>The identity provider is unreachable</h1>" in page.text


# The callback -------------------------------------------------------------------------------


async def test_the_callback_creates_a_new_session_and_returns(
    browser: Browser, provider: FakeProvider, clock: ManualClock
) -> None:
    clock.now = time.time()  # token expiries come from the wall clock, as in production
    old = await browser.sign_in()
    params = await start(browser, returnTo="/api/me")
    provider.userinfo["at-9"] = claims_for()
    code = code_for(provider, params["nonce"])
    resp = await browser.http.get(
        f"/auth/callback?code={code}&state={params['state']}&iss={ISSUER}"
    )
    assert (resp.status_code, resp.headers["location"]) == (303, "/api/me")
    new = browser.cookie(SESSION_COOKIE)
    assert new is not None and new != old  # a new id at every sign-in (no fixation)
    assert await browser.auth.sessions.load(old) is None
    data = await browser.auth.sessions.load(new)
    assert data is not None
    assert (data.sub, data.oidc_sid, data.access_token, data.refresh_token) == (
        ADMIN_SUB,
        "sid-9",
        "at-9",
        "rt-9",
    )
    assert data.claims["name"] == "Ada Admin"  # from userinfo
    assert (await browser.http.get("/api/me")).json()["sub"] == ADMIN_SUB


async def test_a_refused_userinfo_ends_the_sign_in_with_an_error(
    browser: Browser, provider: FakeProvider
) -> None:
    params = await start(browser)
    code = code_for(provider, params["nonce"])  # userinfo knows no "at-9": 401
    resp = await browser.http.get(f"/auth/callback?code={code}&state={params['state']}")
    assert resp.headers["location"] == "/auth/error?error=userinfo_failed"
    assert browser.cookie(SESSION_COOKIE) is None


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"}),
        httpx.Response(200, content=b'{"access_token": "at-9",', headers=JSON_TYPE),
        httpx.Response(200, json=[{"access_token": "at-9"}]),
    ],
    ids=["html", "invalid-json", "array"],
)
async def test_a_token_answer_that_is_no_json_object_is_a_clear_error(
    browser: Browser,
    provider: FakeProvider,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response,
) -> None:
    caplog.set_level(logging.WARNING, logger=SIGNIN_LOGGER)
    params = await start(browser)
    provider.codes["code-1"] = answer
    resp = await browser.http.get(f"/auth/callback?code=code-1&state={params['state']}")
    assert (resp.status_code, resp.headers["location"]) == (
        303,
        "/auth/error?error=provider_misconfigured",
    )
    assert browser.cookie(SESSION_COOKIE) is None  # no session, not even half of one
    [logged] = [r.getMessage() for r in caplog.records if r.name == SIGNIN_LOGGER]
    assert logged.startswith(
        f"sign-in failed: provider_misconfigured (POST {ISSUER}/oauth/v2/token did not return "
    )
    page = await browser.http.get(resp.headers["location"], headers=BROWSER_HEADERS)
    assert page.status_code == 503 and "<h1>Sign-in is misconfigured</h1>" in page.text


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("", "invalid_request"),
        ("code=c", "invalid_request"),
        ("code=c&state=unknown", "invalid_state"),
        ("error=server_error", "login_failed"),
        ("code=c&state=" + "s" * 3000, "invalid_request"),
    ],
)
async def test_malformed_callbacks_go_to_the_error_page(
    browser: Browser, query: str, error: str
) -> None:
    resp = await browser.http.get(f"/auth/callback?{query}")
    assert (resp.status_code, resp.headers["location"]) == (303, f"/auth/error?error={error}")


async def test_a_cancelled_sign_in_spends_its_state(
    browser: Browser, provider: FakeProvider
) -> None:
    params = await start(browser)
    resp = await browser.http.get(f"/auth/callback?error=access_denied&state={params['state']}")
    assert resp.headers["location"] == "/auth/error?error=access_denied"
    code = code_for(provider, params["nonce"])
    again = await browser.http.get(f"/auth/callback?code={code}&state={params['state']}")
    assert again.headers["location"] == "/auth/error?error=invalid_state"


async def test_a_callback_naming_another_issuer_is_refused(
    browser: Browser, provider: FakeProvider
) -> None:
    params = await start(browser)
    code = code_for(provider, params["nonce"])
    query = urlencode({"code": code, "state": params["state"], "iss": "https://evil.example"})
    resp = await browser.http.get(f"/auth/callback?{query}")
    assert resp.headers["location"] == "/auth/error?error=invalid_request"
    assert provider.calls("/oauth/v2/token") == []  # refused before the code was used


async def test_a_callback_in_another_browser_is_refused(
    browser: Browser, provider: FakeProvider
) -> None:
    params = await start(browser)
    browser.http.cookies.clear()  # the link opened elsewhere: no browser id, or another one
    resp = await browser.http.get(f"/auth/callback?code=c&state={params['state']}")
    assert resp.headers["location"] == "/auth/error?error=invalid_state"


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        ("invalid_state", 400, "This sign-in attempt has expired"),
        ("provider_unavailable", 503, "The identity provider is unreachable"),
        ("nonsense", 400, "Sign-in failed"),
        ("x" * 100, 400, "Sign-in failed"),
    ],
)
async def test_the_error_page_explains_the_code(
    browser: Browser, error: str, status: int, title: str
) -> None:
    page = await browser.http.get(f"/auth/error?error={error}", headers=BROWSER_HEADERS)
    assert page.status_code == status
    assert f"<h1>{title}</h1>" in page.text


async def test_the_pages_repeat_nothing_a_hostile_callback_sent(browser: Browser) -> None:
    """``?error=`` and ``error_description`` reach no page: the error page names only one of its
    own codes (the log line: tests/unit/observability/test_untrusted.py)."""
    params = await start(browser)
    query = urlencode(
        {"error": HOSTILE + "<b>", "error_description": HOSTILE + LONG, "state": params["state"]}
    )
    resp = await browser.http.get(f"/auth/callback?{query}")
    assert resp.headers["location"] == "/auth/error?error=login_failed"
    page = await browser.http.get(resp.headers["location"], headers=BROWSER_HEADERS)
    login = await browser.http.get(
        "/auth/login?" + urlencode({"error": HOSTILE[:60] + "<b>"}), headers=BROWSER_HEADERS
    )
    assert (page.status_code, login.status_code) == (400, 200)
    for shown in (page.text, login.text):
        assert "invalid_grant" not in shown and "<b>" not in shown
        assert "\x1b" not in shown and "2030-01-01" not in shown
    assert "Error code: <code>login_failed</code>" in page.text

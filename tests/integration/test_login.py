"""Sign-in over real HTTP against the ZITADEL-shaped provider and a real SQLite file."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import httpx
import pytest
from devtools.flows import FlowResult, follow, form_token, login, query_of
from devtools.provider import CLIENT_ID, OPProcess

from tests.support.clients import browser_client, session_cookie
from tests.support.faults import PageAtToken, Unreachable, provider_transport
from tests.support.server import AppFactory, ThreadedServer

ADMIN_SUB = "301234567890123456"
SIGNIN_LOGGER = "zitadel_bff.auth.routes.signin"


def start_login(client: httpx.Client, app: ThreadedServer, return_to: str | None = None) -> str:
    """POST /auth/signin and return the authorize URL it redirects to."""
    data = {"csrf_token": form_token(client, app.url)}
    if return_to is not None:
        data["returnTo"] = return_to
    resp = client.post(f"{app.url}/auth/signin", data=data)
    assert resp.status_code == 303
    return resp.headers["location"]


def callback_url(client: httpx.Client, app: ThreadedServer, username: str = "admin") -> str:
    """Run the provider part of a login and return the callback URL, without calling it."""
    authorize = start_login(client, app)
    result = FlowResult(client.get(authorize))
    follow(client, result.response, result, stop_at=f"{app.url}/auth/callback", username=username)
    location = result.hops[-1].location
    assert location and location.startswith(f"{app.url}/auth/callback"), result.hops
    return location


def test_full_login_reaches_profile_with_claims(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    landing = client.get(app.url + "/")
    assert landing.status_code == 200 and "Sign in" in landing.text

    result = login(client, app.url)

    final = result.hops[-2]  # the callback's redirect
    assert final.url.startswith(f"{app.url}/auth/callback")
    assert final.status == 303 and final.location == "/profile"
    profile = client.get(app.url + "/profile")
    assert profile.status_code == 200
    assert ADMIN_SUB in profile.text
    assert "Ada Admin" in profile.text
    assert "admin@acme.localhost" in profile.text
    assert "ACME" in profile.text
    assert profile.headers["cache-control"] == "no-store"


def test_session_cookie_is_opaque_httponly_lax(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    url = callback_url(client, app)
    resp = client.get(url)
    set_cookie = [v for k, v in resp.headers.multi_items() if k == "set-cookie"]
    session = next(v for v in set_cookie if v.startswith("zbff_session="))
    value = session.split(";", 1)[0].split("=", 1)[1]
    assert len(value) >= 43  # 32 random bytes, url-safe
    assert "HttpOnly" in session and "SameSite=Lax" in session and "Path=/" in session
    assert "Secure" not in session  # the public URL is http
    assert ADMIN_SUB not in session


def test_authorize_request_uses_pkce_state_nonce_and_scopes(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    authorize = start_login(client, app)
    assert authorize.startswith(op.issuer + "/oauth/v2/authorize?")
    params = query_of(authorize)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == f"{app.url}/auth/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43  # >= 256 bits
    assert params["scope"].split() == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "urn:zitadel:iam:user:metadata",
        "urn:zitadel:iam:user:resourceowner",
        "urn:zitadel:iam:org:projects:roles",
    ]
    again = query_of(start_login(client, app))
    assert again["state"] != params["state"] and again["nonce"] != params["nonce"]
    assert again["code_challenge"] != params["code_challenge"]


def test_return_to_is_kept_for_local_paths(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    result = login(client, app.url, return_to="/profile?tab=x")
    callback = next(h for h in result.hops if h.url.startswith(f"{app.url}/auth/callback"))
    assert callback.location == "/profile?tab=x"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
        "/ok\r\nSet-Cookie:x=1",
    ],
)
def test_open_redirects_are_refused(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, target: str
) -> None:
    result = login(client, app.url, return_to=target)
    callback = next(h for h in result.hops if h.url.startswith(f"{app.url}/auth/callback"))
    assert callback.location == "/profile"


def test_login_page_sanitises_return_to(app: ThreadedServer, client: httpx.Client) -> None:
    query = urlencode({"returnTo": "//evil.example", "error": "session_expired"})
    page = client.get(f"{app.url}/auth/login?{query}")
    assert 'name="returnTo" value="/profile"' in page.text


def test_callback_replay_is_refused(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    url = callback_url(client, app)
    first = client.get(url)
    assert first.status_code == 303 and first.headers["location"] == "/profile"
    # Revisited by the browser it signed in (back button): it is signed in, so it goes on.
    second = client.get(url)
    assert second.status_code == 303 and second.headers["location"] == "/profile"
    # Replayed by any other browser: refused.
    with browser_client() as other:
        third = other.get(url)
    assert third.status_code == 303
    assert third.headers["location"] == "/auth/error?error=invalid_state"


def test_forged_state_is_refused(app: ThreadedServer, client: httpx.Client, op: OPProcess) -> None:
    url = callback_url(client, app)
    forged = url.replace("state=", "state=x")
    resp = client.get(forged)
    assert resp.headers["location"] == "/auth/error?error=invalid_state"
    page = client.get(app.url + "/auth/error?error=invalid_state")
    assert page.status_code == 400 and "expired" in page.text


def test_callback_from_another_browser_is_refused(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    url = callback_url(client, app)
    with browser_client() as other:
        resp = other.get(url)
        assert resp.headers["location"] == "/auth/error?error=invalid_state"
        assert other.get(app.url + "/profile").status_code == 303


def test_code_used_twice_is_refused(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    first = callback_url(client, app)
    assert client.get(first).headers["location"] == "/profile"
    second = callback_url(client, app)
    reused = f"{app.url}/auth/callback?" + urlencode(
        {"code": query_of(first)["code"], "state": query_of(second)["state"]}
    )
    resp = client.get(reused)
    assert resp.headers["location"] == "/auth/error?error=token_exchange_failed"


def test_provider_error_access_denied(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    state = query_of(start_login(client, app))["state"]
    resp = client.get(f"{app.url}/auth/callback?error=access_denied&state={state}")
    assert resp.headers["location"] == "/auth/error?error=access_denied"
    page = client.get(app.url + resp.headers["location"])
    assert page.status_code == 400 and "cancelled" in page.text
    # the attempt is spent: the same state cannot be completed afterwards
    again = client.get(f"{app.url}/auth/callback?code=abc&state={state}")
    assert again.headers["location"] == "/auth/error?error=invalid_state"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "invalid_request"),
        ("code=abc", "invalid_request"),
        ("state=abc", "invalid_request"),
        ("code=abc&state=" + "x" * 5000, "invalid_request"),
        ("code=abc&state=unknown", "invalid_state"),
        ("error=server_error", "login_failed"),
        ("code=%ff%fe&state=%00", "invalid_state"),
    ],
)
def test_malformed_callbacks_get_an_error_page(
    app: ThreadedServer, client: httpx.Client, query: str, code: str
) -> None:
    resp = client.get(f"{app.url}/auth/callback?{query}")
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/auth/error?error={code}"


def test_issuer_parameter_mismatch_is_refused(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    url = callback_url(client, app).replace(
        "iss=" + httpx.URL(op.issuer).__str__().replace(":", "%3A").replace("/", "%2F"),
        "iss=https%3A%2F%2Fevil.example",
    )
    assert "evil.example" in url
    assert client.get(url).headers["location"] == "/auth/error?error=invalid_request"


def test_signin_needs_csrf_token(app: ThreadedServer, client: httpx.Client, op: OPProcess) -> None:
    client.get(f"{app.url}/auth/login")
    resp = client.post(f"{app.url}/auth/signin", data={"returnTo": "/profile"})
    assert resp.status_code == 403 and "expired" in resp.text
    resp = client.post(f"{app.url}/auth/signin", data={"csrf_token": "x" * 43})
    assert resp.status_code == 403


def test_signin_refuses_foreign_origin(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    token = form_token(client, app.url)
    resp = client.post(
        f"{app.url}/auth/signin",
        data={"csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert resp.status_code == 403
    resp = client.post(
        f"{app.url}/auth/signin",
        data={"csrf_token": token},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert resp.status_code == 403
    ok = client.post(
        f"{app.url}/auth/signin", data={"csrf_token": token}, headers={"origin": app.url}
    )
    assert ok.status_code == 303


def test_two_logins_in_parallel_tabs_both_complete(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    first = callback_url(client, app)
    second = callback_url(client, app)
    assert client.get(first).headers["location"] == "/profile"
    assert client.get(second).headers["location"] == "/profile"
    assert client.get(app.url + "/profile").status_code == 200


def test_each_login_gets_a_new_session_id(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    login(client, app.url)
    first = session_cookie(client)
    login(client, app.url, prompt="login")
    second = session_cookie(client)
    assert first != second
    with browser_client() as other:
        other.cookies.set("zbff_session", first)
        assert other.get(app.url + "/profile").status_code == 303


def test_keys_rotated_at_the_provider_are_fetched(app: ThreadedServer, op: OPProcess) -> None:
    with browser_client() as before:
        login(before, app.url)
    op.rotate_keys()
    try:
        with browser_client() as after:
            result = login(after, app.url)
            assert result.response.status_code == 200
            assert after.get(app.url + "/profile").status_code == 200
    finally:
        op.rotate_keys(back=True)


def test_provider_unreachable_at_signin_is_a_503_page(
    start_app: AppFactory, client: httpx.Client
) -> None:
    from devtools.provider import free_port

    app = start_app(issuer=f"http://127.0.0.1:{free_port()}", zitadel_timeout=2)
    token = form_token(client, app.url)
    resp = client.post(f"{app.url}/auth/signin", data={"csrf_token": token})
    assert resp.status_code == 503
    assert "unreachable" in resp.text
    ready = client.get(f"{app.url}/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    api = client.post(
        f"{app.url}/auth/signin", data={"csrf_token": token}, headers={"accept": "application/json"}
    )
    assert api.status_code == 503 and api.json()["error"] == "provider_unavailable"


def test_discovery_issuer_mismatch_is_refused(
    start_app: AppFactory, client: httpx.Client, op: OPProcess
) -> None:
    app = start_app(issuer=op.issuer.replace("127.0.0.1", "localhost"))
    token = form_token(client, app.url)
    resp = client.post(f"{app.url}/auth/signin", data={"csrf_token": token})
    assert resp.status_code == 503 and "misconfigured" in resp.text


def test_public_client_uses_pkce_without_secret(start_app: AppFactory, op: OPProcess) -> None:
    from devtools.provider import OPProcess, free_port

    port = free_port()
    public_op = OPProcess(port=free_port(), app_ports=[port], env={"OP_CLIENT_SECRET": ""}).start()
    try:
        app = start_app(issuer=public_op.issuer, port=port, zitadel_client_secret="")
        with browser_client() as browser:
            login(browser, app.url)
            assert browser.get(app.url + "/profile").status_code == 200
    finally:
        public_op.stop()


def test_provider_down_at_callback_is_a_clear_error(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    url = callback_url(client, app)
    with provider_transport(app, lambda real: Unreachable()):
        resp = client.get(url)
    assert resp.headers["location"] == "/auth/error?error=provider_unavailable"
    page = client.get(app.url + resp.headers["location"])
    assert page.status_code == 503 and "unreachable" in page.text
    assert client.get(app.url + "/profile").status_code == 303  # no half-made session


class BadGatewayAtToken(httpx.AsyncBaseTransport):
    def __init__(self, real: httpx.AsyncBaseTransport) -> None:
        self.real = real

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(502, text="<html>bad gateway</html>")
        return await self.real.handle_async_request(request)


def test_token_endpoint_server_error_is_a_clear_error(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, caplog: pytest.LogCaptureFixture
) -> None:
    url = callback_url(client, app)
    caplog.set_level(logging.WARNING, logger=SIGNIN_LOGGER)
    with provider_transport(app, BadGatewayAtToken):
        resp = client.get(url)
    assert resp.headers["location"] == "/auth/error?error=provider_unavailable"
    assert [r.getMessage() for r in caplog.records if r.name == SIGNIN_LOGGER] == [
        f"sign-in failed: provider_unavailable (POST {op.issuer}/oauth/v2/token answered 502)"
    ]


def test_token_endpoint_answering_a_page_is_a_clear_error(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, caplog: pytest.LogCaptureFixture
) -> None:
    url = callback_url(client, app)
    caplog.set_level(logging.WARNING, logger=SIGNIN_LOGGER)
    with provider_transport(app, PageAtToken):
        resp = client.get(url)
    assert (resp.status_code, resp.headers["location"]) == (
        303,
        "/auth/error?error=provider_misconfigured",
    )
    assert client.cookies.get("zbff_session") is None
    assert [r.getMessage() for r in caplog.records if r.name == SIGNIN_LOGGER] == [
        f"sign-in failed: provider_misconfigured (POST {op.issuer}/oauth/v2/token did not "
        "return JSON (but text/html))"
    ]
    page = client.get(app.url + resp.headers["location"])
    assert page.status_code == 503 and "Sign-in is misconfigured" in page.text
    assert client.get(app.url + "/profile").status_code == 303  # no half-made session

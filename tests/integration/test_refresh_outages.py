"""Refresh and userinfo when the provider fails or refuses, against the real test provider.

The app's session clock is moved forward instead of sleeping: the provider's tokens stay
valid in real time while the app believes a refresh (or the token's expiry) has come.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OP_DIR, OPProcess
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.clients import browser_client, session_cookie
from tests.support.faults import PageAtToken, burst, provider_transport
from tests.support.records import stored_session
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import TEST_SECRET
from zitadel_bff.sessions.manager import BACKOFF_FIRST

ADMIN_SUB = "301234567890123456"
JSON = {"accept": "application/json"}
MANAGER_LOGGER = "zitadel_bff.sessions.manager"


class CountingUnreachable(httpx.AsyncBaseTransport):
    """The provider is down; counts the calls that tried to reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        raise httpx.ConnectError("provider down", request=request)


class SignedUserinfo(httpx.AsyncBaseTransport):
    """Passes calls through, but answers userinfo as a signed JWT (OIDC Core 5.3.2)."""

    def __init__(self, real: httpx.AsyncBaseTransport) -> None:
        self.real = real
        keys = json.loads((OP_DIR / "keys" / "jwks.json").read_text())
        self.key = KeySet.import_key_set(keys).keys[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.real.handle_async_request(request)
        if request.url.path != "/oidc/v1/userinfo" or resp.status_code != 200:
            return resp
        await resp.aread()
        claims = json.loads(resp.content)
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return httpx.Response(200, headers={"content-type": "application/jwt"}, text=token)


@contextmanager
def app_clock_ahead(server: ThreadedServer, seconds: float) -> Iterator[None]:
    """Inside the block the app's session clock stands still, ``seconds`` ahead of real time.

    Standing still, so that what the test checks within the block (e.g. a back-off that lasts
    one second) cannot run out while a loaded machine is slow between two requests.
    """
    sessions = server.app.state.zitadel_auth.sessions
    at = time.time() + seconds
    sessions.clock = lambda: at
    try:
        yield
    finally:
        sessions.clock = time.time


def stats_refreshes(op: OPProcess) -> int:
    return int(op.stats()["token_requests"].get("refresh_token", 0))


def test_provider_down_at_refresh_one_attempt_for_a_burst_then_back_off(
    start_app: AppFactory, short_op: OPProcess
) -> None:
    app = start_app(issuer=short_op.issuer)
    with browser_client() as client:
        login(client, app.url)
        cookie = session_cookie(client)
    short_op.reset_stats()
    down = CountingUnreachable()
    with app_clock_ahead(app, 2.5), provider_transport(app, lambda real: down):
        assert burst([app.url + "/auth/session"] * 6, cookie) == [200] * 6
        assert down.calls == ["/oauth/v2/token"]  # six requests, one attempt
        assert burst([app.url + "/auth/session"] * 3, cookie) == [200] * 3
        assert down.calls == ["/oauth/v2/token"]  # backing off: no new attempt
    with app_clock_ahead(app, 2.5 + BACKOFF_FIRST * 1.5):
        assert burst([app.url + "/auth/session"], cookie) == [200]
    assert stats_refreshes(short_op) == 1  # after the back-off, the provider is asked again


def test_userinfo_is_unavailable_not_unauthenticated_when_the_token_expired(
    start_app: AppFactory, short_op: OPProcess
) -> None:
    app = start_app(issuer=short_op.issuer)
    with browser_client() as client:
        login(client, app.url)
        with app_clock_ahead(app, 5), provider_transport(app, lambda real: CountingUnreachable()):
            resp = client.get(app.url + "/auth/userinfo", headers=JSON)
            assert resp.status_code == 503
            assert resp.json()["error"] == "provider_unavailable"
            session = client.get(app.url + "/auth/session", headers=JSON).json()
            assert session["authenticated"] is True


def test_a_page_instead_of_a_refresh_keeps_the_session_as_an_outage_does(
    start_app: AppFactory, short_op: OPProcess, caplog: pytest.LogCaptureFixture
) -> None:
    app = start_app(issuer=short_op.issuer)
    caplog.set_level(logging.WARNING, logger=MANAGER_LOGGER)
    with browser_client() as client:
        login(client, app.url)
        with app_clock_ahead(app, 5), provider_transport(app, PageAtToken):
            resp = client.get(app.url + "/auth/userinfo", headers=JSON)
            assert (resp.status_code, resp.json()["error"]) == (503, "provider_unavailable")
            assert client.get(app.url + "/profile").status_code == 200
            session = client.get(app.url + "/auth/session", headers=JSON).json()
            assert session["authenticated"] is True
    # One attempt, then backing off as after an outage (each attempt logs its failure).
    assert [r.getMessage() for r in caplog.records if r.name == MANAGER_LOGGER] == [
        f"refresh failed (POST {short_op.issuer}/oauth/v2/token did not return JSON "
        "(but text/html)); keeping the session (failure 1)"
    ]


def test_userinfo_with_a_revoked_access_token_refreshes_once(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    login(client, app.url)
    cookie = session_cookie(client)
    db = tmp_path / f"sessions-{app.port}.db"
    before = stored_session(db, TEST_SECRET, cookie)
    assert before.refresh_token is not None
    assert op.revoke_access_token(before.access_token) == 1
    assert not op.token_active(before.access_token) and op.token_active(before.refresh_token)
    op.reset_stats()
    resp = client.get(app.url + "/auth/userinfo", headers=JSON)
    assert resp.status_code == 200 and resp.json()["sub"] == ADMIN_SUB
    assert stats_refreshes(op) == 1
    after = stored_session(db, TEST_SECRET, cookie)
    assert after.access_token != before.access_token
    assert client.get(app.url + "/auth/userinfo", headers=JSON).status_code == 200
    assert stats_refreshes(op) == 1


def test_userinfo_with_all_tokens_revoked_ends_the_session_with_a_message(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    login(client, app.url)
    assert op.revoke_user(ADMIN_SUB) >= 1  # e.g. revoked in the ZITADEL console
    resp = client.get(app.url + "/auth/userinfo", headers=JSON)
    assert resp.status_code == 401
    assert resp.json()["error"] == "refresh_failed"
    assert client.cookies.get("zbff_session") is None
    # Not stuck: signing in starts a new flow instead of bouncing back to the failing page.
    flow = client.get(app.url + "/auth/login?returnTo=/profile")
    assert flow.status_code == 303 and flow.headers["location"].startswith(op.issuer)
    assert client.get(app.url + "/auth/session", headers=JSON).json()["authenticated"] is False


def test_signed_userinfo_is_served_by_the_userinfo_route(
    app: ThreadedServer, client: httpx.Client, op: OPProcess
) -> None:
    with provider_transport(app, SignedUserinfo):
        login(client, app.url)
        resp = client.get(app.url + "/auth/userinfo", headers=JSON)
    assert resp.status_code == 200
    body = resp.json()
    assert body["sub"] == ADMIN_SUB and body["name"] == "Ada Admin"

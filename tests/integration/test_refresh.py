"""Token refresh against a provider whose access tokens live 4 s (refresh due after 2 s)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OPProcess

from tests.support.clients import browser_client, session_cookie
from tests.support.faults import burst
from tests.support.records import stored_session
from tests.support.server import AppFactory, ThreadedServer
from tests.support.settings import TEST_SECRET

ADMIN_SUB = "301234567890123456"
# The app refreshes a 4 s token halfway through its life, so at most 2 s after it received it:
# sleeping DUE once login() (or a request that refreshed) has returned always crosses that point.
# These sleeps wait for real tokens to come due; nothing may have to happen *before* a deadline.
DUE = 2.2
# The lifetime of the tokens a refresh brings where a test then makes many requests: they are
# not due again during the test, however slowly a loaded machine serves those requests.
LONG = 43200


def test_no_refresh_while_the_access_token_is_fresh(
    app: ThreadedServer, client: httpx.Client, op: OPProcess, tmp_path: Path
) -> None:
    login(client, app.url)
    db = tmp_path / f"sessions-{app.port}.db"
    record = stored_session(db, TEST_SECRET, session_cookie(client))
    # the provider's 12 h tokens are refreshed 60 s before they expire (DESIGN.md: skew 60 s)
    assert record.access_expires_at is not None
    assert record.refresh_at == pytest.approx(record.access_expires_at - 60, abs=1e-3)
    op.reset_stats()
    for _ in range(3):
        assert client.get(app.url + "/profile").status_code == 200
    assert op.stats()["token_requests"]["refresh_token"] == 0


def test_refresh_happens_before_expiry_and_rotates(
    start_app: AppFactory, short_op: OPProcess, tmp_path: Path
) -> None:
    app = start_app(issuer=short_op.issuer)
    db = tmp_path / f"sessions-{app.port}.db"
    with browser_client() as client:
        signing_in = time.time()
        login(client, app.url)
        signed_in = time.time()
        cookie = session_cookie(client)
        before = stored_session(db, TEST_SECRET, cookie)
        assert before.access_expires_at is not None and before.refresh_token is not None
        assert before.refresh_at is not None and before.refresh_at < before.access_expires_at
        # A token shorter than twice the skew is refreshed halfway through its life: the
        # schedule puts the start of that life (refresh_at - (expiry - refresh_at)) during the
        # sign-in (or a refresh a slow sign-in needed), not before it or after it.
        issued = 2 * before.refresh_at - before.access_expires_at
        assert signing_in <= issued <= signed_in
        short_op.reset_stats()
        time.sleep(DUE)
        assert client.get(app.url + "/profile").status_code == 200
        assert short_op.stats()["token_requests"]["refresh_token"] == 1
        after = stored_session(db, TEST_SECRET, cookie)
        assert after.refresh_token is not None and after.refresh_token != before.refresh_token
        assert after.access_token != before.access_token
        assert after.id_token != before.id_token
        assert not short_op.token_active(before.refresh_token)
        assert short_op.token_active(after.refresh_token)
        assert client.cookies.get("zbff_session") == cookie  # same session, new tokens
        time.sleep(DUE)
        assert client.get(app.url + "/profile").status_code == 200
        assert short_op.stats()["token_requests"]["refresh_token"] == 2


def test_concurrent_requests_at_expiry_refresh_once(
    start_app: AppFactory, short_op: OPProcess
) -> None:
    app = start_app(issuer=short_op.issuer)
    with browser_client() as client:
        login(client, app.url)
        cookie = session_cookie(client)
    with short_op.access_token_ttl(LONG):
        short_op.reset_stats()
        time.sleep(DUE)
        statuses = burst([app.url + "/auth/userinfo"] * 12, cookie)
        refreshes = short_op.stats()["token_requests"]["refresh_token"]
    assert statuses == [200] * 12
    # Reusing a rotated refresh token revokes the grant at this provider, so a second refresh
    # would have ended the session: one refresh and every request served proves single flight.
    assert refreshes == 1


def test_revoked_grant_signs_the_user_out(start_app: AppFactory, short_op: OPProcess) -> None:
    app = start_app(issuer=short_op.issuer)
    with browser_client() as client:
        login(client, app.url)
        assert client.get(app.url + "/profile").status_code == 200
        short_op.revoke_user(ADMIN_SUB)
        time.sleep(DUE)
        resp = client.get(app.url + "/profile")
        assert resp.status_code == 303
        assert resp.headers["location"] == "/auth/login?returnTo=%2Fprofile&error=refresh_failed"
        page = client.get(app.url + resp.headers["location"])
        assert "Your session was ended" in page.text
        again = client.get(app.url + "/profile")
        assert again.status_code == 303 and "error" not in again.headers["location"]


def test_two_app_instances_on_redis_refresh_once(
    start_app: AppFactory, short_op: OPProcess
) -> None:
    """Several instances behind a load balancer share sessions in Redis and refresh once."""
    from tests.support.redis import RedisServer, redis_required

    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    redis = RedisServer().start()
    try:
        first = start_app(issuer=short_op.issuer, session_store=redis.url)
        second = start_app(issuer=short_op.issuer, session_store=redis.url)
        with browser_client() as client:
            login(client, first.url)
            cookie = session_cookie(client)
        with browser_client() as other:
            other.cookies.set("zbff_session", cookie)
            assert other.get(second.url + "/profile").status_code == 200
        with short_op.access_token_ttl(LONG):
            short_op.reset_stats()
            time.sleep(DUE)
            urls = [app.url + "/auth/userinfo" for _ in range(6) for app in (first, second)]
            assert burst(urls, cookie) == [200] * 12
            assert short_op.stats()["token_requests"]["refresh_token"] == 1
    finally:
        redis.stop()

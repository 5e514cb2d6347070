"""The app on Redis beyond one server, with real processes: a Sentinel failover, a three-master
Cluster, and readiness that follows Redis going away and coming back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from devtools.flows import login
from devtools.provider import OPProcess

from tests.support.backchannel import post_logout_token, session_alive, signed_in
from tests.support.clients import browser_client, session_cookie
from tests.support.faults import burst
from tests.support.records import read_session_in
from tests.support.redis import RedisServer, redis_required
from tests.support.redis_ha import Cluster, SentinelSet
from tests.support.server import AppFactory
from tests.support.settings import TEST_SECRET
from zitadel_bff.sessions import SessionData, store_from_url

ADMIN_SUB = "301234567890123456"
FAILOVER_DEADLINE = 30.0
READY_DEADLINE = 10.0
DUE = 2.2
LONG = 43200


def read_record(url: str, cookie: str) -> SessionData | None:
    """The session record behind ``cookie``, read from Redis as the app reads it."""
    return read_session_in(store_from_url(url), TEST_SECRET, cookie)


def first_status(check: Callable[[], int], wanted: int, deadline: float) -> float:
    """Poll ``check()`` until it returns ``wanted``; how many seconds that took."""
    start = time.monotonic()
    while check() != wanted:
        assert time.monotonic() - start < deadline, f"no {wanted} within {deadline} s"
        time.sleep(0.1)
    return time.monotonic() - start


def test_after_a_sentinel_failover_users_stay_signed_in_and_new_ones_sign_in(
    start_app: AppFactory, redis_sentinel: SentinelSet
) -> None:
    app = start_app(session_store=redis_sentinel.url)
    with browser_client() as client:
        login(client, app.url)
        assert client.get(app.url + "/profile").status_code == 200
        redis_sentinel.fail_over()
        try:
            # The pooled connections point at the dead master; the client asks the sentinels
            # for the new one. Meanwhile requests may answer 503, never sign anybody out.
            first_status(lambda: client.get(app.url + "/profile").status_code, 200,
                         FAILOVER_DEADLINE)
            profile = client.get(app.url + "/profile")
            assert profile.status_code == 200 and ADMIN_SUB in profile.text
            with browser_client() as newcomer:
                login(newcomer, app.url, username="alice")
                assert newcomer.get(app.url + "/profile").status_code == 200
        finally:
            redis_sentinel.rejoin()


def test_a_cluster_keeps_sessions_and_ends_them_by_sid_and_by_sub(
    start_app: AppFactory, redis_cluster: Cluster, client: httpx.Client, op: OPProcess
) -> None:
    app = start_app(session_store=redis_cluster.url)
    first, second = signed_in(app), signed_in(app)
    with browser_client() as browser:
        login(browser, app.url, username="alice")
        alice = session_cookie(browser)
    assert all(session_alive(app, c) for c in (first, second, alice))
    # The records, their tag sets and the index are spread over the masters.
    assert sum(1 for keys in redis_cluster.keys_per_node() if keys) >= 2
    record = read_record(redis_cluster.url, first)
    assert record is not None and record.oidc_sid
    token = op.logout_token(sub=ADMIN_SUB, sid=record.oidc_sid)
    assert post_logout_token(client, app, token).status_code == 200
    assert [session_alive(app, c) for c in (first, second, alice)] == [False, True, True]
    assert post_logout_token(client, app, op.logout_token(sub=ADMIN_SUB)).status_code == 200
    assert [session_alive(app, c) for c in (second, alice)] == [False, True]


def test_two_instances_on_a_cluster_refresh_once(
    start_app: AppFactory, redis_cluster: Cluster, short_op: OPProcess
) -> None:
    first = start_app(issuer=short_op.issuer, session_store=redis_cluster.url)
    second = start_app(issuer=short_op.issuer, session_store=redis_cluster.url)
    with browser_client() as client:
        login(client, first.url)
        cookie = session_cookie(client)
    with short_op.access_token_ttl(LONG):
        short_op.reset_stats()
        time.sleep(DUE)  # the session's tokens come due (real tokens, real time)
        urls = [app.url + "/auth/userinfo" for _ in range(6) for app in (first, second)]
        assert burst(urls, cookie) == [200] * 12
        assert short_op.stats()["token_requests"]["refresh_token"] == 1


def test_readiness_follows_redis_away_and_back(
    start_app: AppFactory, own_redis_server: RedisServer
) -> None:
    app = start_app(session_store=own_redis_server.url)

    def ready() -> int:
        return httpx.get(app.url + "/readyz", timeout=10).status_code

    body = httpx.get(app.url + "/readyz").json()
    assert body["status"] == "ok"
    assert body["checks"]["store"]["status"] == "ok"
    assert body["checks"]["store"]["latency_ms"] >= 0
    assert body["checks"]["provider"]["status"] == "ok"
    own_redis_server.kill()
    assert first_status(ready, 503, READY_DEADLINE) < 5.0
    down = httpx.get(app.url + "/readyz").json()
    assert down["checks"]["store"]["status"] == "unavailable"
    assert down["checks"]["store"]["error"] == "store_unavailable"
    assert down["checks"]["provider"]["status"] == "ok"
    own_redis_server.start()
    assert first_status(ready, 200, READY_DEADLINE) < 5.0


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    if not RedisServer.available():
        if redis_required():
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    yield server
    server.stop()

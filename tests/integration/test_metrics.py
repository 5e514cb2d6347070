"""METRICS_PORT: Prometheus text on its own port, scraped around real sign-ins, sign-outs,
failures and back-channel logouts; nothing at all without it."""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator

import httpx
import pytest
from devtools.flows import login, logout
from devtools.provider import OPProcess, free_port

from tests.support.backchannel import post_logout_token
from tests.support.server import AppFactory, ThreadedServer
from tests.support.upstream import Echo
from zitadel_bff import __version__
from zitadel_bff.observability import NO_METRICS

ADMIN_SUB = "301234567890123456"


def scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


@pytest.fixture
def quiet_port(port_pool: queue.Queue[int], app_ports: list[int]) -> Iterator[int]:
    """An app port the provider sends no back-channel logouts to: every one is the test's."""
    port = port_pool.get_nowait()
    if port == app_ports[0]:
        other = port_pool.get_nowait()
        port_pool.put(port)
        port = other
    yield port
    port_pool.put(port)


def test_a_scrape_shows_what_happened(
    start_app: AppFactory, client: httpx.Client, op: OPProcess, quiet_port: int
) -> None:
    port = free_port()
    app = start_app(metrics_port=port, port=quiet_port)
    before = scrape(port)
    assert before["zitadel_bff_sign_ins_total"] == 0.0
    build = [name for name in before if name.startswith("zitadel_bff_build_info{")]
    assert len(build) == 1 and f'version="{__version__}"' in build[0]
    assert before[build[0]] == 1.0

    login(client, app.url)
    logout(client, app.url)
    failed = client.get(app.url + "/auth/callback", params={"state": "x", "code": "y"})
    assert failed.headers["location"] == "/auth/error?error=invalid_state"
    assert post_logout_token(client, app, op.logout_token(sub=ADMIN_SUB)).status_code == 200
    assert post_logout_token(client, app, "not-a-token").status_code == 400
    after = scrape(port)

    assert after["zitadel_bff_sign_ins_total"] == 1.0
    assert after['zitadel_bff_sign_in_failures_total{code="invalid_state"}'] == 1.0
    assert after["zitadel_bff_sign_outs_total"] == 1.0
    assert after['zitadel_bff_backchannel_logouts_total{outcome="accepted"}'] == 1.0
    assert after['zitadel_bff_backchannel_logouts_total{outcome="rejected"}'] == 1.0
    assert after['zitadel_bff_refreshes_total{outcome="success"}'] == 0.0
    for endpoint in ("token", "userinfo", "revocation"):
        count = f'zitadel_bff_provider_request_duration_seconds_count{{endpoint="{endpoint}"}}'
        assert after[count] >= 1.0, endpoint
    for operation in ("set", "pop", "get_and_touch", "delete", "add", "delete_tagged"):
        count = f'zitadel_bff_store_operation_duration_seconds_count{{operation="{operation}"}}'
        assert after[count] > before.get(count, 0.0), operation
    assert all(re.fullmatch(r"zitadel_bff_\w+(\{.*\})?", name) for name in after
               if name.startswith("zitadel_bff"))


def test_proxied_requests_are_counted_by_route_and_status(
    start_app: AppFactory, client: httpx.Client, echo: Echo
) -> None:
    port = free_port()
    app = start_app(metrics_port=port, api_routes=f"/api/orders={echo.url}/v1")
    json_accept = {"accept": "application/json"}
    assert client.get(app.url + "/api/orders/1", headers=json_accept).status_code == 401
    login(client, app.url)
    for _ in range(2):
        assert client.get(app.url + "/api/orders/1", headers=json_accept).status_code == 200
    after = scrape(port)
    assert after['zitadel_bff_proxy_requests_total{route="/api/orders",status="200"}'] == 2.0
    assert after['zitadel_bff_proxy_requests_total{route="/api/orders",status="401"}'] == 1.0


def test_without_metrics_port_nothing_is_recorded_or_served(app: ThreadedServer) -> None:
    auth = app.app.state.zitadel_auth
    assert auth.metrics is NO_METRICS
    assert type(auth.sessions.store).__name__ == "SQLiteStore"  # no timing wrapper


@pytest.fixture
def stopped_app_port(start_app: AppFactory) -> int:
    port = free_port()
    app = start_app(metrics_port=port)
    assert scrape(port)
    app.stop()
    return port


def test_the_metrics_port_closes_with_the_app(stopped_app_port: int) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{stopped_app_port}/metrics", timeout=2)

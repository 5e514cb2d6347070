"""SIGTERM: the requests in flight finish, new connections are refused, the process exits
within SHUTDOWN_TIMEOUT (plus the lifespan's own shutdown)."""

from __future__ import annotations

import queue
import signal
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx
from devtools.flows import login
from devtools.provider import OPProcess

from tests.support.clients import browser_client
from tests.support.serve import Served, serve_env

SLOW_TOKEN_MS = 1500
DEADLINE = 10.0


def in_flight_callback(
    app: Served, op: OPProcess, client: httpx.Client
) -> tuple[threading.Thread, list[httpx.Response]]:
    """Start a sign-in and send its callback, which waits on the slow token endpoint; return
    once the provider has the app's token request."""
    started = login(client, app.url, stop_at=app.url + "/auth/callback")
    callback = urljoin(app.url, started.response.headers["location"])
    before = op.stats()["token_requests"]["authorization_code"]
    result: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: result.append(client.get(callback)))
    thread.start()
    deadline = time.monotonic() + DEADLINE
    while op.stats()["token_requests"]["authorization_code"] == before:
        assert time.monotonic() < deadline, "the callback never reached the provider"
        time.sleep(0.02)
    return thread, result


def refused(url: str) -> bool:
    try:
        httpx.get(url + "/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False
    return False


def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(
    op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> None:
    port = port_pool.get_nowait()
    env = serve_env(op.issuer, port, f"sqlite:///{tmp_path}/s.db", SHUTDOWN_TIMEOUT="10")
    try:
        app = Served(env, tmp_path).start()
        with browser_client() as client, op.token_delay(SLOW_TOKEN_MS):
            thread, result = in_flight_callback(app, op, client)
            app.terminate()
            stopped = time.monotonic()
            deadline = stopped + DEADLINE
            while not refused(app.url):  # the listening socket closes first
                assert time.monotonic() < deadline, "new connections are still accepted"
                time.sleep(0.02)
            thread.join(DEADLINE)
            # uvicorn shuts down, then ends itself with the signal it got, so that supervisors
            # see why it stopped
            assert app.wait(DEADLINE) == -signal.SIGTERM
            elapsed = time.monotonic() - stopped
        assert [r.status_code for r in result] == [303]
        assert result[0].headers["location"] == "/profile"  # signed in, though it stopped
        assert elapsed < DEADLINE
        assert "Application shutdown complete." in app.output()
    finally:
        app.stop()
        port_pool.put(port)


def test_a_request_longer_than_the_bound_does_not_hold_the_exit(
    op: OPProcess, port_pool: queue.Queue[int], tmp_path: Path
) -> None:
    port = port_pool.get_nowait()
    env = serve_env(op.issuer, port, f"sqlite:///{tmp_path}/s.db", SHUTDOWN_TIMEOUT="1")
    try:
        app = Served(env, tmp_path).start()
        with browser_client() as client, op.token_delay(8000):
            thread, _ = in_flight_callback(app, op, client)
            app.terminate()
            stopped = time.monotonic()
            app.wait(DEADLINE)
            elapsed = time.monotonic() - stopped
            thread.join(DEADLINE)
        assert elapsed < 4.0  # the 1 s bound, then the lifespan's shutdown
    finally:
        app.stop()
        port_pool.put(port)

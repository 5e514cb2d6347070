"""What the proxy tests share: the echo upstream on a real port, raw requests, session tokens.

The ``echo`` fixture (tests/conftest.py) gives a test the upstream with nothing received yet.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

from devtools.demo_api import DemoAPI, fingerprint
from devtools.provider import free_port

from tests.support.records import read_session
from tests.support.server import ThreadedServer
from tests.support.settings import TEST_SECRET

JSON = {"accept": "application/json"}


class Echo:
    """The echo upstream (devtools/demo_api.py) on a loopback port; what it received."""

    def __init__(self) -> None:
        self.app = DemoAPI()
        self.server = ThreadedServer(self.app, free_port()).start()
        self.url = self.server.url

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.app.requests

    def stop(self) -> None:
        self.server.stop()


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any] | str]:
    """Send ``target`` exactly as given (httpx would normalise ``..`` away): status, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{port}")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read().decode()
        try:
            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, body
    finally:
        conn.close()


def access_token(app: ThreadedServer, tmp_path: Path, cookie: str) -> str:
    """The access token the app's session record holds now."""
    record = read_session(tmp_path / f"sessions-{app.port}.db", TEST_SECRET, cookie)
    assert record is not None
    return record.access_token


def token_print(app: ThreadedServer, tmp_path: Path, cookie: str) -> str:
    return fingerprint(access_token(app, tmp_path, cookie))

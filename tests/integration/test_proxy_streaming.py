"""Bodies stream through the API proxy both ways in constant memory: 100 MB up and 100 MB down,
while this process's peak resident memory (the app, the echo upstream and the client all run in
it) grows by far less than the body."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devtools.flows import login
from starlette.types import Message, Scope

from tests.support.server import AppFactory
from tests.support.upstream import JSON, Echo

BODY = 100 * 1024 * 1024
CHUNK = 64 * 1024
#: Peak RSS may grow by this much while 100 MB pass (buffers, the allocator's slack).
MAX_GROWTH = 40 * 1024 * 1024
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in {STATUS}")


class PeakRSS:
    """The growth of this process's peak RSS (VmHWM) from ``reset()`` on (Linux)."""

    def reset(self) -> None:
        CLEAR_REFS.write_text("5")  # "5": reset the peak resident set size to the current one
        self.start = _kib("VmRSS")

    def growth(self) -> int:
        return _kib("VmHWM") - self.start


@pytest.fixture
def peak() -> PeakRSS:
    if not CLEAR_REFS.exists():
        pytest.skip("needs Linux /proc/self/clear_refs")
    return PeakRSS()


@pytest.fixture
def signed_in_client(
    start_app: AppFactory, echo: Echo
) -> Iterator[tuple[httpx.Client, str]]:
    app = start_app(api_routes=f"/api/files={echo.url}")
    with httpx.Client(follow_redirects=False, timeout=60) as client:
        login(client, app.url)
        yield client, app.url


def _upload(digest: hashlib._Hash) -> Iterator[bytes]:
    piece = bytes(range(256)) * (CHUNK // 256)
    for _ in range(BODY // CHUNK):
        digest.update(piece)
        yield piece


def test_a_100_mb_upload_streams_in_constant_memory(
    signed_in_client: tuple[httpx.Client, str],
    echo: Echo,
    peak: PeakRSS,
) -> None:
    client, url = signed_in_client
    token = client.get(url + "/auth/session", headers=JSON).json()["csrf_token"]
    digest = hashlib.sha256()
    peak.reset()
    resp = client.post(
        url + "/api/files/upload",
        content=_upload(digest),
        headers={**JSON, "x-csrf-token": token, "content-length": str(BODY),
                 "content-type": "application/octet-stream"},
    )
    growth = peak.growth()
    assert resp.status_code == 200
    got = resp.json()
    assert (got["body_bytes"], got["body_sha256"]) == (BODY, digest.hexdigest())
    assert got["headers"]["content-length"] == str(BODY)
    assert growth < MAX_GROWTH, f"peak RSS grew by {growth / 2**20:.1f} MiB"


def test_a_100_mb_download_streams_in_constant_memory(
    signed_in_client: tuple[httpx.Client, str],
    peak: PeakRSS,
) -> None:
    client, url = signed_in_client
    received = 0
    peak.reset()
    with client.stream("GET", url + f"/api/files/__download?bytes={BODY}") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-length"] == str(BODY)
        for chunk in resp.iter_raw():
            received += len(chunk)
    growth = peak.growth()
    assert received == BODY
    assert growth < MAX_GROWTH, f"peak RSS grew by {growth / 2**20:.1f} MiB"


def test_a_chunked_upload_is_forwarded_chunked(
    signed_in_client: tuple[httpx.Client, str],
    echo: Echo,
) -> None:
    client, url = signed_in_client
    token = client.get(url + "/auth/session", headers=JSON).json()["csrf_token"]
    resp = client.put(url + "/api/files/x", content=iter([b"a" * 10, b"b" * 5]),
                      headers={**JSON, "x-csrf-token": token})
    got = resp.json()
    assert (got["body"], got["body_bytes"]) == ("a" * 10 + "b" * 5, 15)
    assert got["headers"]["transfer-encoding"] == "chunked"
    assert "content-length" not in got["headers"]


def test_an_answer_that_stalls_midway_is_cut_off_not_completed(
    start_app: AppFactory,
    echo: Echo,
) -> None:
    app = start_app(api_routes=f"/api/files={echo.url}", api_timeout=0.3)
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        login(client, app.url)
        received = 0
        with client.stream("GET", app.url + "/api/files/__stall") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-length"] == str(16 * CHUNK)
            with pytest.raises(httpx.RemoteProtocolError):
                for chunk in resp.iter_raw():
                    received += len(chunk)
        assert received == CHUNK  # what the upstream sent, and then a broken connection


async def test_a_client_that_goes_away_stops_the_download(echo: Echo) -> None:
    from zitadel_bff.web import ProxyRequest, ReverseProxy

    proxy = ReverseProxy(timeout=10)
    await proxy.start()
    sent: list[int] = []
    asked = 0

    async def receive() -> Message:
        nonlocal asked
        asked += 1
        return {"type": "http.disconnect"}  # the client is gone as soon as anyone asks

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = message["body"]
            assert isinstance(body, bytes)
            sent.append(len(body))

    scope: Scope = {"type": "http", "method": "GET", "headers": [], "path": "/__download"}
    try:
        await proxy.forward(
            scope, receive, send,
            ProxyRequest(f"{echo.url}/__download?bytes={BODY}", []),
        )
    finally:
        await proxy.close()
    assert asked == 1
    assert 0 < sum(sent) < BODY


async def test_a_client_that_goes_away_during_its_upload_ends_the_request(echo: Echo) -> None:
    from zitadel_bff.web import ProxyRequest, ReverseProxy

    proxy = ReverseProxy(timeout=10)
    answered: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b"x" * 100, "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        answered.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/upload",
                    "headers": [(b"content-length", b"1000")]}
    try:
        await proxy.forward(scope, receive, send, ProxyRequest(f"{echo.url}/upload",
                                                               [(b"content-length", b"1000")]))
    finally:
        await proxy.close()
    assert answered == []  # nobody left to answer, and nothing raised
    # The upstream saw the connection end before the body did, never a complete request.
    assert all(r["body_bytes"] < 1000 for r in echo.received)

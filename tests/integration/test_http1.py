"""The proxy's HTTP/1.1 client (web/http1.py) against real sockets: raw upstreams on loopback
(tests/support/raw_http.py) answer exactly the bytes each case needs, and the client must keep
what its docstring promises: kept-alive connections reused only when that is safe, one
transparent retry on a connection the upstream dropped, bodies framed by length, chunks or the
end of the connection and never a short body that looks complete, back-pressure, TLS, the pool's
cap. The last cases go through ``ReverseProxy.forward`` for what the proxy makes of failures.

Every wait ends on an event the other side sets; ``SAFETY`` is only a net for a hang. The cases
that take no fixture run again under uvloop, the loop the app serves on.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import itertools
import logging
import random
import re
import socket
import ssl
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop
from starlette.types import Message, Scope

from tests.support.broken import closed_port, write_self_signed
from tests.support.raw_http import Peer, RawServer, answer
from zitadel_bff.errors import UpstreamUnavailable
from zitadel_bff.web import http1
from zitadel_bff.web.http1 import ConnectionPool, Response, UpstreamError
from zitadel_bff.web.proxy import ProxyRequest, ReverseProxy, client_request_headers

#: Seconds: a net for a hang, never a way to wait for something.
SAFETY = 10.0
#: The most one socket read hands the protocol (asyncio's selector transports and uvloop both
#: read at most 256 KiB at a time).
SOCKET_READ = 256 * 1024
MiB = 1024 * 1024

Headers = list[tuple[bytes, bytes]]


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Got:
    status: int
    headers: Headers
    body: bytes


async def read_all(response: Response) -> bytes:
    parts = []
    while data := await response.read():
        parts.append(data)
    assert response.at_eof
    return b"".join(parts)


async def fetch(
    pool: ConnectionPool,
    origin: str,
    target: bytes = b"/",
    *,
    method: bytes = b"GET",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: AsyncIterator[bytes] | None = None,
    chunked: bool = False,
) -> Got:
    """One request, its answer read to the end, the answer released."""
    head = ConnectionPool.head_for(method, target, list(headers))
    response = await pool.request(origin, head, body, chunked=chunked, method=method)
    try:
        data = await read_all(response)
    finally:
        response.release()
    return Got(response.status, response.headers, data)


@asynccontextmanager
async def upstream(
    script: Callable[[Peer], Awaitable[None]], *, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[RawServer, ConnectionPool]]:
    """A raw upstream running ``script`` and a pool to talk to it, within the safety net."""
    async with asyncio.timeout(SAFETY), RawServer(script, tls=tls) as server:
        pool = ConnectionPool()
        try:
            yield server, pool
        finally:
            await pool.close()


async def numbered(peer: Peer) -> None:
    """Answers each request on the connection with ``<connection>/<request>`` until the
    client closes it."""
    count = 0
    while (head := await peer.head()) is not None:
        await peer.body(head)
        await peer.send(answer(f"{peer.index}/{count}".encode()))
        count += 1


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def sized(data: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-length", str(len(data)).encode())]


class CountedWaiters(collections.deque[asyncio.Future[None]]):
    """A pool's queue of waiting requests that says when ``expected`` requests wait in it."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.reached = asyncio.Event()

    def append(self, item: asyncio.Future[None]) -> None:
        super().append(item)
        if len(self) >= self.expected:
            self.reached.set()


# --- kept-alive connections ------------------------------------------------------------------


async def test_sequential_requests_share_one_kept_alive_connection() -> None:
    async with upstream(numbered) as (server, pool):
        assert await fetch(pool, server.origin) == Got(200, [(b"content-length", b"3")], b"0/0")
        assert (await fetch(pool, server.origin, b"/again")).body == b"0/1"
        assert (await fetch(pool, server.origin, method=b"DELETE")).body == b"0/2"
        assert server.connections == 1


@pytest.mark.parametrize(
    ("version", "headers", "kept"),
    [
        ("HTTP/1.1", [], True),
        ("HTTP/1.1", [("Connection", "close")], False),
        ("HTTP/1.0", [], False),
        ("HTTP/1.0", [("Connection", "keep-alive")], True),
    ],
    ids=["1.1", "1.1-close", "1.0", "1.0-keep-alive"],
)
async def test_the_answer_decides_whether_its_connection_is_kept(
    version: str, headers: list[tuple[str, str]], kept: bool
) -> None:
    ended = asyncio.Event()

    async def script(peer: Peer) -> None:
        # The upstream keeps its side open whatever it said: the client must close it.
        while await peer.head() is not None:
            await peer.send(answer(f"{peer.index}".encode(), headers=headers, version=version))
        if peer.index == 0:
            ended.set()

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"0"
        assert (await fetch(pool, server.origin)).body == (b"0" if kept else b"1")
        assert server.connections == (1 if kept else 2)
        if not kept:
            await ended.wait()  # the client closed the connection it could not keep


async def test_a_get_on_a_kept_connection_the_upstream_dropped_is_retried_on_a_new_one() -> None:
    async def script(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(answer(b"first"))
            await peer.request()  # the next request arrives as the upstream gives up on the
            return  # connection: it closes it unanswered, as a keep-alive timeout does
        await numbered(peer)

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"first"
        assert (await fetch(pool, server.origin)).body == b"1/0"
        assert server.connections == 2


async def test_a_post_with_a_body_on_a_dropped_connection_is_not_retried() -> None:
    received: list[bytes] = []

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(b"first"))
        received.append((await peer.request())[1])  # read, and closed unanswered

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"first"
        with pytest.raises(UpstreamError, match="closed the connection"):
            await fetch(
                pool, server.origin, method=b"POST", headers=sized(b"data"), body=pieces(b"data")
            )
        assert received == [b"data"]  # sent once: the upstream may have acted on it
        assert server.connections == 1


async def test_the_retry_does_not_take_another_kept_connection() -> None:
    """Two kept connections that the upstream dropped: the retry after the first must not go
    to the second (kept as long, as likely gone), but to a new connection."""
    both = asyncio.Event()
    arrived = 0

    async def script(peer: Peer) -> None:
        nonlocal arrived
        if peer.index >= 2:
            return await numbered(peer)
        await peer.request()
        arrived += 1
        if arrived == 2:
            both.set()
        await both.wait()
        await peer.send(answer(b"kept"))
        await peer.head()  # a request, closed unanswered (or the client closes it first)

    async with upstream(script) as (server, pool):
        first = await asyncio.gather(fetch(pool, server.origin), fetch(pool, server.origin))
        assert [got.body for got in first] == [b"kept", b"kept"]
        assert (await fetch(pool, server.origin)).body == b"2/0"
        assert server.connections == 3


async def test_an_upstream_closing_a_kept_connection_unannounced_costs_no_request() -> None:
    """The upstream closes right after its answer, without ``Connection: close``: whether the
    client sees the end before its next request or only after sending it, that request
    succeeds on a new connection."""

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(f"{peer.index}".encode()))

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"0"
        assert (await fetch(pool, server.origin)).body == b"1"
        assert server.connections == 2


async def test_unsolicited_bytes_on_an_idle_connection_drop_it() -> None:
    released = asyncio.Event()
    dropped = asyncio.Event()

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.request()
        await peer.send(answer(b"ok"))
        await released.wait()
        await peer.send(answer(b"nobody asked"))
        await peer.client_closed()
        dropped.set()

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"ok"
        released.set()
        await dropped.wait()
        assert (await fetch(pool, server.origin)).body == b"1/0"
        assert server.connections == 2


@pytest.mark.parametrize(
    "extra",
    [b"HTTP/1.1 200 OK\r\nContent-Le", answer(b"smuggled"), b"garbage"],
    ids=["partial-answer", "whole-answer", "garbage"],
)
async def test_bytes_after_an_answer_drop_its_connection(extra: bytes) -> None:
    """What follows an answer in the same write cannot be the next request's answer: the
    connection is not kept (else the next request would read it)."""

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.request()
        await peer.send(answer(b"ok") + extra)
        while await peer.head() is not None:
            await peer.send(answer(b"misread"))

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"ok"
        assert (await fetch(pool, server.origin)).body == b"1/0"
        assert server.connections == 2


# --- framing ---------------------------------------------------------------------------------


async def test_an_answer_framed_by_its_length() -> None:
    body = bytes(range(256)) * 1000

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(body, headers=[("X-Kind", "Length")]))
        await peer.client_closed()

    async with upstream(script) as (server, pool):
        got = await fetch(pool, server.origin)
        assert got == Got(200, [(b"x-kind", b"Length"), (b"content-length", b"256000")], body)


async def test_a_chunked_answer_streams_as_it_arrives() -> None:
    """Each piece is read before the upstream sends the next; a chunk and its size line split
    across writes; trailers read and dropped; the connection kept."""
    read = [asyncio.Event() for _ in range(3)]

    async def script(peer: Peer) -> None:
        await peer.request()
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
        await peer.send(head + b"5\r\nhello\r\n")
        await read[0].wait()
        await peer.send(b"1")  # half of the size line "10"
        await peer.send(b"0\r\n, chunked wor")
        await read[1].wait()
        await peer.send(b"ld!\r\n")
        await read[2].wait()
        await peer.send(b"0\r\nX-Trailer: t\r\n\r\n")
        await numbered(peer)

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert response.status == 200
        for expected, event in zip([b"hello", b", chunked wor", b"ld!"], read, strict=True):
            assert await read_exactly(response, len(expected)) == expected
            event.set()
        assert await response.read() == b""
        assert response.at_eof
        response.release()
        assert response.headers == [(b"transfer-encoding", b"chunked"), (b"x-kind", b"chunked")]
        assert (await fetch(pool, server.origin)).body == b"0/0"
        assert server.connections == 1


async def read_exactly(response: Response, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = await response.read()
        assert piece, f"the body ended after {data!r}"
        data += piece
    assert len(data) == size, f"more than the piece sent: {data!r}"
    return data


async def test_an_answer_framed_by_the_end_of_the_connection() -> None:
    sent = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(b"no length, ", length=False))
        await sent.wait()
        await peer.send(b"read to the end")

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_exactly(response, 11) == b"no length, "
        assert not response.at_eof
        sent.set()
        assert await read_all(response) == b"read to the end"
        response.release()
        again = await fetch(pool, server.origin)  # on a new connection
        assert again.body == b"no length, read to the end"
        assert server.connections == 2


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
#: Answers the upstream ends too early (what is sent, the body bytes that it holds).
CUT_SHORT = {
    "length": (answer(b"0123456789")[:-4], b"012345"),
    "chunked-mid-chunk": (CHUNKED + b"6\r\n012345\r\n4\r\n67", b"01234567"),
    "chunked-between-chunks": (CHUNKED + b"6\r\n012345\r\n", b"012345"),
    "chunked-no-last-crlf": (CHUNKED + b"6\r\n012345\r\n0\r\n", b"012345"),
    "Chunked-capitalised": (CHUNKED.replace(b"chunked", b"Chunked") + b"1\r\n0\r\n", b"0"),
    "gzip-chunked": (CHUNKED.replace(b"chunked", b"gzip, chunked") + b"1\r\n0\r\n", b"0"),
}


@pytest.mark.parametrize(("sent", "held"), CUT_SHORT.values(), ids=CUT_SHORT.keys())
async def test_a_framed_answer_cut_short_fails_instead_of_ending(sent: bytes, held: bytes) -> None:
    """The bytes that came are read, then the read fails: never a short body that looks
    complete."""

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(sent)  # and the connection ends

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_exactly(response, len(held)) == held
        with pytest.raises(UpstreamError, match="closed the connection"):
            data = await response.read()
            pytest.fail(f"read {data!r} where the answer broke")
        assert not response.at_eof
        response.release()


async def test_an_answer_framed_by_the_end_ended_by_a_reset_fails() -> None:
    """A reset is no end: the answer it cuts is incomplete (RFC 9112 8)."""
    reset = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(b"partial", length=False))
        await reset.wait()
        peer.reset()

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_exactly(response, 7) == b"partial"
        reset.set()
        with pytest.raises(UpstreamError):
            data = await response.read()
            pytest.fail(f"read {data!r} where a reset cut the answer")
        response.release()


@pytest.mark.parametrize("length", [True, False], ids=["length", "end-of-connection"])
async def test_an_abandoned_answer_fails_its_reads(length: bool) -> None:
    """``Response.close()`` (the client went away): reads fail, also once the connection is
    gone, whatever frames the answer (its end is no end of the answer then)."""
    ended = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(b"0123456789", length=length)[:-5])
        await peer.client_closed()
        ended.set()

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_exactly(response, 5) == b"01234"
        response.close()
        with pytest.raises(UpstreamError, match="abandoned"):
            await response.read()
        await ended.wait()  # the client's side of the connection is closed too
        with pytest.raises(UpstreamError, match="abandoned"):
            data = await response.read()
            pytest.fail(f"read {data!r} from an abandoned answer")
        response.release()


# --- answers without a body, informational answers -------------------------------------------


async def test_informational_answers_are_skipped() -> None:
    """100 Continue, then 103 Early Hints with a header of its own, each in its own write:
    the answer is the final one, with its own headers only; the connection is kept."""

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(status=100, length=False))
        await peer.send(
            answer(status=103, length=False, headers=[("Link", "</s.css>; rel=preload")])
        )
        await peer.send(answer(b"final", headers=[("X-Final", "yes")]))
        await numbered(peer)

    async with upstream(script) as (server, pool):
        got = await fetch(pool, server.origin)
        assert got == Got(200, [(b"x-final", b"yes"), (b"content-length", b"5")], b"final")
        assert (await fetch(pool, server.origin)).body == b"0/0"
        assert server.connections == 1


async def test_an_unasked_switch_of_protocols_is_an_upstream_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(status=101, length=False, headers=[("Upgrade", "websocket")]))
        await peer.client_closed()

    async with upstream(script) as (server, pool):
        with pytest.raises(UpstreamError):
            await fetch(pool, server.origin)


@pytest.mark.parametrize("body", [b"", b"x" * 1000], ids=["no-body", "a-body-anyway"])
async def test_a_head_answer_ends_with_its_head(body: bytes) -> None:
    """The length a HEAD answer announces is that of the GET's body, which never comes (or
    comes when it must not); the next request's answer is read for what it is."""
    heads: list[bytes] = []

    async def script(peer: Peer) -> None:
        while (head := await peer.head()) is not None:
            heads.append(head.method)
            if head.method == b"HEAD":
                await peer.send(answer(headers=[("Content-Length", "1000")], length=False) + body)
            else:
                await peer.send(answer(f"{peer.index}".encode()))

    async with upstream(script) as (server, pool):
        response = await pool.request(
            server.origin, ConnectionPool.head_for(b"HEAD", b"/", []), method=b"HEAD"
        )
        assert (response.status, response.headers) == (200, [(b"content-length", b"1000")])
        assert response.at_eof
        assert await response.read() == b""
        response.release()
        # The parser cannot be told that an answer has no body, so the connection is not kept.
        assert (await fetch(pool, server.origin)).body == b"1"
        assert heads == [b"HEAD", b"GET"]


@pytest.mark.parametrize(
    ("status", "headers"),
    [(204, [("ETag", '"1"')]), (304, [("ETag", '"1"'), ("Content-Length", "1000")])],
    ids=["204", "304-with-the-full-length"],
)
async def test_answers_without_a_body_keep_the_connection(
    status: int, headers: list[tuple[str, str]]
) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(status=status, length=False, headers=headers))
        await numbered(peer)

    expected = [(name.lower().encode(), value.encode()) for name, value in headers]
    async with upstream(script) as (server, pool):
        assert await fetch(pool, server.origin) == Got(status, expected, b"")
        assert (await fetch(pool, server.origin)).body == b"0/0"
        assert server.connections == 1


# --- malformed answers -----------------------------------------------------------------------


async def test_an_answer_head_over_the_limit_fails_and_closes_the_connection() -> None:
    closed = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        value = "v" * 1000
        fields = [(f"X-Field-{n}", value) for n in range(http1.MAX_HEAD // 1000 + 1)]
        await peer.send(answer(b"body", headers=fields))
        await peer.client_closed()
        closed.set()

    async with upstream(script) as (server, pool):
        with pytest.raises(UpstreamError, match=re.escape(f"head is over {http1.MAX_HEAD} bytes")):
            await fetch(pool, server.origin)
        await closed.wait()


async def _endless_field_fails_at_the_limit(opening: bytes, what: str) -> None:
    """The upstream sends ``opening``, then one field line that never ends."""
    closed = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(opening)
        try:
            while True:
                await peer.send(b"v" * 65536)
        except ConnectionError:
            closed.set()

    async with upstream(script) as (server, pool):
        refused = re.escape(f"{what} is over {http1.MAX_HEAD} bytes")
        with pytest.raises(UpstreamError, match=refused):
            await fetch(pool, server.origin)
        await closed.wait()


async def test_an_endless_header_line_fails_at_the_head_limit() -> None:
    """One header line that never ends (no CRLF): the client must not hold it all."""
    await _endless_field_fails_at_the_limit(b"HTTP/1.1 200 OK\r\nX-Endless: ", "head")


async def test_an_endless_trailer_fails_at_the_head_limit() -> None:
    """After a chunked body, a trailer field that never ends: bounded like a head."""
    await _endless_field_fails_at_the_limit(CHUNKED + b"2\r\nok\r\n0\r\nX-Endless: ", "trailer")


async def test_chunked_not_last_is_framed_by_the_end_of_the_connection() -> None:
    """``Transfer-Encoding: chunked, gzip``: chunked is not the final coding, so the body runs
    to the end of the connection (RFC 9112 6.3), and that end completes it."""

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nraw bytes")

    async with upstream(script) as (server, pool):
        got = await fetch(pool, server.origin)
    assert (got.status, got.body) == (200, b"raw bytes")


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        (b"/x HTTP/1.1\r\nx-smuggled: 1", []),
        (b"/x", [(b"x-a", b"1\r\nx-smuggled: 1")]),
        (b"/x", [(b"x-a", b"1\nx-smuggled: 1")]),
        (b"/x", [(b"x-a\r\nx-smuggled", b"1")]),
        (b"/x", [(b"x-a", b"1\x00")]),
    ],
    ids=["target", "crlf-value", "lf-value", "crlf-name", "nul"],
)
def test_a_line_break_in_any_part_of_the_head_is_refused(
    target: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        ConnectionPool.head_for(b"GET", target, headers)


@pytest.mark.parametrize(
    "sent",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 abc Nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    ],
    ids=["not-http", "bad-status", "length-and-chunked", "two-lengths"],
)
async def test_what_is_not_http_fails(sent: bytes) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(sent)
        await peer.client_closed()

    async with upstream(script) as (server, pool):
        with pytest.raises(UpstreamError, match=r"not valid HTTP/1\.1"):
            await fetch(pool, server.origin)


# --- connecting ------------------------------------------------------------------------------


async def test_a_refused_connection_names_the_address() -> None:
    port = closed_port()
    pool = ConnectionPool()
    with pytest.raises(UpstreamError, match=re.escape(f"connection to 127.0.0.1:{port} refused")):
        await fetch(pool, f"http://127.0.0.1:{port}")
    with pytest.raises(UpstreamError, match=re.escape(f"connection to 127.0.0.1:{port} refused")):
        await fetch(pool, f"http://127.0.0.1:{port}")  # the failure freed its place
    assert pool._origins[f"http://127.0.0.1:{port}"].open == 0
    await pool.close()


async def test_a_name_whose_addresses_all_refuse_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name with an IPv6 and an IPv4 address (``localhost`` on most machines), both
    refused: asyncio's error for several addresses has no strerror; the message still says
    what failed."""
    port = closed_port()

    async def getaddrinfo(*args: object, **kwargs: object) -> list[Any]:
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    pool = ConnectionPool()
    expected = rf"^no connection to dual\.test:{port}: Multiple exceptions: .*Connect call failed"
    with pytest.raises(UpstreamError, match=expected):
        await fetch(pool, f"http://dual.test:{port}")
    await pool.close()


async def test_an_unknown_host_names_the_address() -> None:
    pool = ConnectionPool()
    with pytest.raises(UpstreamError, match=r"no connection to nohost\.invalid:80: "):
        await fetch(pool, "http://nohost.invalid")
    await pool.close()


async def test_an_ipv6_literal_origin() -> None:
    async with asyncio.timeout(SAFETY):
        try:
            server = await asyncio.start_server(serve_host, "::1", 0)
        except OSError:
            pytest.skip("no IPv6 loopback")
        port = server.sockets[0].getsockname()[1]
        pool = ConnectionPool()
        try:
            got = await fetch(pool, f"http://[::1]:{port}", b"/six")
        finally:
            await pool.close()
            server.close()
            await server.wait_closed()
        assert got.body == b"[::1]:" + str(port).encode()


async def serve_host(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers with the Host header it got."""
    peer = Peer(0, reader, writer)
    head, _ = await peer.request()
    await peer.send(answer(head.get(b"host") or b""))
    writer.close()


# --- back-pressure ---------------------------------------------------------------------------


class WatchedTransport(asyncio.Transport):
    """A connection's transport that says when the client stops reading from it."""

    def __init__(self, inner: asyncio.Transport, paused: asyncio.Event) -> None:
        super().__init__()
        self.inner = inner
        self.paused = paused
        self.pauses = 0

    def pause_reading(self) -> None:
        self.inner.pause_reading()
        self.pauses += 1
        self.paused.set()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.inner.write(data)

    def abort(self) -> None:
        self.inner.abort()

    def close(self) -> None:
        self.inner.close()

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()


BIG = 20 * MiB


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_a_slowly_read_big_answer_is_buffered_within_bounds(chunked: bool) -> None:
    """The consumer reads only when the client has stopped reading from the socket (or the
    upstream has sent everything): every read returns what was buffered, which never exceeds
    HIGH_WATER plus one socket read; the body arrives intact."""
    body = random.Random(7).randbytes(BIG)
    step = asyncio.Event()
    all_sent = False

    async def script(peer: Peer) -> None:
        nonlocal all_sent
        await peer.request()
        if chunked:
            await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        else:
            await peer.send(answer(headers=[("Content-Length", str(BIG))], length=False))
        for start in range(0, BIG, MiB):
            piece = body[start : start + MiB]
            await peer.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            await peer.send(b"0\r\n\r\n")
        all_sent = True
        step.set()
        await peer.client_closed()

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        conn = response._conn
        assert conn.transport is not None
        watched = conn.transport = WatchedTransport(conn.transport, step)
        if conn.paused:
            step.set()
        digest, largest = hashlib.sha256(), 0
        while True:
            await step.wait()  # slow: only once the client stopped reading
            if not all_sent:
                step.clear()
            data = await response.read()
            if not data:
                break
            digest.update(data)
            largest = max(largest, len(data))
        response.release()
    assert digest.digest() == hashlib.sha256(body).digest()
    assert largest <= http1.HIGH_WATER + SOCKET_READ
    assert watched.pauses > 0


# --- request bodies --------------------------------------------------------------------------


def upload(size: int, seed: int) -> tuple[bytes, list[bytes]]:
    """A random body and its pieces, of uneven sizes (an empty one among them)."""
    data = random.Random(seed).randbytes(size)
    cuts = sorted({0, size, *random.Random(seed + 1).sample(range(1, size), 40)})
    parts = [data[a:b] for a, b in itertools.pairwise(cuts)]
    parts.insert(3, b"")
    return data, parts


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
async def test_a_request_body_arrives_byte_exact(chunked: bool) -> None:
    data, parts = upload(3 * MiB + 17, seed=chunked)
    received: list[tuple[bytes | None, bytes | None, str]] = []

    async def script(peer: Peer) -> None:
        while (head := await peer.head()) is not None:
            body = await peer.body(head)
            received.append(
                (
                    head.get(b"content-length"),
                    head.get(b"transfer-encoding"),
                    hashlib.sha256(body).hexdigest(),
                )
            )
            await peer.send(answer(str(len(body)).encode()))

    headers = [] if chunked else sized(data)
    async with upstream(script) as (server, pool):
        got = await fetch(
            pool,
            server.origin,
            method=b"PUT",
            headers=headers,
            body=pieces(*parts),
            chunked=chunked,
        )
        assert got.body == str(len(data)).encode()
        assert (await fetch(pool, server.origin)).body == b"0"  # the connection was kept
        assert server.connections == 1
    framing = (None, b"chunked") if chunked else (str(len(data)).encode(), None)
    assert received == [(*framing, hashlib.sha256(data).hexdigest()), (None, None, EMPTY)]


EMPTY = hashlib.sha256(b"").hexdigest()
UPLOAD = 64 * MiB


async def test_a_big_request_body_goes_as_fast_as_the_upstream_reads_it() -> None:
    """64 MiB (more than the socket buffers hold) from a body iterator that never waits: the
    upstream reads part of it while the client is still sending, which only happens if the
    client waits for its send buffer to drain instead of queueing the body in memory."""
    received = 0
    read_before_the_end = -1
    digest = hashlib.sha256()

    async def script(peer: Peer) -> None:
        nonlocal received
        head = await peer.head()
        assert head is not None and head.get(b"content-length") == str(UPLOAD).encode()
        while received < UPLOAD:
            data = await peer.reader.read(MiB)
            assert data, "the body ended early"
            digest.update(data)
            received += len(data)
        await peer.send(answer(digest.hexdigest().encode()))
        await peer.client_closed()

    async def body(expected: hashlib._Hash) -> AsyncIterator[bytes]:
        nonlocal read_before_the_end
        for n in range(UPLOAD // 65536):
            if n == UPLOAD // 65536 - 1:
                read_before_the_end = received
            piece = n.to_bytes(8, "big") * 8192
            expected.update(piece)
            yield piece

    expected = hashlib.sha256()
    async with upstream(script) as (server, pool):
        got = await fetch(
            pool,
            server.origin,
            method=b"PUT",
            headers=[(b"content-length", str(UPLOAD).encode())],
            body=body(expected),
        )
    assert got.body == expected.hexdigest().encode()
    assert read_before_the_end > 0


async def test_an_early_answer_is_the_answer_and_its_connection_is_not_kept() -> None:
    """The upstream refuses the body after its head, says so and closes (lingering, as nginx
    does: it reads and drops what still comes until the client closes): the client stops
    sending and returns the 413."""
    answered = asyncio.Event()
    generated = 0

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.head()
        await peer.send(answer(b"too large", status=413, headers=[("Connection", "close")]))
        answered.set()
        peer.writer.write_eof()
        await peer.client_closed()

    async def body() -> AsyncIterator[bytes]:
        nonlocal generated
        piece = b"x" * 65536
        yield piece
        generated += 1
        await answered.wait()
        for _ in range(16 * 1024):  # 1 GiB: far more than is sent before the answer is read
            await asyncio.sleep(0)  # a client uploading: each piece comes on a later turn
            yield piece
            generated += 1

    async with upstream(script) as (server, pool):
        got = await fetch(
            pool,
            server.origin,
            method=b"POST",
            headers=[(b"content-length", b"1073741824")],
            body=body(),
        )
        assert got == Got(413, [(b"connection", b"close"), (b"content-length", b"9")], b"too large")
        assert (await fetch(pool, server.origin)).body == b"1/0"
        assert server.connections == 2
    assert generated < 16 * 1024  # the client stopped sending


async def test_an_early_answer_while_the_send_buffer_is_full() -> None:
    """The upstream answers 413 after the head and reads nothing more, keeping its side open:
    the client, blocked on a full send buffer, must stop sending and return the answer."""
    deaf = asyncio.Event()
    done = asyncio.Event()

    async def script(peer: Peer) -> None:
        await peer.head()
        peer.stop_reading()  # not one more byte is read
        await peer.send(answer(b"too large", status=413))
        deaf.set()
        await done.wait()
        peer.read_again()
        await peer.client_closed()

    async def body() -> AsyncIterator[bytes]:
        # Sent only once the upstream has stopped reading, and without a turn of the loop
        # between pieces: the client reads the answer only once its writes are blocked.
        await deaf.wait()
        piece = b"x" * 65536
        for _ in range(16 * 1024):  # 1 GiB: far more than the socket buffers hold
            yield piece

    async with upstream(script) as (server, pool):
        got = await fetch(
            pool,
            server.origin,
            method=b"POST",
            headers=[(b"content-length", b"1073741824")],
            body=body(),
        )
        done.set()
        assert (got.status, got.body) == (413, b"too large")


async def test_a_connection_with_unsendable_bytes_closes_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After an early answer from an upstream that reads nothing more, what the client still
    holds to send never leaves: its connection closes at once when the answer is released
    (not "after what is written", which never comes), so its place is free."""
    monkeypatch.setattr(http1, "MAX_CONNECTIONS", 1)
    deaf = asyncio.Event()
    second_done = asyncio.Event()

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.head()
        peer.stop_reading()
        await peer.send(answer(b"too large", status=413))
        deaf.set()
        await second_done.wait()
        peer.read_again()
        await peer.client_closed()

    async def body() -> AsyncIterator[bytes]:
        await deaf.wait()
        piece = b"x" * 65536
        for _ in range(16 * 1024):
            yield piece

    async with upstream(script) as (server, pool):
        got = await fetch(
            pool,
            server.origin,
            method=b"POST",
            headers=[(b"content-length", b"1073741824")],
            body=body(),
        )
        assert got.status == 413
        assert (await fetch(pool, server.origin)).body == b"1/0"  # the only place, freed
        second_done.set()


# --- TLS -------------------------------------------------------------------------------------


@contextmanager
def tls_contexts() -> Iterator[tuple[ssl.SSLContext, ssl.SSLContext]]:
    """(the server's context, a client context trusting its self-signed certificate)."""
    with tempfile.TemporaryDirectory() as directory:
        cert, key = write_self_signed(Path(directory))
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        client = ssl.create_default_context(cafile=str(cert))
    yield server, client


async def test_https_with_a_trusted_certificate() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer(b"kept, "))
        await peer.request()
        await peer.send(answer(b"then to the end", length=False))

    with tls_contexts() as (server_tls, client_tls):
        async with asyncio.timeout(SAFETY), RawServer(script, tls=server_tls) as server:
            pool = ConnectionPool(ssl_context=client_tls)
            try:
                first = await fetch(pool, server.origin)
                second = await fetch(pool, server.origin)
            finally:
                await pool.close()
    assert server.origin.startswith("https://127.0.0.1:")
    assert first.body + second.body == b"kept, then to the end"
    assert server.connections == 1


async def test_https_with_an_untrusted_certificate_fails_naming_tls() -> None:
    async def script(peer: Peer) -> None:
        raise AssertionError("no request comes over a refused handshake")

    with tls_contexts() as (server_tls, _):
        async with asyncio.timeout(SAFETY), RawServer(script, tls=server_tls) as server:
            pool = ConnectionPool()  # the system's trust store
            address = server.origin.removeprefix("https://")
            with pytest.raises(UpstreamError, match=re.escape(f"TLS with {address} failed")):
                await fetch(pool, server.origin)
            await pool.close()


# --- the pool --------------------------------------------------------------------------------


async def test_the_pool_cap_queues_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "MAX_CONNECTIONS", 2)
    go = asyncio.Event()
    held = 0
    two_held = asyncio.Event()

    async def script(peer: Peer) -> None:
        nonlocal held
        count = 0
        while (head := await peer.head()) is not None:
            held += 1
            if held == 2:
                two_held.set()
            await go.wait()
            await peer.send(answer(f"{head.target.decode()} on {peer.index}/{count}".encode()))
            count += 1

    async with upstream(script) as (server, pool):
        requests = [asyncio.ensure_future(fetch(pool, server.origin, b"/%d" % n)) for n in range(5)]
        await two_held.wait()
        place = pool._origins[server.origin]
        assert (server.open, place.open, len(place.waiters)) == (2, 2, 3)
        go.set()
        bodies = [got.body.split(b" on ") for got in await asyncio.gather(*requests)]
        assert [target for target, _ in bodies] == [b"/%d" % n for n in range(5)]
        assert {where.split(b"/")[0] for _, where in bodies} == {b"0", b"1"}
        assert (server.connections, server.max_open) == (2, 2)


async def test_waiters_that_give_up_leave_their_turn_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests waiting for the only connection give up (their deadline): before their turn
    (they leave the queue), as it comes (it is skipped), after it came but before they took
    it (it passes on). The one that stayed gets the connection."""
    monkeypatch.setattr(http1, "MAX_CONNECTIONS", 1)
    async with upstream(numbered) as (server, pool):
        first = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        place = pool._origins[server.origin]
        place.waiters = waiters = CountedWaiters(4)
        second, third, fourth, fifth = (
            asyncio.ensure_future(fetch(pool, server.origin)) for _ in range(4)
        )
        await waiters.reached.wait()
        fifth.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fifth
        assert len(place.waiters) == 3
        assert await read_all(first) == b"0/0"
        second.cancel()  # gives up, still queued...
        first.release()  # ...as the connection comes free: the turn skips it for the third...
        third.cancel()  # ...which gives up before it could take the connection
        assert (await fourth).body == b"0/1"
        for task in (second, third):
            with pytest.raises(asyncio.CancelledError):
                await task
        assert (server.connections, len(place.waiters)) == (1, 0)


async def test_a_queued_request_takes_the_place_of_a_closed_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http1, "MAX_CONNECTIONS", 1)

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.request()
        await peer.send(answer(b"closing", headers=[("Connection", "close")]))
        await peer.client_closed()

    async with upstream(script) as (server, pool):
        first = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        place = pool._origins[server.origin]
        place.waiters = waiters = CountedWaiters(1)
        second = asyncio.ensure_future(fetch(pool, server.origin))
        await waiters.reached.wait()
        assert await read_all(first) == b"closing"
        first.release()  # not kept: its place is free once it is closed
        assert (await second).body == b"1/0"
        assert (server.connections, server.max_open) == (2, 1)


async def test_a_request_given_up_while_waiting_for_its_answer_closes_its_connection() -> None:
    asked = asyncio.Event()

    async def script(peer: Peer) -> None:
        if peer.index > 0:
            return await numbered(peer)
        await peer.request()
        asked.set()
        await peer.client_closed()  # never answered

    async with upstream(script) as (server, pool):
        waiting = asyncio.ensure_future(fetch(pool, server.origin))
        await asked.wait()
        waiting.cancel()  # the caller's deadline
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await fetch(pool, server.origin)).body == b"1/0"
        assert (server.connections, server.open) == (2, 1)


async def test_a_request_given_up_while_connecting_frees_its_place() -> None:
    """An https origin whose server accepts and never answers the TLS handshake."""
    connected = asyncio.Event()
    ended = asyncio.Event()

    async def script(peer: Peer) -> None:
        connected.set()
        await peer.client_closed()
        ended.set()

    async with RawServer(script) as server:
        origin = server.origin.replace("http://", "https://")
        pool = ConnectionPool(ssl_context=ssl.create_default_context())
        async with asyncio.timeout(SAFETY):
            connecting = asyncio.ensure_future(fetch(pool, origin))
            await connected.wait()
            connecting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await connecting
            await ended.wait()
        assert pool._origins[origin].open == 0
        await pool.close()


async def test_idle_connections_over_max_idle_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http1, "MAX_IDLE", 1)
    both = asyncio.Event()
    arrived = 0
    ended = asyncio.Event()

    async def script(peer: Peer) -> None:
        nonlocal arrived
        await peer.request()
        arrived += 1
        if arrived == 2:
            both.set()
        await both.wait()
        await peer.send(answer(b"ok"))
        await numbered(peer)
        ended.set()

    async with upstream(script) as (server, pool):
        await asyncio.gather(fetch(pool, server.origin), fetch(pool, server.origin))
        await ended.wait()
        assert (server.connections, server.open) == (2, 1)
        assert len(pool._origins[server.origin].idle) == 1


async def test_close_closes_idle_connections() -> None:
    ended = asyncio.Event()

    async def script(peer: Peer) -> None:
        await numbered(peer)
        ended.set()

    async with upstream(script) as (server, pool):
        assert (await fetch(pool, server.origin)).body == b"0/0"
        await pool.close()
        await ended.wait()
        assert server.open == 0


async def test_close_lets_an_answer_being_read_end_and_keeps_no_connection() -> None:
    """``close()`` closes idle connections at once; one serving an answer goes on until that
    answer is released; the pool still serves, keeping no connection."""
    rest = asyncio.Event()
    ended = [asyncio.Event(), asyncio.Event()]

    async def script(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(answer(headers=[("Content-Length", "10")], length=False) + b"01234")
            await rest.wait()
            await peer.send(b"56789")
            await peer.client_closed()
        else:
            await numbered(peer)
        ended[peer.index].set()

    async with upstream(script) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_exactly(response, 5) == b"01234"
        await pool.close()
        rest.set()
        assert await read_all(response) == b"56789"
        response.release()
        await ended[0].wait()  # closed once released
        assert (await fetch(pool, server.origin)).body == b"1/0"
        await ended[1].wait()  # not kept
        assert server.connections == 2


async def test_release_twice_puts_the_connection_back_once() -> None:
    async with upstream(numbered) as (server, pool):
        response = await pool.request(server.origin, ConnectionPool.head_for(b"GET", b"/", []))
        assert await read_all(response) == b"0/0"
        response.release()
        response.release()
        assert len(pool._origins[server.origin].idle) == 1
        both = await asyncio.gather(fetch(pool, server.origin), fetch(pool, server.origin))
        assert [got.body for got in both] == [b"0/1", b"1/0"]  # not both on connection 0


# --- through the proxy -----------------------------------------------------------------------


class ASGIClient:
    """The ASGI side of one forwarded request: its body messages, then nothing (the client
    waits for the answer); what the proxy sent back."""

    def __init__(self, *body: bytes) -> None:
        self.body = [
            {"type": "http.request", "body": b, "more_body": i < len(body) - 1}
            for i, b in enumerate(body)
        ] or [{"type": "http.request", "body": b"", "more_body": False}]
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.body:
            return self.body.pop(0)
        await asyncio.get_running_loop().create_future()  # never: the client stays
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def scope_for(method: str = "GET", headers: Sequence[tuple[bytes, bytes]] = ()) -> Scope:
    return {
        "type": "http",
        "method": method,
        "path": "/x",
        "raw_path": b"/x",
        "query_string": b"",
        "headers": list(headers),
        "client": ("10.0.0.7", 5555),
        "scheme": "http",
    }


async def forward(origin: str, client: ASGIClient, scope: Scope) -> None:
    proxy = ReverseProxy(timeout=SAFETY)
    request = ProxyRequest(origin + "/x", client_request_headers(scope))
    try:
        await proxy.forward(scope, client.receive, client.send, request)
    finally:
        await proxy.close()


async def test_the_proxy_answers_502_when_the_upstream_refuses() -> None:
    client = ASGIClient()
    port = closed_port()
    with pytest.raises(UpstreamUnavailable, match=re.escape(f"127.0.0.1:{port} refused")):
        await forward(f"http://127.0.0.1:{port}", client, scope_for())
    assert client.sent == []


async def test_the_proxy_answers_502_when_the_upstream_closes_unanswered() -> None:
    async def script(peer: Peer) -> None:
        await peer.request()

    client = ASGIClient(b"body")
    async with asyncio.timeout(SAFETY), RawServer(script) as server:
        with pytest.raises(UpstreamUnavailable, match="closed the connection"):
            await forward(server.origin, client, scope_for("POST", [(b"content-length", b"4")]))
    assert client.sent == []


@pytest.mark.parametrize(("sent", "held"), CUT_SHORT.values(), ids=CUT_SHORT.keys())
async def test_the_proxy_cuts_off_an_answer_that_breaks(
    sent: bytes, held: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """After the answer started, no error answer is possible: the proxy returns without the
    final body message, so the server closes the connection to the client."""

    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(sent)

    client = ASGIClient()
    async with asyncio.timeout(SAFETY), RawServer(script) as server:
        with caplog.at_level(logging.WARNING, "zitadel_bff.web.proxy"):
            await forward(server.origin, client, scope_for())
    assert client.sent[0]["type"] == "http.response.start"
    assert client.sent[0]["status"] == 200
    body = client.sent[1:]
    assert all(m["type"] == "http.response.body" and m["more_body"] for m in body)
    assert b"".join(m["body"] for m in body) == held
    assert [r.getMessage() for r in caplog.records] == [
        "upstream answer to GET /x broke off: the upstream closed the connection"
    ]


async def test_the_proxy_forwards_a_chunked_body_and_streams_the_answer() -> None:
    heads = []

    async def script(peer: Peer) -> None:
        head, body = await peer.request()
        heads.append(head)
        await peer.send(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nServer: up\r\n\r\n"
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        await peer.client_closed()

    client = ASGIClient(b"one ", b"", b"two")
    scope = scope_for("POST", [(b"transfer-encoding", b"chunked"), (b"content-length", b"7")])
    async with asyncio.timeout(SAFETY), RawServer(script) as server:
        await forward(server.origin, client, scope)
    assert client.sent == [
        {"type": "http.response.start", "status": 201, "headers": []},
        {"type": "http.response.body", "body": b"one two", "more_body": False},
    ]
    assert (heads[0].method, heads[0].target) == (b"POST", b"/x")
    assert heads[0].headers == [
        (b"x-forwarded-for", b"10.0.0.7"),
        (b"x-forwarded-proto", b"http"),
        (b"host", server.origin.removeprefix("http://").encode()),
        (b"transfer-encoding", b"chunked"),
    ]


# --- the same under uvloop -------------------------------------------------------------------


UVLOOP_CASES: dict[str, Callable[[], Awaitable[None]]] = {
    "keep-alive": test_sequential_requests_share_one_kept_alive_connection,
    "retry": test_a_get_on_a_kept_connection_the_upstream_dropped_is_retried_on_a_new_one,
    "no-retry": test_a_post_with_a_body_on_a_dropped_connection_is_not_retried,
    "retry-new": test_the_retry_does_not_take_another_kept_connection,
    "closed-kept": test_an_upstream_closing_a_kept_connection_unannounced_costs_no_request,
    "unsolicited": test_unsolicited_bytes_on_an_idle_connection_drop_it,
    "chunked": test_a_chunked_answer_streams_as_it_arrives,
    "close-framed": test_an_answer_framed_by_the_end_of_the_connection,
    "reset": test_an_answer_framed_by_the_end_ended_by_a_reset_fails,
    "cut-short": lambda: test_a_framed_answer_cut_short_fails_instead_of_ending(
        *CUT_SHORT["chunked-mid-chunk"]
    ),
    "1xx": test_informational_answers_are_skipped,
    "head": lambda: test_a_head_answer_ends_with_its_head(b"x" * 1000),
    "max-head": test_an_answer_head_over_the_limit_fails_and_closes_the_connection,
    "endless-header": test_an_endless_header_line_fails_at_the_head_limit,
    "refused": test_a_refused_connection_names_the_address,
    "back-pressure": lambda: test_a_slowly_read_big_answer_is_buffered_within_bounds(True),
    "upload": lambda: test_a_request_body_arrives_byte_exact(chunked=True),
    "early-answer": test_an_early_answer_is_the_answer_and_its_connection_is_not_kept,
    "early-answer-full-buffer": test_an_early_answer_while_the_send_buffer_is_full,
    "https": test_https_with_a_trusted_certificate,
    "https-untrusted": test_https_with_an_untrusted_certificate_fails_naming_tls,
    "upload-back-pressure": test_a_big_request_body_goes_as_fast_as_the_upstream_reads_it,
    "given-up-waiting": test_a_request_given_up_while_waiting_for_its_answer_closes_its_connection,
    "given-up-connecting": test_a_request_given_up_while_connecting_frees_its_place,
    "close": test_close_closes_idle_connections,
}


@pytest.mark.parametrize("case", UVLOOP_CASES.values(), ids=UVLOOP_CASES.keys())
def test_under_uvloop(case: Callable[[], Awaitable[None]]) -> None:
    """The same cases on uvloop (its transports pause, read and end connections their way)."""

    async def main() -> None:
        await case()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())

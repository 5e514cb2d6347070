"""The reverse proxy's HTTP/1.1 client: kept-alive connections to each upstream origin, answers
parsed by httptools (llhttp, the parser uvicorn serves with), bodies streamed both ways with
back-pressure.

Why its own: the proxy's hot path is one small request and one small answer per call, and a
general-purpose client spends most of its time on what the proxy never uses (redirects, cookie
jars, decompression, per-request timeout objects, URL objects). ``python -m bench.clients``
measured it at 47 µs of CPU per small request against aiohttp's 121 (docs/PERFORMANCE.md).

What it does: ``http`` and ``https`` origins (the system's trust store, the name checked),
a request body of known length or chunked, answers framed by length, by chunks or by the end
of the connection, informational (1xx) answers skipped, ``Connection: close`` honoured. A kept
connection that the upstream closed before answering is retried once on a new one for an
idempotent request without a body, as browsers and nginx do. What it leaves out, because the
proxy needs none of it: redirects, cookies, decompression, pipelining, upgrades (the proxy
never forwards ``Upgrade``) and HTTP/2.

Errors are :class:`UpstreamError`; timeouts are the caller's.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator

from .http1_connection import HIGH_WATER, MAX_HEAD, Connection, Response, UpstreamError

__all__ = ["HIGH_WATER", "MAX_HEAD", "ConnectionPool", "Response", "UpstreamError"]

#: Connections open to one origin at most; further requests wait for one to be free.
MAX_CONNECTIONS = 1000
#: Idle connections kept per origin; more are closed when released.
MAX_IDLE = 256
IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
CRLF = b"\r\n"


class _Origin:
    """The connections to one scheme://host:port."""

    __slots__ = ("host", "host_header", "idle", "open", "port", "ssl", "waiters")

    def __init__(self, origin: str, ssl_context: ssl.SSLContext | None) -> None:
        scheme, _, authority = origin.partition("://")
        self.host_header = authority.encode("ascii")
        host, port = _split_authority(authority, DEFAULT_PORTS[scheme])
        self.host = host
        self.port = port
        self.ssl = ssl_context if scheme == "https" else None
        self.idle: list[Connection] = []
        self.open = 0
        self.waiters: collections.deque[asyncio.Future[None]] = collections.deque()


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    if authority.startswith("["):  # an IPv6 literal
        host, _, rest = authority[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    host, colon, port = authority.rpartition(":")
    if not colon:
        return authority, default_port
    return host, int(port)


class ConnectionPool:
    """Kept-alive connections to any number of upstream origins, for one event loop."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._origins: dict[str, _Origin] = {}
        self._closed = False

    @staticmethod
    def head_for(method: bytes, target: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
        """A request's line and headers, as :meth:`request` takes them.

        Raises ValueError if any part holds a CR, LF or NUL: a line break inside a value
        would let it add headers or end the head early (checked once on the whole head:
        it must hold exactly the line ends written here).
        """
        lines = [method, b" ", target, b" HTTP/1.1\r\n"]
        for name, value in headers:
            lines += (name, b": ", value, CRLF)
        head = b"".join(lines)
        ends = len(headers) + 1
        if head.count(b"\r") != ends or head.count(b"\n") != ends or b"\0" in head:
            raise ValueError("a request header or the request line holds a CR, LF or NUL")
        return head

    def _origin(self, origin: str) -> _Origin:
        found = self._origins.get(origin)
        if found is None:
            if self._ssl is None and origin.startswith("https:"):
                self._ssl = ssl.create_default_context()
            found = self._origins[origin] = _Origin(origin, self._ssl)
        return found

    async def request(
        self,
        origin: str,
        head: bytes,
        body: AsyncIterator[bytes] | None = None,
        *,
        chunked: bool = False,
        method: bytes = b"GET",
    ) -> Response:
        """Send a request and wait for its answer's head.

        ``head`` is the request line and headers, without ``Host`` and without the final empty
        line (see :meth:`head_for`); ``body`` its bytes, sent as they come (``chunked``: in
        chunked transfer coding, else the head carries their ``Content-Length``).
        """
        place = self._origin(origin)
        data = head + b"host: " + place.host_header + CRLF
        if chunked:
            data += b"transfer-encoding: chunked\r\n"
        data += CRLF
        retry = body is None and method in IDEMPOTENT
        while True:
            conn = await self._connection(place)
            conn._reset(head_only=method == b"HEAD")
            conn.busy = True
            try:
                await conn.write(data)
                if body is not None:
                    await _send_body(conn, body, chunked)
                else:
                    conn.sent = True
                await conn.head()
            except UpstreamError as exc:
                self._discard(conn)
                if retry and exc.retryable:
                    retry = False
                    self._drop_idle(place)  # kept as long as that one or longer: as likely gone
                    continue
                raise
            except BaseException:
                self._discard(conn)
                raise
            return Response(conn)

    async def _connection(self, place: _Origin) -> Connection:
        while place.idle:
            conn = place.idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        while place.open >= MAX_CONNECTIONS:
            waiter = asyncio.get_running_loop().create_future()
            place.waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake(place)  # its turn had come: the next waiter takes it
                raise
            finally:
                if waiter in place.waiters:
                    place.waiters.remove(waiter)
            if place.idle:
                return await self._connection(place)
        place.open += 1
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: Connection(self, place),
                place.host,
                place.port,
                ssl=place.ssl,
                server_hostname=place.host if place.ssl else None,
            )
        except (OSError, ssl.SSLError) as exc:
            place.open -= 1
            self._wake(place)
            raise UpstreamError(_connect_failure(place, exc)) from exc
        except BaseException:
            place.open -= 1
            self._wake(place)
            raise
        conn.counted = True
        return conn

    def _release(self, conn: Connection) -> None:
        place = conn.place
        conn.busy = False
        if conn.reusable and len(place.idle) < MAX_IDLE and not self._closed:
            place.idle.append(conn)
            self._wake(place)
        else:
            conn.close(graceful=conn.complete and not conn.chunks)

    def _discard(self, conn: Connection) -> None:
        conn.busy = False
        conn.close()

    def _lost(self, conn: Connection) -> None:
        if not conn.counted:
            return
        conn.counted = False
        place = conn.place
        place.open -= 1
        if conn in place.idle:
            place.idle.remove(conn)
        self._wake(place)

    @staticmethod
    def _drop_idle(place: _Origin) -> None:
        for conn in place.idle:
            conn.close()
        place.idle.clear()

    @staticmethod
    def _wake(place: _Origin) -> None:
        while place.waiters:
            waiter = place.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close the idle connections now, and those serving an answer when it is released.
        A closed pool can still be used: it makes new connections, and keeps none."""
        self._closed = True
        for place in self._origins.values():
            for conn in place.idle:
                conn.close(graceful=True)
            place.idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost


async def _send_body(conn: Connection, body: AsyncIterator[bytes], chunked: bool) -> None:
    async for piece in body:
        if conn.head_done or conn.error is not None:
            return  # answered (or broken) before the body was all sent: stop sending it
        if not piece:
            continue
        if chunked:
            await conn.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        else:
            await conn.write(piece)
    if chunked:
        await conn.write(b"0\r\n\r\n")
    conn.sent = True


def _connect_failure(place: _Origin, exc: OSError) -> str:
    address = f"{place.host}:{place.port}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {address} failed ({exc.reason or exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection to {address} refused"
    # No strerror: asyncio's "Multiple exceptions: ..." for a name with several addresses.
    return f"no connection to {address}: {exc.strerror or exc}"

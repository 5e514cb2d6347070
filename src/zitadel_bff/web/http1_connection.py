"""One kept-alive connection to an upstream (:class:`Connection`, an asyncio protocol feeding
httptools' response parser) and the answer read on it (:class:`Response`), for
:class:`~zitadel_bff.web.http1.ConnectionPool`, which owns the connections: see that module
for what the client does and leaves out."""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, cast

import httptools

if TYPE_CHECKING:
    from .http1 import ConnectionPool, _Origin

__all__ = ["HIGH_WATER", "MAX_HEAD", "Connection", "Response", "UpstreamError"]

#: Bytes of an answer held before reading from the upstream pauses (it resumes once they are read).
HIGH_WATER = 256 * 1024
#: The largest answer head (status line and headers) accepted.
MAX_HEAD = 256 * 1024


class UpstreamError(Exception):
    """The upstream could not be reached, broke the connection, or sent something unreadable."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        #: Nothing was answered on a reused connection: the request may be sent again.
        self.retryable = retryable


class Connection(asyncio.Protocol):
    """One connection and the answer being read on it (one request at a time)."""

    def __init__(self, pool: ConnectionPool, place: _Origin) -> None:
        self.pool = pool
        self.place = place
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        #: Counted in ``place.open`` (from the moment the connection is handed out).
        self.counted = False
        self.reused = False
        self.closed = False
        #: Serving a request (data on an idle connection is a protocol error).
        self.busy = False
        self.error: UpstreamError | None = None
        self._reset(head_only=False)

    def _reset(self, *, head_only: bool) -> None:
        self.head_only = head_only
        self.error = None
        #: The request, body included, was all sent (else the connection cannot be reused).
        self.sent = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
        #: Bytes received since a read that brought body bytes or a complete head: a head or
        #: trailer being built (httptools holds a field until its line ends), at most MAX_HEAD.
        self.unparsed = 0
        self.progressed = False
        self.head_done = False
        self.keep_alive = False
        self.complete = False
        self.received = False
        self.length_known = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None
        self.writable: asyncio.Future[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if not self.busy:
            self.close()  # nothing was asked: whatever this is, the connection is unusable
            return
        self.received = True
        self.progressed = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            # An error raised by a callback below reaches us as the context of httptools' own.
            error = exc.__context__
            if not isinstance(error, UpstreamError):
                error = UpstreamError(f"the upstream's answer is not valid HTTP/1.1 ({exc})")
            self._broken(error)
            return
        if self.progressed:
            self.unparsed = 0
            return
        self.unparsed += len(data)
        if self.unparsed > MAX_HEAD:
            what = "trailer" if self.head_done else "head"
            self._broken(UpstreamError(f"the upstream's answer {what} is over {MAX_HEAD} bytes"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._lost(self)
        framed_by_end = self.head_done and not self.length_known and not self.head_only
        if framed_by_end and not self.complete and exc is None and self.error is None:
            self._finish()  # the orderly end of an answer framed by it (a reset cuts it short)
        elif not self.complete:
            retryable = self.reused and not self.received
            self._fail(UpstreamError("the upstream closed the connection", retryable=retryable))
        self._writer_go_on()

    def pause_writing(self) -> None:
        if self.writable is None or self.writable.done():
            self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._writer_go_on()

    def _writer_go_on(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self.complete:  # more after the answer: nothing the next request may read as its own
            raise UpstreamError("the upstream sent more than its answer")
        self.headers = []
        self.head_size = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head_done:
            return  # a trailer field, after a chunked body: the proxy forwards none
        self.head_size += len(name) + len(value) + 4
        if self.head_size > MAX_HEAD:
            raise UpstreamError(f"the upstream's answer head is over {MAX_HEAD} bytes")
        name = name.lower()
        if name == b"content-length" or (
            # Chunked framing only when it is the last coding (RFC 9112 6.3); "chunked, gzip"
            # is framed by the end of the connection, as llhttp reads it.
            name == b"transfer-encoding" and value.rstrip().lower().endswith(b"chunked")
        ):
            self.length_known = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.progressed = True
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            self.length_known = False
            return  # informational: the real answer follows
        self.status = status
        self.head_done = True
        # Asked now: once the answer is complete, llhttp says False whatever the answer said.
        self.keep_alive = self.parser.should_keep_alive()
        self._writer_go_on()  # answered early: a body blocked on a full buffer stops being sent
        if self.head_only or status in (204, 304):
            self.length_known = True
        if self.head_only:
            self._finish()  # the length it announces is that of a GET's body, never sent
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.progressed = True
        if self.complete:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done and not self.complete:
            self._finish()

    # our side

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    def _broken(self, error: UpstreamError) -> None:
        self._fail(error)
        self.close()

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None and not self.complete:
            self.error = error
            self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def close(self, *, graceful: bool = False) -> None:
        """Close the connection: ``graceful`` after what is written (FIN), else at once (RST,
        for an answer abandoned midway, which must not be read further). Bytes still waiting
        to be written make it at once too: an upstream that answered early and reads no more
        never takes them, and the connection would hold its place in the pool for good."""
        if not self.closed and self.transport is not None:
            self.closed = True
            if graceful and not self.transport.get_write_buffer_size():
                self.transport.close()
            else:
                self.transport.abort()

    async def write(self, data: bytes) -> None:
        if self.closed or self.transport is None:
            raise self.error or UpstreamError("the upstream closed the connection")
        self.transport.write(data)
        if self.writable is not None and not self.writable.done():
            await self.writable

    async def head(self) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            await self._wait()

    @property
    def reusable(self) -> bool:
        return (
            self.complete
            and self.sent
            and not self.chunks
            and not self.closed
            and not self.head_only
            and self.error is None
            and self.keep_alive
        )


class Response:
    """An answer whose head has arrived; its body is read with :meth:`read`, and it must be
    :meth:`release`-d (a fully read answer frees its connection for the next request)."""

    __slots__ = ("_conn", "_released", "headers", "status")

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._released = False
        self.status = conn.status
        #: Header names lowercased, values as sent.
        self.headers = conn.headers

    @property
    def at_eof(self) -> bool:
        """All of the body has been read."""
        conn = self._conn
        return conn.complete and not conn.chunks

    async def read(self) -> bytes:
        """The body's next bytes (what arrived since the last read); ``b""`` at its end."""
        conn = self._conn
        while not conn.chunks:
            if conn.complete:
                return b""
            if conn.error is not None:
                raise conn.error
            await conn._wait()
        chunks = conn.chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        conn.buffered = 0
        if conn.paused and conn.transport is not None and not conn.closed:
            conn.paused = False
            conn.transport.resume_reading()
        return data

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool when the answer was read
        to its end and may be kept alive, else it is closed. Again: nothing (the connection
        may serve another request by then)."""
        if not self._released:
            self._released = True
            self._conn.pool._release(self._conn)

    def close(self) -> None:
        """Abandon the answer: close the connection now (a pending :meth:`read` fails)."""
        conn = self._conn
        conn._fail(UpstreamError("the answer was abandoned"))
        conn.close()

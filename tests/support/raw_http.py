"""A raw HTTP/1.1 upstream for client tests: ``asyncio.start_server`` on 127.0.0.1 running one
scripted coroutine per accepted connection, so that each case answers exactly the bytes it
needs (a cut-off body, a stray byte, a reset) at exactly the moment it needs them.

The server counts connections (accepted, open now, most open at once). A script's failure is
raised again when the server's ``async with`` block ends, so what a script asserts counts.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import cast

__all__ = ["Head", "Peer", "RawServer", "answer"]

LOOPBACK = "127.0.0.1"
#: Largest request head or chunk-size line a script reads.
READ_LIMIT = 1024 * 1024
REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    103: "Early Hints",
    200: "OK",
    204: "No Content",
    304: "Not Modified",
    413: "Content Too Large",
}


def answer(
    body: bytes = b"",
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
    length: bool = True,
    version: str = "HTTP/1.1",
) -> bytes:
    """An answer's bytes: status line, ``headers``, ``Content-Length`` (unless ``length`` is
    false: then the answer is framed by the end of the connection) and ``body``."""
    lines = [f"{version} {status} {REASONS.get(status, 'Whatever')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True, slots=True)
class Head:
    """A request line and headers as received (names lowercased)."""

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]

    def get(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Peer:
    """One accepted connection, as its script sees it."""

    def __init__(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        #: 0 for the server's first connection, 1 for its second...
        self.index = index
        self.reader = reader
        self.writer = writer

    async def head(self) -> Head | None:
        """The next request's head; None when the client closed the connection instead."""
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return None
        except ConnectionResetError:
            return None
        line, *fields = raw[:-4].split(b"\r\n")
        method, target, _ = line.split(b" ", 2)
        headers = []
        for field in fields:
            name, _, value = field.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
        return Head(method, target, headers)

    async def body(self, head: Head) -> bytes:
        """The request body that follows ``head``: by its Content-Length or chunked coding."""
        if head.get(b"transfer-encoding") == b"chunked":
            return await self._chunked()
        length = int(head.get(b"content-length") or b"0")
        return await self.reader.readexactly(length)

    async def _chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailer fields
                return bytes(out)
            out += await self.reader.readexactly(size)
            if await self.reader.readexactly(2) != b"\r\n":
                raise AssertionError("a chunk does not end with CRLF")

    async def request(self) -> tuple[Head, bytes]:
        """The next request, head and body; AssertionError when the client closed instead."""
        head = await self.head()
        if head is None:
            raise AssertionError(f"connection {self.index}: closed where a request was expected")
        return head, await self.body(head)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def client_closed(self) -> int:
        """Wait for the client to close the connection (an end or a reset); the bytes it sent
        meanwhile, which are discarded."""
        count = 0
        try:
            while data := await self.reader.read(256 * 1024):
                count += len(data)
        except ConnectionResetError:
            pass
        return count

    def stop_reading(self) -> None:
        """Read nothing more from the socket (the stream reader buffers ahead otherwise)."""
        cast(asyncio.Transport, self.writer.transport).pause_reading()

    def read_again(self) -> None:
        cast(asyncio.Transport, self.writer.transport).resume_reading()

    def reset(self) -> None:
        """Abort the connection with a TCP reset instead of an orderly end."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


Script = Callable[[Peer], Awaitable[None]]


class RawServer:
    """``async with RawServer(script) as server``: ``server.origin`` serves ``script(peer)`` on
    each connection; the connection is closed when the script returns."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        #: Connections accepted so far.
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.failures: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.origin = ""

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(
            self._serve, LOOPBACK, 0, ssl=self.tls, limit=READ_LIMIT
        )
        port = self._server.sockets[0].getsockname()[1]
        self.origin = f"{'https' if self.tls else 'http'}://{LOOPBACK}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if exc is None and self.failures:
            raise self.failures[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(self.connections, reader, writer)
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            await self.script(peer)
        except asyncio.CancelledError:
            pass  # the server's end (asyncio 3.11 logs a cancelled connection task as an error)
        except Exception as exc:  # raised again by __aexit__
            self.failures.append(exc)
        finally:
            self.open -= 1
            writer.close()
            self._tasks.discard(task)

"""A lean connection for the Redis hot path: one Lua script, run by EVALSHA for any number of
coroutines at once over one dedicated connection.

Why: a session read is one EVALSHA, and redis-py's asyncio client spends several times the
round trip itself on it (a pool checkout with a non-blocking read, its retry and
observability layers, packing). Here a call packs its arguments into a prepared EVALSHA,
writes it to the transport and waits for its reply, which ``hiredis`` parses.

Pipelining: calls are written in the order they are made, whoever makes them, and Redis
answers one connection's commands in order (RESP), so replies are matched to calls first in,
first out. Nothing waits for the previous call's reply before writing the next.

What a caller gets besides the reply:

- :class:`ChannelUnavailable`: the channel could not run the call (no connection, the
  connection was lost with the call on it, or Redis answered an error other than NOSCRIPT);
  run it another way. Every use here is safe to run twice (a read, an expiry moved to an
  absolute time), so nothing is lost by a call that may have run before its reply was lost.
- TimeoutError: the oldest call on the connection waited past its deadline (Redis frozen or
  unreachable). The connection is closed and every call on it fails the same way.

NOSCRIPT (a new, restarted or failed-over server) is answered by sending the script itself
(EVAL), which also loads it for the next EVALSHA. A lost connection is reopened by the next
call; after a failed attempt, calls raise :class:`ChannelUnavailable` at once for
``reconnect_pause`` seconds, doubled after each further failure up to RECONNECT_PAUSE_MAX,
rather than each paying for a connect that is likely to fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import hiredis

__all__ = ["ChannelUnavailable", "ScriptChannel"]

logger = logging.getLogger(__name__)

Address = tuple[str, int]
#: Seconds without a connection attempt after a failed one, doubling while they keep failing
#: (a wrong password, an ACL without ROLE) up to the most.
RECONNECT_PAUSE = 1.0
RECONNECT_PAUSE_MAX = 16.0
#: What hiredis returns while a reply is incomplete (RESP2 has no boolean reply).
_INCOMPLETE = object()


class ChannelUnavailable(Exception):
    """The channel could not run the call: run it another way."""


def _command(*parts: bytes) -> bytes:
    """One command in RESP: an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


def _script_call(verb: bytes, keys: Sequence[str], args: Sequence[int]) -> bytes:
    """EVALSHA or EVAL (``verb``: the command and the script's SHA-1 or source, packed), the
    number of keys, the keys and the arguments, in RESP."""
    numkeys = b"%d" % len(keys)
    parts = [b"*%d\r\n%s$%d\r\n%s\r\n" % (3 + len(keys) + len(args), verb, len(numkeys),
                                             numkeys)]
    for key in keys:
        data = key.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    for arg in args:
        data = b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _refusal(name: str, reply: Any) -> str | None:
    """Why the server refused a handshake command, or None when it did not."""
    if isinstance(reply, hiredis.ReplyError):
        return f"{name} refused: {reply}"
    if isinstance(reply, BaseException):
        return f"{name} failed: {reply or reply.__class__.__name__}"
    return None


class _Connection(asyncio.Protocol):
    """One connection: each reply goes to the oldest call still waiting for one.

    A single timer watches the deadline of the oldest call (calls behind it have later
    ones): it fires at that deadline, and moves on to the next oldest call's when the
    oldest was answered in time. Answered calls never touch the timer.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, on_close: Callable[[_Connection, str],
                                                                          None]) -> None:
        self.loop = loop
        self.open = False
        self._on_close = on_close
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader(notEnoughData=_INCOMPLETE)
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._watchdog: asyncio.TimerHandle | None = None

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.open = True

    def data_received(self, data: bytes) -> None:
        reader, waiting = self._reader, self._waiting
        reader.feed(data)
        try:
            reply = reader.gets()
            while reply is not _INCOMPLETE:
                future = waiting.popleft()[0]
                if not future.done():  # a caller cancelled while waiting
                    future.set_result(reply)
                reply = reader.gets()
        except hiredis.ProtocolError:
            self.close("its reply could not be parsed", ChannelUnavailable)
        except IndexError:
            self.close("it sent a reply nobody asked for", ChannelUnavailable)

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"the connection was lost ({exc.__class__.__name__})" if exc else (
            "the server closed the connection")
        self.close(reason, ChannelUnavailable)

    # calls --------------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def send(self, payload: bytes, deadline: float) -> asyncio.Future[Any]:
        """Write one command; the future gets its reply (an error reply is a ReplyError)."""
        if not self.open:
            raise ChannelUnavailable("the connection is closed")
        future = self.loop.create_future()
        self._waiting.append((future, deadline))
        assert self._transport is not None
        self._transport.write(payload)
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(deadline, self._check_deadline)
        return future

    def _check_deadline(self) -> None:
        self._watchdog = None
        if not self._waiting:
            return
        deadline = self._waiting[0][1]
        if deadline <= self.loop.time():
            self.close("Redis did not answer in time", TimeoutError)
        else:
            self._watchdog = self.loop.call_at(deadline, self._check_deadline)

    def close(self, reason: str, error: Callable[[str], Exception]) -> None:
        """Close the connection; every call still waiting fails with ``error(reason)``."""
        if not self.open and self._transport is None:
            return
        self.open = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiting, self._waiting = self._waiting, deque()
        for future, _ in waiting:
            if not future.done():
                future.set_exception(error(reason))
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        self._on_close(self, reason)


class ScriptChannel:
    """Runs one Lua script over one dedicated connection, pipelining concurrent calls.

    ``address`` names the server to connect to, asked again at each (re)connection (a
    Sentinel's current master). ``credentials`` returns ``()``, ``(password,)`` or
    ``(username, password)``; ``ssl_context``, when given, the TLS context (built at the first
    connection, so that a missing CA file is a failed connection, not a failed start). With
    ``require_master`` a server whose ROLE is not master is refused (a Sentinel's stale
    answer). Every part of opening a connection together is bounded by ``connect_timeout``.
    """

    def __init__(
        self,
        script: str,
        *,
        address: Callable[[], Awaitable[Address]],
        credentials: Callable[[], Awaitable[tuple[str, ...]]],
        db: int = 0,
        ssl_context: Callable[[], ssl.SSLContext] | None = None,
        client_name: str | None = None,
        require_master: bool = False,
        connect_timeout: float,
        reconnect_pause: float = RECONNECT_PAUSE,
    ) -> None:
        self._script = script.encode()
        # Redis names scripts by their SHA-1 (EVALSHA); not a security use.
        sha = hashlib.sha1(self._script, usedforsecurity=False).hexdigest().encode()
        self._evalsha = b"$7\r\nEVALSHA\r\n$40\r\n" + sha + b"\r\n"
        self._eval = b"$4\r\nEVAL\r\n$%d\r\n%s\r\n" % (len(self._script), self._script)
        self._address = address
        self._credentials = credentials
        self._db = db
        self._ssl = ssl_context
        self._client_name = client_name
        self._require_master = require_master
        self._connect_timeout = connect_timeout
        self.reconnect_pause = reconnect_pause
        self._pause = reconnect_pause
        self._conn: _Connection | None = None
        self._opening: asyncio.Task[_Connection | None] | None = None
        self._retry_at = 0.0
        self._failing = False
        #: Connections opened so far (for tests and the curious).
        self.connections = 0

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.open

    @property
    def waiting(self) -> int:
        """Calls written to the connection and not yet answered."""
        return self._conn.waiting if self._conn is not None else 0

    async def run(self, keys: Sequence[str], args: Sequence[int], deadline: float) -> Any:
        """The script's reply for ``keys`` and ``args``; ``deadline`` is in loop time."""
        conn = self._conn
        if conn is None or conn.loop is not asyncio.get_running_loop():
            conn = await self._connection(deadline)
        reply = await conn.send(_script_call(self._evalsha, keys, args), deadline)
        if type(reply) is hiredis.ReplyError:
            reply = await self._after_error(conn, reply, keys, args, deadline)
        return reply

    async def _after_error(self, conn: _Connection, reply: hiredis.ReplyError,
                           keys: Sequence[str], args: Sequence[int], deadline: float) -> Any:
        if str(reply).startswith("NOSCRIPT"):
            # The server lacks the script: send it (EVAL also caches it for EVALSHA).
            reply = await conn.send(_script_call(self._eval, keys, args), deadline)
            if type(reply) is not hiredis.ReplyError:
                return reply
        # READONLY (a demoted master), LOADING, NOAUTH, BUSY...: the pool's client knows
        # what each means; this connection is given up, and reopened by a later call.
        conn.close(f"Redis answered {str(reply).split(' ', 1)[0]}", ChannelUnavailable)
        raise ChannelUnavailable(str(reply))

    # connections ------------------------------------------------------------------------------

    async def _connection(self, deadline: float) -> _Connection:
        """The open connection, waiting for one being opened (up to ``deadline``: then
        TimeoutError, like a call that was not answered in time)."""
        loop = asyncio.get_running_loop()
        # A connection left here belongs to another event loop (another thread, or a loop
        # that has ended): of no use on this one, and not this loop's to close.
        self._conn = None
        opening = self._opening
        if opening is None or opening.get_loop() is not loop:
            if loop.time() < self._retry_at:
                raise ChannelUnavailable("reconnecting after a failure")
            opening = self._opening = loop.create_task(self._open(loop))
        # Shielded: a caller that goes away must not cancel the connection others wait for.
        try:
            async with asyncio.timeout_at(deadline):
                conn = await asyncio.shield(opening)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if opening.cancelled() and task is not None and not task.cancelling():
                raise ChannelUnavailable("the channel was closed") from None
            raise
        if conn is None:
            raise ChannelUnavailable("no connection")
        return conn

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        try:
            async with asyncio.timeout(self._connect_timeout):
                conn = await self._connect(loop)
        except (OSError, TimeoutError, ChannelUnavailable) as exc:
            self._retry_at = loop.time() + self._pause
            self._pause = min(2 * self._pause, RECONNECT_PAUSE_MAX)
            reason = str(exc) or exc.__class__.__name__
            if not self._failing:  # once per outage, not once per attempt
                logger.warning("Redis hot-path connection failed (%s): reads go through the "
                               "connection pool until it succeeds", reason)
            else:
                logger.debug("Redis hot-path connection failed again: %s", reason)
            self._failing = True
            return None
        finally:
            self._opening = None
        if self._failing:
            logger.info("Redis hot-path connection open again")
        self._failing = False
        self._pause = self.reconnect_pause
        self._conn = conn
        self.connections += 1
        return conn

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        host, port = await self._address()
        transport, conn = await loop.create_connection(
            lambda: _Connection(loop, self._closed), host, port,
            ssl=self._ssl() if self._ssl is not None else None)
        try:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._handshake(conn, loop.time() + self._connect_timeout)
        except BaseException:
            conn.close("the handshake failed", ChannelUnavailable)
            raise
        return conn

    async def _handshake(self, conn: _Connection, deadline: float) -> None:
        """AUTH, SELECT, CLIENT SETNAME and ROLE as configured, pipelined."""
        commands: list[tuple[str, bytes]] = []
        credentials = await self._credentials()
        if credentials:
            commands.append(("AUTH", _command(b"AUTH", *(c.encode() for c in credentials))))
        if self._db:
            commands.append(("SELECT", _command(b"SELECT", b"%d" % self._db)))
        if self._client_name:
            commands.append(("CLIENT SETNAME", _command(b"CLIENT", b"SETNAME",
                                                        self._client_name.encode())))
        if self._require_master:
            commands.append(("ROLE", _command(b"ROLE")))
        if not commands:
            return
        futures = [conn.send(payload, deadline) for _, payload in commands]
        replies = await asyncio.gather(*futures, return_exceptions=True)
        for (name, _), reply in zip(commands, replies, strict=True):
            refused = _refusal(name, reply)
            if refused is not None:
                raise ChannelUnavailable(refused)
        last: Any = replies[-1]  # not an exception: checked above
        role = last[0] if self._require_master else b"master"
        if role != b"master":
            raise ChannelUnavailable(f"the server is a {role.decode()}, not the master")

    def _closed(self, conn: _Connection, reason: str) -> None:
        if conn is self._conn:
            self._conn = None
            logger.info("Redis hot-path connection closed: %s", reason)

    async def close(self) -> None:
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            opening.cancel()
            await asyncio.wait({opening})
        if self._conn is not None:
            self._conn.close("the store was closed", ChannelUnavailable)

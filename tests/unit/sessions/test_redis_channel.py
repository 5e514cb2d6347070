"""The hot-path channel's reply matching, without a server: a fake transport records what is
written, and replies are fed as the network would deliver them (split, or several at once)."""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis
import pytest

from zitadel_bff.sessions.stores.redis_channel import (
    ChannelUnavailable,
    _Connection,
    _script_call,
)

FAR = 1e9  # a deadline nobody reaches in these tests


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self) -> None:
        self.aborted = True


def connection() -> tuple[_Connection, FakeTransport, list[str]]:
    closed: list[str] = []
    conn = _Connection(asyncio.get_running_loop(), lambda _, reason: closed.append(reason))
    transport = FakeTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    return conn, transport, closed


async def test_replies_go_to_the_calls_in_order_however_they_arrive() -> None:
    conn, transport, _ = connection()
    calls = [conn.send(b"call %d" % i, FAR) for i in range(4)]
    assert transport.written == [b"call 0", b"call 1", b"call 2", b"call 3"]
    conn.data_received(b"$5\r\nfir")  # the first reply split across two reads
    assert not calls[0].done()
    conn.data_received(b"st\r\n:2\r\n*2\r\n$1\r\na\r\n:-1\r\n$-1\r\n")  # three at once
    assert [await c for c in calls] == [b"first", 2, [b"a", -1], None]
    assert conn.waiting == 0


async def test_an_error_reply_is_the_calls_reply_and_keeps_the_connection() -> None:
    conn, _, closed = connection()
    call = conn.send(b"x", FAR)
    conn.data_received(b"-NOSCRIPT No matching script.\r\n")
    reply: Any = await call
    assert isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT")
    assert conn.open and closed == []


async def test_a_cancelled_call_does_not_shift_the_others_replies() -> None:
    conn, _, _ = connection()
    first, second, third = (conn.send(b"x", FAR) for _ in range(3))
    second.cancel()
    conn.data_received(b":1\r\n:2\r\n:3\r\n")
    assert (await first, await third) == (1, 3)


async def test_a_reply_nobody_asked_for_closes_the_connection() -> None:
    conn, transport, closed = connection()
    call = conn.send(b"x", FAR)
    conn.data_received(b":1\r\n:2\r\n")
    assert await call == 1
    assert closed == ["it sent a reply nobody asked for"] and transport.aborted
    with pytest.raises(ChannelUnavailable, match="closed"):
        conn.send(b"z", FAR)


async def test_an_unreadable_reply_closes_the_connection_and_fails_its_calls() -> None:
    conn, transport, closed = connection()
    calls = [conn.send(b"x", FAR), conn.send(b"y", FAR)]
    conn.data_received(b"?what\r\n")
    for call in calls:
        with pytest.raises(ChannelUnavailable, match="could not be parsed"):
            await call
    assert closed == ["its reply could not be parsed"] and transport.aborted and not conn.open


async def test_the_oldest_calls_deadline_fails_every_waiting_call() -> None:
    conn, transport, closed = connection()
    loop = asyncio.get_running_loop()
    first = conn.send(b"x", loop.time() - 1)  # already due: the timer fires at once
    second = conn.send(b"y", FAR)
    for call in (first, second):
        with pytest.raises(TimeoutError, match="did not answer"):
            await call
    assert closed == ["Redis did not answer in time"] and transport.aborted


async def test_a_lost_connection_fails_the_waiting_calls() -> None:
    conn, _, closed = connection()
    call = conn.send(b"x", FAR)
    conn.connection_lost(ConnectionResetError())
    with pytest.raises(ChannelUnavailable, match="lost"):
        await call
    assert closed == ["the connection was lost (ConnectionResetError)"]


@pytest.mark.parametrize(
    ("keys", "args"),
    [((), ()), (("zbff:{s:a}", "zbff:{s:a}:tags"), (1795798181344, 60000)),
     (tuple(f"k{i}" for i in range(12)), (-1, 0))],
)
def test_a_script_call_is_packed_as_hiredis_packs_it(
    keys: tuple[str, ...], args: tuple[int, ...]
) -> None:
    sha = "a" * 40
    verb = b"$7\r\nEVALSHA\r\n$40\r\n" + sha.encode() + b"\r\n"
    command: Any = ("EVALSHA", sha, len(keys), *keys, *args)  # its stub wants a 1-tuple
    assert _script_call(verb, keys, args) == hiredis.pack_command(command)

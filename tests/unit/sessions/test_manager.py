"""The session manager in-process: a memory store, a scripted refresher and a clock we move.

Covers single-flight refresh when the provider fails too, the back-off after provider errors,
store locks that are not granted, and the two concurrent writes (sliding expiry and token
rotation) that must never lose each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from zitadel_bff.errors import (
    ProviderUnavailable,
    RefreshRefused,
    SessionEnded,
    TokenExchangeFailed,
)
from zitadel_bff.sessions import Keyring, MemoryStore, SessionData, SessionManager
from zitadel_bff.sessions import manager as manager_module
from zitadel_bff.sessions.manager import BACKOFF_FIRST

SECRET = "unit-test-session-secret-0123456789-abcdef"
T0 = 1_800_000_000.0
TOKEN_LIFETIME = 300.0
REFRESH_DUE = TOKEN_LIFETIME - 60.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_at: float | None


class Refresher:
    """Answers refreshes as told: tokens, a refusal or an outage; optionally waits for a gate."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[str] = []
        self.outcome: str = "ok"
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def refresh(self, refresh_token: str, *, sub: str) -> Tokens:
        self.calls.append(refresh_token)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.outcome == "down":
            raise ProviderUnavailable(
                "POST https://idp.example/oauth/v2/token failed: connection refused by "
                "idp.example:443"
            )
        if self.outcome == "refused":
            raise TokenExchangeFailed("token endpoint refused: invalid_grant")
        n = len(self.calls)
        return Tokens(f"at-{n}", f"id-{n}", f"rt-{n}", self.clock() + TOKEN_LIFETIME)


class ClockedMemoryStore(MemoryStore):
    """The memory store, expiring by the test's clock instead of the wall clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def _live(self, key: str) -> Any:
        item = self._data.get(key)
        if item is None or item[1] <= self.clock():
            return None
        return item


class UngrantedLockStore(ClockedMemoryStore):
    @asynccontextmanager
    async def lock(self, key: str, ttl: float) -> AsyncIterator[bool]:
        yield False


def manager_for(store: MemoryStore, clock: Clock, refresher: Refresher) -> SessionManager:
    return SessionManager(
        store=store,
        keyring=Keyring(SECRET),
        refresher=refresher,
        idle_timeout=3600,
        max_lifetime=86400,
        clock=clock,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> ClockedMemoryStore:
    return ClockedMemoryStore(clock)


@pytest.fixture
def refresher(clock: Clock) -> Refresher:
    return Refresher(clock)


@pytest.fixture
def manager(store: ClockedMemoryStore, clock: Clock, refresher: Refresher) -> SessionManager:
    return manager_for(store, clock, refresher)


async def signed_in(manager: SessionManager, clock: Clock) -> tuple[str, SessionData]:
    tokens = Tokens("at-0", "id-0", "rt-0", clock() + TOKEN_LIFETIME)
    data = SessionData.from_tokens(
        tokens, sub="301234567890123456", claims={"sub": "301234567890123456"}, sid="sid-1",
        now=clock(),
    )
    session_id = await manager.create(data)
    return session_id, data


async def stored(manager: SessionManager, session_id: str) -> SessionData | None:
    return await manager._read(manager._key(session_id))


async def fresh_all(manager: SessionManager, session_id: str, n: int) -> list[Any]:
    data = await manager.load(session_id)
    assert data is not None
    return await asyncio.gather(
        *[manager.ensure_fresh(session_id, data) for _ in range(n)], return_exceptions=True
    )


async def test_not_due_means_no_refresh(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE - 1
    results = await fresh_all(manager, session_id, 3)
    assert [r.access_token for r in results] == ["at-0"] * 3
    assert refresher.calls == []


async def test_concurrent_requests_share_one_refresh(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    results = await fresh_all(manager, session_id, 6)
    assert refresher.calls == ["rt-0"]
    assert {r.access_token for r in results} == {"at-1"}
    record = await stored(manager, session_id)
    assert record is not None and record.refresh_token == "rt-1"
    assert record.refreshed_at == clock.now
    assert record.refresh_at == clock.now + REFRESH_DUE  # rescheduled from the refresh


async def test_waiters_share_a_provider_failure_and_keep_the_session(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    refresher.outcome = "down"
    refresher.gate = asyncio.Event()
    data = await manager.load(session_id)
    assert data is not None
    tasks = [asyncio.ensure_future(manager.ensure_fresh(session_id, data)) for _ in range(6)]
    await refresher.entered.wait()
    await asyncio.sleep(0)  # every task is now waiting on the one attempt
    refresher.gate.set()
    results = await asyncio.gather(*tasks)
    assert refresher.calls == ["rt-0"]  # one provider call for six requests
    assert [r.access_token for r in results] == ["at-0"] * 6  # served as they are
    assert await stored(manager, session_id) is not None


async def test_provider_failures_back_off_with_a_growing_interval(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    refresher.outcome = "down"
    await fresh_all(manager, session_id, 1)
    assert len(refresher.calls) == 1
    clock.now += BACKOFF_FIRST * 0.9
    await fresh_all(manager, session_id, 3)
    assert len(refresher.calls) == 1  # still backing off: no attempt, the session is served
    clock.now += BACKOFF_FIRST * 0.2
    await fresh_all(manager, session_id, 1)
    assert len(refresher.calls) == 2  # second failure: the interval doubles
    clock.now += BACKOFF_FIRST * 1.5
    await fresh_all(manager, session_id, 1)
    assert len(refresher.calls) == 2
    clock.now += BACKOFF_FIRST * 0.6
    refresher.outcome = "ok"
    results = await fresh_all(manager, session_id, 1)
    assert len(refresher.calls) == 3 and results[0].access_token == "at-3"
    clock.now += REFRESH_DUE - 1
    await fresh_all(manager, session_id, 1)
    assert len(refresher.calls) == 3  # success cleared the back-off and rescheduled


async def test_a_refused_refresh_ends_the_session_for_every_waiter(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    refresher.outcome = "refused"
    results = await fresh_all(manager, session_id, 4)
    assert all(isinstance(r, RefreshRefused) for r in results)
    assert refresher.calls == ["rt-0"]
    assert await manager.load(session_id) is None


async def test_a_lock_not_granted_is_not_treated_as_granted(
    clock: Clock, refresher: Refresher
) -> None:
    store = UngrantedLockStore(clock)
    manager = manager_for(store, clock, refresher)
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    results = await fresh_all(manager, session_id, 3)
    assert refresher.calls == []
    assert [r.access_token for r in results] == ["at-0"] * 3
    clock.now += BACKOFF_FIRST / 2
    await fresh_all(manager, session_id, 1)
    assert refresher.calls == []


async def test_touch_during_refresh_keeps_both_writes(
    store: ClockedMemoryStore, clock: Clock, refresher: Refresher
) -> None:
    """Instance A refreshes (rotating the refresh token) while instance B, one touch interval
    later, extends the idle expiry: the record must keep B's expiry AND A's new token."""
    a = manager_for(store, clock, refresher)
    b = manager_for(store, clock, Refresher(clock))
    session_id, _ = await signed_in(a, clock)
    assert await b.load(session_id) is not None  # B has the record decoded and cached
    clock.now += REFRESH_DUE
    refresher.gate = asyncio.Event()
    data = await a.load(session_id)
    assert data is not None
    refreshing = asyncio.ensure_future(a.ensure_fresh(session_id, data))
    await refresher.entered.wait()
    touched = await b.load(session_id)  # B touches while A waits on the provider
    assert touched is not None and touched.expires_at == clock.now + 3600
    refresher.gate.set()
    assert (await refreshing).refresh_token == "rt-1"
    record = await stored(b, session_id)
    assert record is not None
    assert record.refresh_token == "rt-1" and record.expires_at == clock.now + 3600

    # And the other order: B, still holding the old record, touches after A's rotation.
    clock.now += b.touch_interval
    again = await b.load(session_id)
    assert again is not None and again.refresh_token == "rt-1"
    record = await stored(a, session_id)
    assert record is not None and record.refresh_token == "rt-1"


async def test_a_session_ended_during_its_refresh_stays_ended(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    refresher.gate = asyncio.Event()
    data = await manager.load(session_id)
    assert data is not None
    refreshing = asyncio.ensure_future(manager.ensure_fresh(session_id, data))
    await refresher.entered.wait()
    assert await manager.end_by_sid("sid-1") == 1  # back-channel logout meanwhile
    refresher.gate.set()
    with pytest.raises(SessionEnded):
        await refreshing
    assert await manager.load(session_id) is None


async def test_refused_access_token_is_refreshed_once(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, data = await signed_in(manager, clock)
    results = await asyncio.gather(
        *[manager.refresh_refused_token(session_id, data) for _ in range(3)]
    )
    assert refresher.calls == ["rt-0"]
    assert {r.access_token for r in results} == {"at-1"}
    # A late caller still holding the refused token gets the new one, with no second refresh.
    late = await manager.refresh_refused_token(session_id, data)
    assert late.access_token == "at-1" and refresher.calls == ["rt-0"]


async def test_refused_access_token_then_refused_refresh_ends_the_session(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, data = await signed_in(manager, clock)
    refresher.outcome = "refused"
    with pytest.raises(RefreshRefused):
        await manager.refresh_refused_token(session_id, data)
    assert await manager.load(session_id) is None


async def test_refused_access_token_with_provider_down_is_unavailable(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, data = await signed_in(manager, clock)
    refresher.outcome = "down"
    with pytest.raises(ProviderUnavailable):
        await manager.refresh_refused_token(session_id, data)
    assert await manager.load(session_id) is not None


async def test_refused_access_token_without_refresh_token_ends_the_session(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    tokens = Tokens("at-0", "id-0", None, clock() + TOKEN_LIFETIME)
    data = SessionData.from_tokens(tokens, sub="1", claims={"sub": "1"}, sid=None, now=clock())
    session_id = await manager.create(data)
    with pytest.raises(RefreshRefused):
        await manager.refresh_refused_token(session_id, data)
    assert refresher.calls == [] and await manager.load(session_id) is None


async def test_idle_and_absolute_expiry_follow_the_clock(
    manager: SessionManager, clock: Clock
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += 3000
    assert await manager.load(session_id) is not None  # touched: idle expiry moves on
    clock.now += 3000
    assert await manager.load(session_id) is not None
    manager.max_lifetime = 7000  # lowered by an operator: applies to existing sessions
    clock.now += 1000
    assert await manager.load(session_id) is None


async def test_records_of_an_older_version_are_read(manager: SessionManager, clock: Clock) -> None:
    session_id, data = await signed_in(manager, clock)
    key = manager._key(session_id)
    legacy = data.to_json()[:-1] + b',"last_seen":1.0}'
    await manager.store.update(key, manager.keyring.seal(legacy, aad=key.encode()))
    manager._decoded.clear()
    loaded = await manager.load(session_id)
    assert loaded is not None and loaded.sub == data.sub


async def test_a_record_that_does_not_open_is_signed_out_and_dropped(
    manager: SessionManager,
    store: ClockedMemoryStore,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    session_id, _ = await signed_in(manager, clock)
    key = manager._key(session_id)
    entry = await store.get(key)
    assert entry is not None
    damaged = entry.value[:-1] + bytes([entry.value[-1] ^ 1])  # the GCM tag no longer fits
    assert await store.update(key, damaged)
    assert await manager.load(session_id) is None
    assert await store.get(key) is None  # dropped, not tried again at every request
    assert [r.getMessage().split(":", 1)[0] for r in caplog.records] == [
        "dropping an unreadable session record"
    ]


@pytest.mark.parametrize("session_id", ["", "x" * 129])
async def test_cookie_values_no_session_can_have_are_not_looked_up(
    manager: SessionManager, session_id: str
) -> None:
    assert await manager.load(session_id) is None


class EndsOnTouchStore(ClockedMemoryStore):
    """Another instance ends the session between this one's read and its touch."""

    async def touch(self, key: str, expires_at: float) -> bool:
        await self.delete(key)
        return await super().touch(key, expires_at)


async def test_a_session_ended_between_read_and_touch_is_not_served(
    clock: Clock, refresher: Refresher
) -> None:
    manager = manager_for(EndsOnTouchStore(clock), clock, refresher)
    session_id, _ = await signed_in(manager, clock)
    clock.now += manager.touch_interval  # this request moves the idle expiry
    assert await manager.load(session_id) is None


async def test_a_session_ended_before_its_refresh_began_is_not_refreshed(
    manager: SessionManager, clock: Clock, refresher: Refresher
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    data = await manager.load(session_id)
    assert data is not None
    await manager.delete(session_id)  # signed out in another tab meanwhile
    with pytest.raises(SessionEnded):
        await manager.ensure_fresh(session_id, data)
    assert refresher.calls == []


async def test_sessions_dropped_from_the_decoded_cache_still_load(
    manager: SessionManager, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager_module, "DECODED_CACHE_SIZE", 2)
    ids = [(await signed_in(manager, clock))[0] for _ in range(3)]
    assert list(manager._decoded) == [manager._key(i) for i in ids[1:]]  # the oldest went
    first = await manager.load(ids[0])
    assert first is not None and first.access_token == "at-0"


async def test_back_off_is_tracked_for_a_bounded_number_of_sessions(
    manager: SessionManager,
    clock: Clock,
    refresher: Refresher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(manager_module, "MAX_TRACKED_SESSIONS", 1)
    first, _ = await signed_in(manager, clock)
    second, _ = await signed_in(manager, clock)
    clock.now += REFRESH_DUE
    refresher.outcome = "down"
    await fresh_all(manager, first, 1)
    await fresh_all(manager, second, 1)  # the first session's back-off is forgotten...
    await fresh_all(manager, second, 1)
    assert len(refresher.calls) == 2  # ...the second's is kept (no new attempt)
    await fresh_all(manager, first, 1)
    assert len(refresher.calls) == 3  # the first is tried again at once


async def test_an_unreadable_login_transaction_is_no_transaction(
    manager: SessionManager, store: ClockedMemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    await manager.put_transaction("state-1", {"nonce": "n"}, 600)
    key = manager.keyring.lookup_key("tx", "state-1")
    await store.set(key, b"\x01damaged", T0 + 600)
    assert await manager.take_transaction("state-1") is None
    assert [r.getMessage().split(":", 1)[0] for r in caplog.records] == [
        "dropping an unreadable login transaction"
    ]


# Served without I/O (peek) ------------------------------------------------------------------


async def test_a_session_nothing_is_due_for_is_vouched_for_without_the_store(
    manager: SessionManager, clock: Clock, store: ClockedMemoryStore
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += 10
    data = manager.peek(session_id)
    assert data is not None and data.access_token == "at-0"
    assert manager.peek("not-a-session-of-this-process") is None


async def test_peek_leaves_to_load_what_needs_a_write_or_a_refresh(
    manager: SessionManager, clock: Clock, store: ClockedMemoryStore
) -> None:
    session_id, _ = await signed_in(manager, clock)
    clock.now += manager.touch_interval  # the sliding expiry is due to move
    assert manager.peek(session_id) is None
    assert await manager.load(session_id) is not None  # moved it
    assert manager.peek(session_id) is not None
    clock.now += REFRESH_DUE - manager.touch_interval  # the tokens are due for a refresh
    assert manager.peek(session_id) is None


async def test_peek_never_vouches_for_a_record_changed_or_ended_in_the_store(
    manager: SessionManager, clock: Clock, store: ClockedMemoryStore
) -> None:
    session_id, data = await signed_in(manager, clock)
    key = manager._key(session_id)
    changed = dataclasses.replace(data, access_token="at-elsewhere")
    await store.update(key, manager._seal(key, changed))  # e.g. a refresh by another worker
    assert manager.peek(session_id) is None
    fresh = await manager.load(session_id)
    assert fresh is not None and fresh.access_token == "at-elsewhere"
    await store.delete(key)
    assert manager.peek(session_id) is None
    assert await manager.load(session_id) is None

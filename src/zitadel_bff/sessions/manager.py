"""The session manager: creates, loads, refreshes and ends sealed session records in a store.

A record's value (claims and tokens, sealed) and its expiry are written separately: the sliding
idle expiry is a :meth:`Store.touch`, a token rotation an :meth:`Store.update` of the value.
Neither rewrites what the other owns, so an instance extending the expiry can never put back a
refresh token that another instance has just rotated (ZITADEL refuses a rotated one at once).

Secret rotation: with previous secrets in the keyring, a cookie whose record is not under the
current secret's key is looked up under the previous ones; a record found there is resealed
under the current secret and moved to the current key at once (its first write), so each
session is migrated by its own next request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from ..errors import (
    LoginError,
    ProviderError,
    ProviderUnavailable,
    RefreshRefused,
    SessionEnded,
)
from ..observability import NO_METRICS, audit
from ..observability.metrics import NullMetrics
from .record import SessionData, TokenUpdate
from .sealing import Keyring, SealError
from .stores.base import Entry, Store

__all__ = ["SESSION_ID_BYTES", "Refresher", "SessionManager"]

logger = logging.getLogger(__name__)

#: 32 bytes = 256 bits of randomness in every session id.
SESSION_ID_BYTES = 32
#: The expiry is pushed forward at most this often (a write per request would cost more than
#: the read).
MAX_TOUCH_INTERVAL = 60.0
REFRESH_LOCK_TTL = 15.0
#: After a provider failure, no new refresh attempt for this long, doubling per failure.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
#: Per-process bookkeeping kept for at most this many sessions (oldest dropped first).
MAX_TRACKED_SESSIONS = 10_000
#: Decoded records kept per process, keyed by store key and checked against the sealed bytes.
DECODED_CACHE_SIZE = 1024
SESSION_NS = "s"
SID_NS = "sid"
SUB_NS = "sub"


class Refresher(Protocol):
    """How sessions reach the provider to refresh: the only thing they need from OIDC.

    Raises LoginError when the provider refuses the grant or its answer fails validation (the
    session must end), ProviderError when the provider cannot be reached (keep the session).
    """

    async def refresh(self, refresh_token: str, *, sub: str) -> TokenUpdate: ...


class SessionManager:
    """Creates, loads, refreshes and ends sessions in a store.

    ``clock`` returns Unix time; tests pass their own to move time without waiting.
    """

    def __init__(
        self,
        *,
        store: Store,
        keyring: Keyring,
        refresher: Refresher,
        idle_timeout: int,
        max_lifetime: int,
        clock: Callable[[], float] = time.time,
        metrics: NullMetrics = NO_METRICS,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.refresher = refresher
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.clock = clock
        self.metrics = metrics
        self.touch_interval = min(MAX_TOUCH_INTERVAL, idle_timeout / 10)
        # One refresh in flight per session in this process; every request that needs it
        # awaits the same task and gets the same outcome, failure included.
        self._flights: dict[str, asyncio.Task[SessionData]] = {}
        # Sessions whose last refresh failed for provider reasons: (failures, no retry before).
        self._backoff: OrderedDict[str, tuple[int, float]] = OrderedDict()
        # The store stays the source of truth: a cached record is used only when the store
        # returns exactly the bytes it was decoded from, so ended or rewritten sessions are
        # never served from here. It saves the decryption, the JSON and the derived profile.
        self._decoded: OrderedDict[str, tuple[bytes, SessionData]] = OrderedDict()
        self._keys: dict[str, str] = {}

    def _key(self, session_id: str) -> str:
        # An HMAC per request is avoidable: ids seen recently keep their store key.
        key = self._keys.get(session_id)
        if key is None:
            key = self.keyring.lookup_key(SESSION_NS, session_id)
            if len(self._keys) >= DECODED_CACHE_SIZE:
                self._keys.pop(next(iter(self._keys)))
            self._keys[session_id] = key
        return key

    def _expiry(self, created_at: float, now: float) -> float:
        return min(now + self.idle_timeout, created_at + self.max_lifetime)

    def _seal(self, key: str, data: SessionData) -> bytes:
        return self.keyring.seal(data.to_json(), aad=key.encode())

    def _remember(self, key: str, sealed: bytes, data: SessionData) -> None:
        self._decoded[key] = (sealed, data)
        self._decoded.move_to_end(key)
        if len(self._decoded) > DECODED_CACHE_SIZE:
            self._decoded.popitem(last=False)

    def _tags(self, data: SessionData) -> list[str]:
        tags = [self.keyring.lookup_key(SUB_NS, data.sub)]
        if data.oidc_sid:
            tags.append(self.keyring.lookup_key(SID_NS, data.oidc_sid))
        return tags

    async def create(self, data: SessionData) -> str:
        """Store a new session under a fresh id (never reuse one: no fixation)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        key = self._key(session_id)
        data.expires_at = self._expiry(data.created_at, self.clock())
        sealed = self._seal(key, data)
        await self.store.set(key, sealed, data.expires_at, self._tags(data))
        self._remember(key, sealed, data)
        return session_id

    async def _read(self, key: str) -> SessionData | None:
        return await self._decode(key, await self.store.get(key))

    async def _decode(self, key: str, entry: Entry | None) -> SessionData | None:
        if entry is None:
            self._decoded.pop(key, None)
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == entry.value:
            self._decoded.move_to_end(key)
            cached[1].expires_at = entry.expires_at
            return cached[1]
        try:
            plain, current = self.keyring.open_current(entry.value, aad=key.encode())
            data = SessionData.from_json(plain, entry.expires_at)
        except (SealError, ValueError, TypeError) as exc:
            # Sealed under a secret no longer configured, or damaged: treat as signed out,
            # and drop it.
            logger.warning("dropping an unreadable session record: %s", exc)
            await self.store.delete(key)
            return None
        sealed = entry.value
        if not current:
            sealed = self._seal(key, data)
            if not await self.store.update(key, sealed):
                return None
        self._remember(key, sealed, data)
        return data

    async def _migrate(self, session_id: str, key: str) -> SessionData | None:
        """The record of ``session_id`` stored under a previous secret's key, resealed under
        the current secret and moved to the current key (written there before the old one is
        deleted, so a concurrent request finds it in one place or the other)."""
        for old_key in self.keyring.previous_lookup_keys(SESSION_NS, session_id):
            entry = await self.store.get(old_key)
            if entry is None:
                continue
            try:
                plain, _ = self.keyring.open_current(entry.value, aad=old_key.encode())
                data = SessionData.from_json(plain, entry.expires_at)
            except (SealError, ValueError, TypeError) as exc:
                logger.warning("dropping an unreadable session record: %s", exc)
                await self.store.delete(old_key)
                return None
            sealed = self._seal(key, data)
            await self.store.set(key, sealed, entry.expires_at, self._tags(data))
            await self.store.delete(old_key)
            self._remember(key, sealed, data)
            logger.debug("moved a session record to the current SESSION_SECRET")
            return data
        return None

    async def load(self, session_id: str) -> SessionData | None:
        """The live session for a cookie id, or None; pushes the idle expiry forward."""
        if not session_id or len(session_id) > 128:
            return None
        key = self._keys.get(session_id) or self._key(session_id)
        now = self.clock()
        cached = self._decoded.get(key)
        if cached is not None:
            data = cached[1]
            expiry = self._expiry(data.created_at, now)
            if now < data.expires_at and expiry > now:
                # The hot path, kept flat: a session alive when this process last read it,
                # whose creation time (so the expiry to move it to) is known. The store reads
                # and touches in one round trip; an unchanged record is the decoded one.
                # (Otherwise it is read first and checked, so that an idle session is never
                # extended by the touch.)
                entry = await self.store.get_and_touch(key, expiry, self.touch_interval)
                if entry is None or entry.value != cached[0]:
                    return await self._settle(key, await self._decode(key, entry), now)
                self._decoded.move_to_end(key)
                data.expires_at = entry.expires_at
                if now < data.expires_at and abs(expiry - data.expires_at) < self.touch_interval:
                    return data  # alive, and its expiry not due to move: what _settle finds
                return await self._settle(key, data, now)
        stored = await self._read(key)
        if stored is None and self.keyring.rotating:
            stored = await self._migrate(session_id, key)
        return await self._settle(key, stored, now)

    def peek(self, session_id: str) -> SessionData | None:
        """The session a request is served with, when that is known without I/O or waiting:
        a record this process decoded, which the store vouches is unchanged and live with its
        expiry not due to move (:meth:`Store.peek`), whose tokens need no refresh. None when
        it cannot say: then :meth:`load_fresh` decides. Every request of a signed-in user that
        changes nothing takes this path."""
        key = self._keys.get(session_id)
        cached = self._decoded.get(key) if key is not None else None
        if cached is None:
            return None
        data = cached[1]
        now = self.clock()
        expiry = self._expiry(data.created_at, now)
        if expiry <= now or now >= data.expires_at:
            return None
        assert key is not None
        entry = self.store.peek(key, expiry, self.touch_interval)
        if entry is None or entry.value != cached[0] or now >= entry.expires_at:
            return None
        if data.needs_refresh(now):
            return None
        self._decoded.move_to_end(key)
        data.expires_at = entry.expires_at
        return data

    async def load_fresh(self, session_id: str) -> SessionData | None:
        """:meth:`load`, then :meth:`ensure_fresh`: the session a request is served with."""
        data = await self.load(session_id)
        if data is not None and data.needs_refresh(self.clock()):
            return await self.ensure_fresh(session_id, data)
        return data

    async def _settle(self, key: str, data: SessionData | None, now: float) -> SessionData | None:
        """``data`` if it is still within its lifetime, its idle expiry moved when due."""
        if data is None:
            return None
        if now >= min(data.expires_at, data.created_at + self.max_lifetime):
            # Expired a moment ago (the store's clock has not caught up), or the absolute cap
            # was lowered since the record was written.
            await self._end(key)
            return None
        expiry = self._expiry(data.created_at, now)
        # Also when the expiry moves back: the idle timeout was lowered since the last touch.
        if abs(expiry - data.expires_at) >= self.touch_interval:
            if not await self.store.touch(key, expiry):
                return None  # ended a moment ago
            data.expires_at = expiry
        return data

    # Refresh -------------------------------------------------------------------------------

    async def ensure_fresh(self, session_id: str, data: SessionData) -> SessionData:
        """Refresh the tokens if they are about to expire; once per session, however many
        requests arrive at the same moment (a shared in-process task, plus the store's lock
        across processes). After a provider failure the session is served as it is, and no
        new attempt is made for a short, growing interval."""
        if not data.needs_refresh(self.clock()):
            return data
        key = self._key(session_id)
        if self._backing_off(key):
            return data
        try:
            return await self._join_flight(key, refused_token=None)
        except ProviderError:
            return data  # logged where it failed; the tokens are used as they are

    async def refresh_refused_token(self, session_id: str, data: SessionData) -> SessionData:
        """The provider refused ``data.access_token`` before its expiry (e.g. revoked in the
        console): refresh once, whatever the schedule. Raises SessionEnded when the refresh
        is refused too or there is no refresh token, ProviderError when the provider cannot
        be reached."""
        return await self._join_flight(self._key(session_id), refused_token=data.access_token)

    def _backing_off(self, key: str) -> bool:
        entry = self._backoff.get(key)
        return entry is not None and self.clock() < entry[1]

    async def _join_flight(self, key: str, *, refused_token: str | None) -> SessionData:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh_once(key, refused_token))
            self._flights[key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        # Shielded: a client that goes away must not cancel the refresh the others wait for.
        return await asyncio.shield(flight)

    async def _refresh_once(self, key: str, refused_token: str | None) -> SessionData:
        async with self.store.lock(key, REFRESH_LOCK_TTL) as granted:
            current = await self._read(key)
            if current is None:
                raise SessionEnded("the session was ended")
            if refused_token is None and not current.needs_refresh(self.clock()):
                return current  # another instance refreshed while we waited
            if refused_token is not None and current.access_token != refused_token:
                return current  # already replaced since the provider refused it
            if not granted:
                self._fail(key)
                self.metrics.refresh("lock_timeout")
                raise ProviderUnavailable("another instance held the refresh lock too long")
            if current.refresh_token is None:  # only a refused token gets here without one
                await self._end(key)
                raise RefreshRefused("the tokens were refused and there is no refresh token")
            return await self._refresh(key, current)

    async def _refresh(self, key: str, data: SessionData) -> SessionData:
        assert data.refresh_token is not None
        try:
            tokens = await self.refresher.refresh(data.refresh_token, sub=data.sub)
        except LoginError as exc:
            # Refused grant, or a refreshed ID token that fails validation: the session ends.
            logger.info("refresh refused (%s); ending the session", exc)
            self.metrics.refresh("refused")
            audit("session_refresh_refused", code=exc.code)
            await self._end(key)
            raise RefreshRefused("the provider refused to refresh") from exc
        except ProviderError as exc:
            # A provider outage must not sign everybody out: keep the session, retry later.
            failures = self._fail(key)
            self.metrics.refresh("error")
            logger.warning("refresh failed (%s); keeping the session (failure %d)", exc, failures)
            raise
        now = self.clock()
        fresh = SessionData.from_json(data.to_json(), data.expires_at)
        fresh.set_tokens(tokens, now)
        fresh.refreshed_at = now
        sealed = self._seal(key, fresh)
        if not await self.store.update(key, sealed):
            # Ended (back-channel logout, sign-out elsewhere) while we asked the provider.
            self._decoded.pop(key, None)
            raise SessionEnded("the session was ended during its refresh")
        self._remember(key, sealed, fresh)
        self._backoff.pop(key, None)
        self.metrics.refresh("success")
        audit("session_refreshed")
        return fresh

    def _fail(self, key: str) -> int:
        failures = self._backoff.get(key, (0, 0.0))[0] + 1
        delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (failures - 1))
        self._backoff[key] = (failures, self.clock() + delay)
        self._backoff.move_to_end(key)
        if len(self._backoff) > MAX_TRACKED_SESSIONS:
            self._backoff.popitem(last=False)
        return failures

    async def _end(self, key: str) -> None:
        await self.store.delete(key)
        self._decoded.pop(key, None)
        self._backoff.pop(key, None)

    # Ending sessions -----------------------------------------------------------------------

    async def delete(self, session_id: str) -> None:
        await self._end(self._key(session_id))

    async def end_by_sid(self, oidc_sid: str) -> int:
        return await self._end_tagged(SID_NS, oidc_sid)

    async def end_by_sub(self, sub: str) -> int:
        return await self._end_tagged(SUB_NS, sub)

    async def _end_tagged(self, namespace: str, value: str) -> int:
        ended = await self.store.delete_tagged(self.keyring.lookup_key(namespace, value))
        for old in self.keyring.previous_lookup_keys(namespace, value):
            ended += await self.store.delete_tagged(old)  # records not yet migrated
        return ended

    async def count(self) -> int:
        return await self.store.count(SESSION_NS + ":")

    # Login transactions and replay markers -------------------------------------------------

    async def put_transaction(self, state: str, payload: dict[str, Any], ttl: float) -> None:
        key = self.keyring.lookup_key("tx", state)
        sealed = self.keyring.seal(json.dumps(payload).encode(), aad=key.encode())
        await self.store.set(key, sealed, self.clock() + ttl)

    async def take_transaction(self, state: str) -> dict[str, Any] | None:
        """The login transaction for ``state``, at most once."""
        key = self.keyring.lookup_key("tx", state)
        sealed = await self.store.pop(key)
        for old in self.keyring.previous_lookup_keys("tx", state):
            if sealed is not None:
                break
            key, sealed = old, await self.store.pop(old)  # started before a rotation
        if sealed is None:
            return None
        try:
            payload = json.loads(self.keyring.open(sealed, aad=key.encode()))
        except (SealError, ValueError) as exc:
            logger.warning("dropping an unreadable login transaction: %s", exc)
            return None
        return payload if isinstance(payload, dict) else None

    async def first_use(self, namespace: str, value: str, expires_at: float) -> bool:
        """True the first time ``value`` is seen in ``namespace`` before it expires."""
        for old in self.keyring.previous_lookup_keys(namespace, value):
            if await self.store.get(old) is not None:
                return False  # seen before a rotation
        return await self.store.add(self.keyring.lookup_key(namespace, value), expires_at)

"""Server-side sessions: the record, its sealing, lifetimes, indexes and single-flight refresh."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import LoginError, ProviderError, SessionEnded
from ..oidc.claims import UserProfile
from ..oidc.client import OIDCClient, TokenSet
from .crypto import Keyring, SealError
from .stores.base import Store

__all__ = ["SESSION_ID_BYTES", "SessionData", "SessionManager"]

logger = logging.getLogger(__name__)

#: 32 bytes = 256 bits of randomness in every session id.
SESSION_ID_BYTES = 32
#: Refresh this long before the access token expires.
REFRESH_SKEW = 60.0
#: last_seen is written back at most this often (a write per request would cost more than the read).
MAX_TOUCH_INTERVAL = 60.0
REFRESH_LOCK_TTL = 15.0
#: Decoded records kept per process, keyed by store key and checked against the sealed bytes.
DECODED_CACHE_SIZE = 1024
SESSION_NS = "s"
SID_NS = "sid"
SUB_NS = "sub"


@dataclass(slots=True)
class SessionData:
    """What the server keeps for one signed-in browser. Never sent to the browser."""

    sub: str
    claims: dict[str, Any]
    access_token: str
    id_token: str | None
    refresh_token: str | None
    access_expires_at: float | None
    oidc_sid: str | None
    created_at: float
    last_seen: float
    refreshed_at: float | None = None
    refresh_at: float | None = None
    _profile: UserProfile | None = field(default=None, repr=False, compare=False)

    @property
    def profile(self) -> UserProfile:
        if self._profile is None:
            self._profile = UserProfile.from_claims(self.claims)
        return self._profile

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("_profile", None)
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> SessionData:
        data = json.loads(raw)
        return cls(**data)

    def needs_refresh(self, now: float) -> bool:
        due = self.refresh_at
        return self.refresh_token is not None and due is not None and now >= due

    def set_tokens(self, tokens: TokenSet, now: float) -> None:
        """Take a token response; schedule the refresh REFRESH_SKEW before expiry, or halfway
        through a lifetime shorter than twice that (else every request would refresh)."""
        self.access_token = tokens.access_token
        self.refresh_token = tokens.refresh_token
        self.access_expires_at = tokens.expires_at
        if tokens.id_token:
            self.id_token = tokens.id_token
        self.refresh_at = None
        if tokens.expires_at is not None:
            lifetime = max(0.0, tokens.expires_at - now)
            self.refresh_at = now + max(lifetime - REFRESH_SKEW, lifetime / 2)


class SessionManager:
    """Creates, loads, refreshes and ends sessions in a store."""

    def __init__(
        self,
        *,
        store: Store,
        keyring: Keyring,
        oidc: OIDCClient,
        idle_timeout: int,
        max_lifetime: int,
    ) -> None:
        self.store = store
        self.keyring = keyring
        self.oidc = oidc
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self.touch_interval = min(MAX_TOUCH_INTERVAL, idle_timeout / 10)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # The store stays the source of truth: a cached record is used only when the store
        # returns exactly the bytes it was decoded from, so ended or rewritten sessions are
        # never served from here. It saves the decryption, the JSON and the derived profile.
        self._decoded: OrderedDict[str, tuple[bytes, SessionData]] = OrderedDict()

    def _key(self, session_id: str) -> str:
        return self.keyring.lookup_key(SESSION_NS, session_id)

    def expires_at(self, data: SessionData) -> float:
        return min(data.last_seen + self.idle_timeout, data.created_at + self.max_lifetime)

    async def _write(self, key: str, data: SessionData) -> None:
        tags = [self.keyring.lookup_key(SUB_NS, data.sub)]
        if data.oidc_sid:
            tags.append(self.keyring.lookup_key(SID_NS, data.oidc_sid))
        sealed = self.keyring.seal(data.to_json(), aad=key.encode())
        await self.store.set(key, sealed, self.expires_at(data), tags)
        self._remember(key, sealed, data)

    def _remember(self, key: str, sealed: bytes, data: SessionData) -> None:
        self._decoded[key] = (sealed, data)
        self._decoded.move_to_end(key)
        if len(self._decoded) > DECODED_CACHE_SIZE:
            self._decoded.popitem(last=False)

    async def create(self, data: SessionData) -> str:
        """Store a new session under a fresh id (never reuse one: no fixation)."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        await self._write(self._key(session_id), data)
        return session_id

    async def _read(self, key: str) -> SessionData | None:
        sealed = await self.store.get(key)
        if sealed is None:
            self._decoded.pop(key, None)
            return None
        cached = self._decoded.get(key)
        if cached is not None and cached[0] == sealed:
            self._decoded.move_to_end(key)
            return cached[1]
        try:
            data = SessionData.from_json(self.keyring.open(sealed, aad=key.encode()))
        except (SealError, ValueError, TypeError) as exc:
            # Sealed under an older secret, or damaged: treat as signed out, and drop it.
            logger.warning("dropping an unreadable session record: %s", exc)
            await self.store.delete(key)
            return None
        self._remember(key, sealed, data)
        return data

    async def load(self, session_id: str) -> SessionData | None:
        """The live session for a cookie id, or None. Enforces idle and absolute expiry."""
        if not session_id or len(session_id) > 128:
            return None
        key = self._key(session_id)
        data = await self._read(key)
        if data is None:
            return None
        now = time.time()
        if now >= self.expires_at(data):
            await self.store.delete(key)
            raise SessionEnded("the session timed out")
        if now - data.last_seen >= self.touch_interval:
            data.last_seen = now
            await self._write(key, data)
        return data

    async def ensure_fresh(self, session_id: str, data: SessionData) -> SessionData:
        """Refresh the tokens if they are about to expire; once per session, however many
        requests arrive at the same moment (an in-process lock, plus the store's lock)."""
        if not data.needs_refresh(time.time()):
            return data
        key = self._key(session_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock, self.store.lock(key, REFRESH_LOCK_TTL):
            current = await self._read(key)
            if current is None:
                raise SessionEnded("the session was ended")
            if not current.needs_refresh(time.time()):
                return current  # someone else refreshed while we waited
            return await self._refresh(key, current)

    async def _refresh(self, key: str, data: SessionData) -> SessionData:
        assert data.refresh_token is not None
        try:
            tokens = await self.oidc.refresh(data.refresh_token, sub=data.sub)
        except LoginError as exc:
            # Refused grant, or a refreshed ID token that fails validation: the session ends.
            logger.info("refresh refused (%s); ending the session", exc)
            await self.store.delete(key)
            raise SessionEnded("the provider refused to refresh", code="refresh_failed") from exc
        except ProviderError as exc:
            # A provider outage must not sign everybody out: keep the session, retry next time.
            logger.warning("refresh failed (%s); keeping the session for now", exc)
            return data
        now = time.time()
        data.set_tokens(tokens, now)
        data.refreshed_at = now
        await self._write(key, data)
        logger.info("refreshed the tokens of a session")
        return data

    async def delete(self, session_id: str) -> None:
        await self.store.delete(self._key(session_id))

    async def end_by_sid(self, oidc_sid: str) -> int:
        return await self.store.delete_tagged(self.keyring.lookup_key(SID_NS, oidc_sid))

    async def end_by_sub(self, sub: str) -> int:
        return await self.store.delete_tagged(self.keyring.lookup_key(SUB_NS, sub))

    async def count_by_sub(self, sub: str) -> int:
        return await self.store.count_tagged(self.keyring.lookup_key(SUB_NS, sub))

    async def count(self) -> int:
        return await self.store.count(SESSION_NS + ":")

    # Login transactions and replay markers -------------------------------------------------

    async def put_transaction(self, state: str, payload: dict[str, Any], ttl: float) -> None:
        key = self.keyring.lookup_key("tx", state)
        sealed = self.keyring.seal(json.dumps(payload).encode(), aad=key.encode())
        await self.store.set(key, sealed, time.time() + ttl)

    async def take_transaction(self, state: str) -> dict[str, Any] | None:
        """The login transaction for ``state``, at most once."""
        key = self.keyring.lookup_key("tx", state)
        sealed = await self.store.pop(key)
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
        return await self.store.add(self.keyring.lookup_key(namespace, value), expires_at)

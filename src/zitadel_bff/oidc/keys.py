"""The provider's signing keys: a cached JWKS, refetched when a token names an unknown kid or
verifies with none of the cached keys.

Refetches are single-flight and rate limited by a small token bucket: a real rotation is picked
up at once, while a stream of tokens with forged kids costs at most one JWKS request per
``refill_seconds`` after the first few.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

__all__ = ["KEY_TYPES_BY_ALG", "JWKSCache"]

logger = logging.getLogger(__name__)

KEY_TYPES_BY_ALG = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
REFETCH_BURST = 3
REFETCH_REFILL_SECONDS = 10.0


class JWKSCache:
    """Holds the key set; ``fetch`` returns the JWKS document from the provider."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        *,
        burst: int = REFETCH_BURST,
        refill_seconds: float = REFETCH_REFILL_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._burst = burst
        self._refill = refill_seconds
        self._allowance = float(burst)
        self._allowance_at = time.monotonic()
        self._lock = asyncio.Lock()

    async def key_set(self) -> KeySet:
        if self._keys is None:
            await self._refresh(force=True)
        assert self._keys is not None
        return self._keys

    async def refetch(self) -> KeySet:
        """Refetch (rate limited) because a token names a kid we do not know or verifies with
        none of the cached keys; returns the cached set unchanged when the limit is reached."""
        await self._refresh(force=False)
        assert self._keys is not None
        return self._keys

    async def _refresh(self, *, force: bool) -> None:
        started = time.monotonic()
        async with self._lock:
            # Another task refreshed while we waited: use its result.
            if self._keys is not None and self._fetched_at >= started:
                return
            if not force and self._keys is not None and not self._take_allowance():
                logger.warning("unknown kid, but JWKS refetches are rate limited")
                return
            document = await self._fetch()
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ValueError("the provider's JWKS could not be read") from exc
            self._fetched_at = time.monotonic()
            logger.info("loaded %d signing key(s) from the provider", len(self._keys.keys))

    def _take_allowance(self) -> bool:
        now = time.monotonic()
        self._allowance = min(
            float(self._burst), self._allowance + (now - self._allowance_at) / self._refill
        )
        self._allowance_at = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

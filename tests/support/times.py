"""Token times relative to the moment a test builds its token, never to collection time.

A parametrize list is evaluated when pytest collects the module, possibly long before the test
runs; a timestamp computed there goes stale (an ``iat`` meant to lie in the future is in the past
by the time the test runs). Such lists hold :class:`FromNow` offsets, which :func:`resolve`
turns into timestamps inside the test.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FromNow:
    """A NumericDate ``seconds`` after (or, when negative, before) the token is built."""

    seconds: int


def resolve(claims: Mapping[str, Any], now: int | None = None) -> dict[str, Any]:
    """``claims`` with every :class:`FromNow` replaced by ``now`` (default: the clock) + offset."""
    now = int(time.time()) if now is None else now
    return {k: now + v.seconds if isinstance(v, FromNow) else v for k, v in claims.items()}

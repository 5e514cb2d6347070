"""Time in tests: token times taken when the test runs, and a clock a test moves for an app.

A parametrize list is evaluated when pytest collects the module, possibly long before the test
runs; a timestamp computed there goes stale (an ``iat`` meant to lie in the future is in the past
by the time the test runs). Such lists hold :class:`FromNow` offsets, which :func:`resolve`
turns into timestamps inside the test. :class:`MovableClock` lets lifetimes run out without
sleeping.
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


class MovableClock:
    """Real time plus an offset the test moves forward.

    Given to a running app as its session manager's clock, it lets idle timeouts and lifetimes
    run out without waiting. Real time keeps moving underneath, so what the app stores with
    real-time expiries (login transactions, replay markers) does not go stale.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def set(self, when: float) -> None:
        """From now on the clock reads ``when`` or later. It never goes back."""
        assert when >= self(), "a clock that goes back is not one the app can meet"
        self.offset = when - time.time()

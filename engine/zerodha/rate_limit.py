"""Kite's REST rate limits, kept on our side so that Kite seldom has to answer 429.

Kite counts per API key: quotes 1 request a second, historical data 3, orders 10,
everything else 10 combined. One `KiteRateLimiter` per engine holds a token
bucket per class; every REST call takes a token from its class's bucket first.
A bucket lends ahead: a caller who finds it empty is told how long to wait for
its turn, and callers queue in arrival order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum

from engine.settings import ZerodhaSettings

QUOTE_CALLS = frozenset({"quote", "ltp", "ohlc"})
HISTORICAL_CALLS = frozenset({"historical_data"})
ORDER_CALLS = frozenset({"place_order", "modify_order", "cancel_order", "exit_order"})


class RateClass(StrEnum):
    QUOTE = "quote"
    HISTORICAL = "historical"
    ORDERS = "orders"
    OTHER = "other"


def rate_class(call: str) -> RateClass:
    if call in QUOTE_CALLS:
        return RateClass.QUOTE
    if call in HISTORICAL_CALLS:
        return RateClass.HISTORICAL
    if call in ORDER_CALLS:
        return RateClass.ORDERS
    return RateClass.OTHER


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up."""

    def __init__(
        self, rate_per_s: float, burst: float | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate must be > 0, not {rate_per_s}")
        self.rate = rate_per_s
        self.burst = max(1.0, burst if burst is not None else rate_per_s)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def reserve(self) -> float:
        """Take one token; the seconds to wait before using it (0 when one was saved up)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class KiteRateLimiter:
    def __init__(
        self,
        settings: ZerodhaSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        rates = {
            RateClass.QUOTE: settings.quote_rate_per_s,
            RateClass.HISTORICAL: settings.historical_rate_per_s,
            RateClass.ORDERS: settings.order_rate_per_s,
            RateClass.OTHER: settings.rate_limit_per_s,
        }
        self.buckets = {kind: TokenBucket(rate, clock=clock) for kind, rate in rates.items()}
        self._sleep = sleep
        self.waited_s = 0.0  # total time callers were held back

    async def acquire(self, call: str) -> None:
        """Wait for `call`'s turn under its class's limit."""
        delay = self.buckets[rate_class(call)].reserve()
        if delay > 0:
            self.waited_s += delay
            await self._sleep(delay)

"""Kite's REST rate limits, kept on our side so that Kite never has to answer 429.

Kite counts per API key, in sliding windows: quotes 1 request a second,
historical data 3, orders 10, everything else 10 combined; order calls (place,
modify and cancel together) also 400 a minute and a daily cap. One
`KiteRateLimiter` per engine holds the windows; every REST call takes its turn
first. A turn is reserved ahead: a caller who finds the windows full is told
how long to wait, and callers queue in arrival order, so a burst of orders
queues (`waiting` counts it) instead of meeting a 429. Each window is widened
by `rate_window_margin_s`, because requests sent a second apart can reach Kite
closer together. The daily cap is not waited for: the call is refused
(`OrderCapReached`) until the next IST day.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import StrEnum

from engine.market.calendar import IST
from engine.settings import ZerodhaSettings
from engine.zerodha.errors import BrokerError

QUOTE_CALLS = frozenset({"quote", "ltp", "ohlc"})
HISTORICAL_CALLS = frozenset({"historical_data"})
ORDER_CALLS = frozenset({"place_order", "modify_order", "cancel_order", "exit_order"})
MINUTE_S = 60.0


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


class OrderCapReached(BrokerError):
    """The day's order calls are used up (`zerodha.order_daily_cap`)."""


def ist_today() -> date:
    return datetime.now(IST).date()


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


class SlidingWindow:
    """At most `limit` grants in any `window_s` seconds; grants are times, possibly in the future."""

    def __init__(self, limit: int, window_s: float) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"a window needs a limit >= 1 and a length > 0, not {limit} in {window_s} s")
        self.limit = limit
        self.window_s = window_s
        self._grants: deque[float] = deque()

    def earliest(self, at: float) -> float:
        """The first time at or after `at` (and after every earlier grant) that keeps the window."""
        grants = self._grants
        while grants and grants[0] <= at - self.window_s:
            grants.popleft()
        if not grants:
            return at
        start = max(at, grants[-1])
        if len(grants) >= self.limit:
            start = max(start, grants[-self.limit] + self.window_s)
        return start

    def grant(self, at: float) -> None:
        self._grants.append(at)


class KiteRateLimiter:
    def __init__(
        self,
        settings: ZerodhaSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        today: Callable[[], date] = ist_today,
    ) -> None:
        margin = settings.rate_window_margin_s
        per_second = {
            RateClass.QUOTE: settings.quote_rate_per_s,
            RateClass.HISTORICAL: settings.historical_rate_per_s,
            RateClass.ORDERS: settings.order_rate_per_s,
            RateClass.OTHER: settings.rate_limit_per_s,
        }
        self.windows: dict[RateClass, tuple[SlidingWindow, ...]] = {
            kind: (_per_second(rate, margin),) for kind, rate in per_second.items()
        }
        self.windows[RateClass.ORDERS] += (SlidingWindow(settings.order_rate_per_min, MINUTE_S + margin),)
        self.daily_cap = settings.order_daily_cap
        self._clock = clock
        self._sleep = sleep
        self._today = today
        self._day = today()
        self.orders_today = 0  # order calls granted since the IST day began
        self.waiting: dict[RateClass, int] = dict.fromkeys(RateClass, 0)  # callers held back now
        self.waited_s = 0.0  # total time callers were held back

    def reserve(self, call: str) -> float:
        """Take `call`'s turn; the seconds to wait before making it."""
        kind = rate_class(call)
        if kind is RateClass.ORDERS:
            self._count_order()
        now = self._clock()
        windows = self.windows[kind]
        at = now
        while True:
            start = at
            for window in windows:
                start = window.earliest(start)
            if start == at:
                break
            at = start
        for window in windows:
            window.grant(at)
        return at - now

    def _count_order(self) -> None:
        today = self._today()
        if today != self._day:
            self._day, self.orders_today = today, 0
        if self.orders_today >= self.daily_cap:
            raise OrderCapReached(
                f"the day's {self.daily_cap} order calls are used up (zerodha.order_daily_cap); "
                "no more live orders until tomorrow"
            )
        self.orders_today += 1

    async def acquire(self, call: str) -> None:
        """Wait for `call`'s turn under its class's limits."""
        delay = self.reserve(call)
        if delay > 0:
            kind = rate_class(call)
            self.waited_s += delay
            self.waiting[kind] += 1
            try:
                await self._sleep(delay)
            finally:
                self.waiting[kind] -= 1


def _per_second(rate: float, margin: float) -> SlidingWindow:
    """`rate` a second as whole calls in a window: 10/s is 10 in 1 s, 0.5/s is 1 in 2 s."""
    if rate <= 0:
        raise ValueError(f"rate must be > 0, not {rate}")
    if rate >= 1:
        return SlidingWindow(int(rate), 1.0 + margin)
    return SlidingWindow(1, 1.0 / rate + margin)

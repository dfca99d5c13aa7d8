"""Kite's request rate limits per api_key: quotes 1/s, orders 10/s, everything else 10/s; order calls
(place, modify, cancel together) also 400 a minute and 5,000 a day."""

from __future__ import annotations

import time
from collections import deque
from enum import StrEnum


class LimitClass(StrEnum):
    QUOTE = "quote"
    ORDERS = "orders"
    OTHER = "other"


REQUESTS_PER_SECOND = {LimitClass.QUOTE: 1, LimitClass.ORDERS: 10, LimitClass.OTHER: 10}
ORDER_WINDOWS = ((60.0, 400), (86_400.0, 5_000))  # (window seconds, order calls allowed)
WINDOW_S = 1.0


def limit_class(method: str, path: str) -> LimitClass:
    if path.startswith("/quote"):
        return LimitClass.QUOTE
    if path.startswith("/orders") and method in ("POST", "PUT", "DELETE"):
        return LimitClass.ORDERS
    return LimitClass.OTHER


class RateLimiter:
    """Sliding windows; `allow` records the call when it is within every limit of its class."""

    def __init__(
        self,
        per_second: dict[LimitClass, int] | None = None,
        order_windows: tuple[tuple[float, int], ...] = ORDER_WINDOWS,
    ) -> None:
        self._per_second = dict(per_second or REQUESTS_PER_SECOND)
        self._calls: dict[LimitClass, deque[float]] = {kind: deque() for kind in LimitClass}
        self._order_windows = order_windows
        self._longest = max((window for window, _ in order_windows), default=0.0)
        self._order_calls: deque[float] = deque()  # the order calls of the longest window

    def allow(self, kind: LimitClass, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        calls = self._calls[kind]
        while calls and calls[0] <= now - WINDOW_S:
            calls.popleft()
        if len(calls) >= self._per_second[kind]:
            return False
        if kind is LimitClass.ORDERS and not self._orders_allowed(now):
            return False
        calls.append(now)
        if kind is LimitClass.ORDERS:
            self._order_calls.append(now)
        return True

    def _orders_allowed(self, now: float) -> bool:
        history = self._order_calls
        while history and history[0] <= now - self._longest:
            history.popleft()
        return all(_count_since(history, now - window) < limit for window, limit in self._order_windows)


def _count_since(history: deque[float], start: float) -> int:
    """How many of the (ascending) times are after `start`, counted from the newest."""
    count = 0
    for stamp in reversed(history):
        if stamp <= start:
            break
        count += 1
    return count

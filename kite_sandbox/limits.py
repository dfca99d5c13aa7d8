"""Kite's request rate limits per api_key: quotes 1/s, orders 10/s, everything else 10/s."""

from __future__ import annotations

import time
from collections import deque
from enum import StrEnum


class LimitClass(StrEnum):
    QUOTE = "quote"
    ORDERS = "orders"
    OTHER = "other"


REQUESTS_PER_SECOND = {LimitClass.QUOTE: 1, LimitClass.ORDERS: 10, LimitClass.OTHER: 10}
WINDOW_S = 1.0


def limit_class(method: str, path: str) -> LimitClass:
    if path.startswith("/quote"):
        return LimitClass.QUOTE
    if path.startswith("/orders") and method in ("POST", "PUT", "DELETE"):
        return LimitClass.ORDERS
    return LimitClass.OTHER


class RateLimiter:
    """A sliding one-second window per class; `allow` records the call when it is within the limit."""

    def __init__(self, per_second: dict[LimitClass, int] | None = None) -> None:
        self._per_second = dict(per_second or REQUESTS_PER_SECOND)
        self._calls: dict[LimitClass, deque[float]] = {kind: deque() for kind in LimitClass}

    def allow(self, kind: LimitClass, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        calls = self._calls[kind]
        while calls and calls[0] <= now - WINDOW_S:
            calls.popleft()
        if len(calls) >= self._per_second[kind]:
            return False
        calls.append(now)
        return True

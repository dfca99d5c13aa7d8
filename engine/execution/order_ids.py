"""Paper order ids: cheap, readable, and unique across restarts."""

from __future__ import annotations

import itertools
import time

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_last_run_ms = 0


def base36(number: int) -> str:
    if number < 0:
        raise ValueError("base36 needs a non-negative number")
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_DIGITS[rest])
        if not number:
            return "".join(reversed(digits))


def _next_run_ms() -> int:
    global _last_run_ms
    _last_run_ms = max(time.time_ns() // 1_000_000, _last_run_ms + 1)
    return _last_run_ms


class OrderIds:
    """`<prefix>-<run>-<n>`: `run` is the wall-clock start in milliseconds, base 36.

    Wall time, not the engine clock: a live run restarted over the same feed
    times must still get new ids, because stored trade ids are unique. Two
    sources made in the same millisecond of one process get different runs.
    A replay, which stores nothing and wants the same ids every time, passes
    its own `run`.
    """

    def __init__(self, prefix: str, run: str | None = None) -> None:
        if run is None:
            run = base36(_next_run_ms())
        self.prefix = f"{prefix}-"
        self._head = f"{prefix}-{run}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._head}{next(self._counter)}"

    def owns(self, order_id: str) -> bool:
        """True if the id has this source's shape (from this run or an earlier one)."""
        return order_id.startswith(self.prefix)

"""Live order ids, which travel to Kite as the order's `tag`.

Kite tags are alphanumeric and at most 20 characters, so the id is `Z` + the
run's wall-clock start in milliseconds (base 36, 8 characters until 2059) +
a base-36 counter: unique across restarts, and an order found at the broker
by its tag maps straight back to ours.
"""

from __future__ import annotations

import itertools
import re
import time

from engine.execution.order_ids import base36

PREFIX = "Z"
MAX_TAG_LENGTH = 20
_TAG = re.compile(r"^[A-Za-z0-9]{1,20}$")
_last_run_ms = 0


def _next_run_ms() -> int:
    global _last_run_ms
    _last_run_ms = max(time.time_ns() // 1_000_000, _last_run_ms + 1)
    return _last_run_ms


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


class LiveOrderIds:
    def __init__(self, run_ms: int | None = None) -> None:
        # a run's counter may outgrow 20 characters only after 36**11 orders
        self._head = PREFIX + base36(_next_run_ms() if run_ms is None else run_ms)
        self._counter = itertools.count(1)

    def next(self) -> str:
        order_id = f"{self._head}{base36(next(self._counter))}"
        if len(order_id) > MAX_TAG_LENGTH:
            raise OverflowError("live order ids ran out of room in Kite's 20-character tag")
        return order_id

    @staticmethod
    def owns(order_id: str) -> bool:
        """True if the id (a Kite tag) has our shape, from this run or an earlier one."""
        return order_id.startswith(PREFIX) and is_valid_tag(order_id)

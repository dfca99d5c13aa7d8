"""Paper order ids for a replay: numbered from the replay's first tick, never from the wall clock.

The live paper broker stamps its ids with the wall-clock start so a restart
never reuses a stored id; a replay stores nothing, and must give the same
ids on every run of the same file.
"""

from __future__ import annotations

import itertools

from engine.execution.order_ids import OrderIds, base36
from engine.execution.paper import ORDER_ID_PREFIX


class ReplayOrderIds(OrderIds):
    """`P-<run>-<n>` like the live ids, with `run` given instead of read from the clock."""

    def __init__(self, run: str) -> None:  # deliberately no super().__init__(): it reads the wall clock
        self.prefix = f"{ORDER_ID_PREFIX}-"
        self._replay_head = f"{ORDER_ID_PREFIX}-{run}-"
        self._replay_counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._replay_head}{next(self._replay_counter)}"

    def owns(self, order_id: str) -> bool:
        return order_id.startswith(self.prefix)


def replay_order_ids(first_tick_ts: float) -> ReplayOrderIds:
    """Ids whose run part is the first tick's feed time in milliseconds, base 36."""
    return ReplayOrderIds(base36(max(int(first_tick_ts * 1000), 0)))

"""A bounded memory of recently handled ids: the one de-duplication structure of the engine.

Redelivery is a near-term phenomenon: the Kafka bus commits after every
polled batch, so a rebalance or reconnect replays at most the records polled
since the last commit (hundreds), and a restart replays stored fills whose
newest ones come last. Remembering every id ever seen would only make the
process grow for as long as it trades. So an id is remembered while it is
among the last `capacity` ids recorded AND was recorded less than
`max_age_s` seconds ago; memory is bounded by `capacity` whatever the rate
or the uptime, and falls back when the flow stops being busy.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

DEFAULT_CAPACITY = 10_000
DEFAULT_MAX_AGE_S = 600.0


class RecentIds:
    """`seen(id)`: True if `id` was recorded within the window, else record it and return False."""

    __slots__ = ("capacity", "max_age_s", "_ids", "_order", "_times", "_clock")

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if max_age_s <= 0:
            raise ValueError("max_age_s must be positive")
        self.capacity = capacity
        self.max_age_s = max_age_s
        self._ids: set[str] = set()
        self._order: deque[str] = deque()  # oldest first; parallel to _times
        self._times: deque[float] = deque()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        """Membership without recording (and without expiring: a read never changes the window)."""
        return item in self._ids

    def seen(self, item: str) -> bool:
        """True if already recorded within the window; records it otherwise."""
        now = self._clock()
        self._expire(now)
        if item in self._ids:
            return True
        self._ids.add(item)
        self._order.append(item)
        self._times.append(now)
        if len(self._order) > self.capacity:
            self._ids.discard(self._order.popleft())
            self._times.popleft()
        return False

    def record(self, items: Iterable[str]) -> None:
        """Record many ids (e.g. what a restart restored); the newest last."""
        for item in items:
            self.seen(item)

    def _expire(self, now: float) -> None:
        times = self._times
        if times and times[0] <= now - self.max_age_s:
            horizon = now - self.max_age_s
            order, ids = self._order, self._ids
            while times and times[0] <= horizon:
                times.popleft()
                ids.discard(order.popleft())

"""A bounded memory of recently handled ids: the one de-duplication structure of the engine.

Redelivery is a near-term phenomenon: the Kafka bus commits after every
polled batch, so a rebalance or reconnect replays at most the records polled
since the last commit (hundreds), and a restart replays stored fills whose
newest ones come last. Remembering every id ever seen would only make the
process grow for as long as it trades. So an id is remembered while it is
among the last `capacity` ids recorded AND was recorded less than
`max_age_s` seconds ago; memory is bounded by `capacity` whatever the rate
or the uptime, and falls back when the flow stops being busy.

The window is a fixed ring of `capacity` slots (the ids, and their record
times in a packed float array) plus a dict for membership: about 60 bytes
per slot besides the id strings themselves (which the events share), and the
same memory from the first full lap on. A set with two deques (the earlier
form) took ~140 bytes per id and reallocated a 1 MB table every ~30,000
records as deletions piled up, which left the allocator's heap to grow for
minutes after the window had filled.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable

DEFAULT_CAPACITY = 10_000
DEFAULT_MAX_AGE_S = 600.0


class RecentIds:
    """`seen(id)`: True if `id` was recorded within the window, else record it and return False."""

    __slots__ = ("capacity", "max_age_s", "_ids", "_ring", "_times", "_head", "_tail", "_count", "_clock")

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
        self._ids: dict[str, None] = {}  # membership; a dict churns leaner than a set
        self._ring: list[str | None] = [None] * capacity  # slot i holds the id recorded at _times[i]
        self._times = array("d", bytes(8 * capacity))
        self._head = 0  # the next slot to write
        self._tail = 0  # the oldest id's slot (== _head when the ring is full)
        self._count = 0
        self._clock = clock

    def __len__(self) -> int:
        return self._count

    def __contains__(self, item: object) -> bool:
        """Membership without recording (and without expiring: a read never changes the window)."""
        return item in self._ids

    def seen(self, item: str) -> bool:
        """True if already recorded within the window; records it otherwise."""
        now = self._clock()
        ids = self._ids
        if self._count and self._times[self._tail] <= now - self.max_age_s:
            self._expire(now)
        if item in ids:
            return True
        head = self._head
        ring = self._ring
        if self._count == self.capacity:
            del ids[ring[head]]  # type: ignore[arg-type]  # a full ring: the oldest is at head
            self._tail = head + 1 if head + 1 < self.capacity else 0
        else:
            self._count += 1
        ids[item] = None
        ring[head] = item
        self._times[head] = now
        head += 1
        self._head = head if head < self.capacity else 0
        return False

    def record(self, items: Iterable[str]) -> None:
        """Record many ids (e.g. what a restart restored); the newest last."""
        for item in items:
            self.seen(item)

    def _expire(self, now: float) -> None:
        capacity, times, ring, ids = self.capacity, self._times, self._ring, self._ids
        horizon = now - self.max_age_s
        oldest = self._tail
        while self._count and times[oldest] <= horizon:
            del ids[ring[oldest]]  # type: ignore[arg-type]
            ring[oldest] = None
            self._count -= 1
            oldest += 1
            if oldest == capacity:
                oldest = 0
        self._tail = oldest

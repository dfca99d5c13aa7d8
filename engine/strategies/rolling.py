"""A fixed-size window of prices with O(1) running sum and sum of squares."""

from __future__ import annotations

import math


class RollingWindow:
    """The last `size` values pushed, their mean and (population) standard deviation.

    Values are stored relative to the first one pushed, which keeps the sum of
    squares small (no cancellation on prices in the thousands), and the sums
    are recomputed exactly once per lap of the ring, so float drift stays
    bounded however long the session runs. Amortised O(1) per push.
    """

    __slots__ = ("_buf", "_next", "_shift", "count", "size", "total", "total_sq")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be >= 1, got {size}")
        self.size = size
        self.count = 0
        self.total = 0.0  # of shifted values
        self.total_sq = 0.0
        self._buf = [0.0] * size
        self._next = 0
        self._shift: float | None = None

    @property
    def full(self) -> bool:
        return self.count == self.size

    def push(self, value: float) -> None:
        shift = self._shift
        if shift is None:
            shift = self._shift = value
        x = value - shift
        i = self._next
        if self.count == self.size:
            old = self._buf[i]
            self.total += x - old
            self.total_sq += x * x - old * old
        else:
            self.count += 1
            self.total += x
            self.total_sq += x * x
        self._buf[i] = x
        i += 1
        if i == self.size:
            i = 0
            self.total = math.fsum(self._buf)
            self.total_sq = math.fsum(v * v for v in self._buf)
        self._next = i

    def mean(self) -> float:
        """Mean of the values in the window (call only when count > 0)."""
        return self.total / self.count + (self._shift or 0.0)

    def std(self) -> float:
        """Population standard deviation of the window (call only when count > 0)."""
        m = self.total / self.count
        return math.sqrt(max(self.total_sq / self.count - m * m, 0.0))

    def oldest(self) -> float:
        """The value pushed `count - 1` pushes ago (call only when count > 0)."""
        index = self._next if self.count == self.size else 0
        return self._buf[index] + (self._shift or 0.0)

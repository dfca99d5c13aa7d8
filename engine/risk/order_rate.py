"""Orders let through per strategy in a sliding window of clock time."""

from __future__ import annotations

from collections import deque


class OrderRate:
    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}

    def count(self, strategy_id: str, now: float) -> int:
        """Orders in (now - window, now]."""
        times = self._times.get(strategy_id)
        if times is None:
            return 0
        horizon = now - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    def record(self, strategy_id: str, now: float) -> None:
        times = self._times.get(strategy_id)
        if times is None:
            times = self._times[strategy_id] = deque()
        times.append(now)

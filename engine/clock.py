"""Clocks. Every engine part asks a Clock for the time, so a simulated session,
a replay, and a frozen test clock all drive the same code."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Epoch seconds, UTC."""
        ...


class WallClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to: tests, and replays (set to each tick's time)."""

    def __init__(self, start: float) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def set(self, ts: float) -> None:
        self._now = ts

    def advance(self, seconds: float) -> None:
        self._now += seconds

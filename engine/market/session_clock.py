"""A simulated NSE session clock, so the simulated market trades at any hour of any day.

It starts at the configured session time on a trading day (today if today is
one, otherwise the next), runs at `speed` times real elapsed time, and when it
passes the 15:30 close it continues from the next trading day's open: the
market-hours rules of the engine always hold, yet `launch` at midnight on a
Sunday still shows a live market.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as dtime

from engine.market.calendar import IST, SESSION_CLOSE, SESSION_OPEN, MarketCalendar


class SimulatedSessionClock:
    """`Clock` over simulated session time (epoch seconds, UTC)."""

    __slots__ = ("_anchor_real", "_anchor_session", "_calendar", "_close", "_day", "_speed", "_time_source")

    def __init__(
        self,
        calendar: MarketCalendar | None = None,
        *,
        session_start: dtime = SESSION_OPEN,
        speed: float = 1.0,
        start_day: date | None = None,
        time_source: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed < 0:
            raise ValueError(f"session speed must not be negative, got {speed}")
        if session_start >= SESSION_CLOSE:
            raise ValueError(f"session_start {session_start} is not before the {SESSION_CLOSE} close")
        self._calendar = calendar or MarketCalendar()
        self._speed = speed
        self._time_source = time_source
        day = start_day or datetime.now(IST).date()
        if not self._calendar.is_trading_day(day):
            day = self._calendar.next_trading_day(day)
        self._day = day
        self._anchor_session = datetime.combine(day, session_start, IST).timestamp()
        self._close = self._calendar.session_bounds(day)[1]
        self._anchor_real = time_source()

    @classmethod
    def frozen(cls, ts: float, calendar: MarketCalendar | None = None) -> SimulatedSessionClock:
        """A clock stopped at `ts` (no roll-over): deterministic snapshots and tests."""
        clock = cls(calendar, speed=0.0, time_source=lambda: 0.0)
        clock._anchor_session = ts
        clock._day = MarketCalendar.ist(ts).date()
        clock._close = math.inf
        return clock

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def session_day(self) -> date:
        """The trading day the simulated session is in now."""
        self.now()
        return self._day

    def now(self) -> float:
        real = self._time_source()
        ts = self._anchor_session + (real - self._anchor_real) * self._speed
        if ts >= self._close:
            ts = self._roll_over(ts, real)
        return ts

    def _roll_over(self, ts: float, real: float) -> float:
        """Carry the time past the close into the next trading day's session."""
        calendar = self._calendar
        day = self._day
        close = self._close
        while ts >= close:
            overflow = ts - close
            day = calendar.next_trading_day(day)
            session_open, close = calendar.session_bounds(day)
            ts = session_open + overflow
        self._day = day
        self._close = close
        self._anchor_session = ts
        self._anchor_real = real
        return ts

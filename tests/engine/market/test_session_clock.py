from __future__ import annotations

from datetime import date, datetime, time

import pytest

from engine.market.calendar import IST, MarketCalendar
from engine.market.session_clock import SimulatedSessionClock


class FakeMonotonic:
    """A real-time source the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ist(day: date, hh: int, mm: int, ss: float = 0.0) -> float:
    return datetime.combine(day, time(hh, mm), IST).timestamp() + ss


CALENDAR = MarketCalendar()


def test_starts_at_session_start_on_the_start_day_when_it_trades() -> None:
    real = FakeMonotonic()
    clock = SimulatedSessionClock(CALENDAR, start_day=date(2026, 1, 20), time_source=real)
    assert clock.now() == ist(date(2026, 1, 20), 9, 15)
    assert clock.session_day == date(2026, 1, 20)


def test_a_weekend_start_day_moves_to_the_next_trading_day() -> None:
    real = FakeMonotonic()
    saturday = date(2026, 1, 17)
    clock = SimulatedSessionClock(CALENDAR, start_day=saturday, session_start=time(10, 0), time_source=real)
    assert clock.session_day == date(2026, 1, 19)
    assert clock.now() == ist(date(2026, 1, 19), 10, 0)


def test_runs_at_speed_times_real_elapsed() -> None:
    real = FakeMonotonic()
    clock = SimulatedSessionClock(CALENDAR, start_day=date(2026, 1, 20), speed=10.0, time_source=real)
    start = clock.now()
    real.now += 6.0
    assert clock.now() == start + 60.0
    real.now += 0.5
    assert clock.now() == start + 65.0


def test_passing_the_close_continues_at_the_next_days_open() -> None:
    real = FakeMonotonic()
    tuesday = date(2026, 1, 20)
    clock = SimulatedSessionClock(CALENDAR, start_day=tuesday, session_start=time(15, 29), time_source=real)
    real.now += 59.0
    assert clock.now() == ist(tuesday, 15, 29, 59.0)
    assert clock.session_day == tuesday
    real.now += 61.0  # one minute past the close
    assert clock.now() == ist(date(2026, 1, 21), 9, 16)
    assert clock.session_day == date(2026, 1, 21)
    real.now += 30.0
    assert clock.now() == ist(date(2026, 1, 21), 9, 16, 30.0)


def test_roll_over_skips_the_weekend_and_an_exchange_holiday() -> None:
    real = FakeMonotonic()
    friday = date(2026, 1, 23)  # Monday 26 January is Republic Day
    clock = SimulatedSessionClock(CALENDAR, start_day=friday, session_start=time(15, 29), time_source=real)
    real.now += 120.0
    assert clock.session_day == date(2026, 1, 27)
    assert clock.now() == ist(date(2026, 1, 27), 9, 16)


def test_roll_over_uses_the_calendar_it_is_given() -> None:
    real = FakeMonotonic()
    calendar = MarketCalendar(holidays={date(2026, 1, 21): "test holiday"})
    clock = SimulatedSessionClock(
        calendar, start_day=date(2026, 1, 20), session_start=time(15, 0), time_source=real
    )
    real.now += 31 * 60
    assert clock.session_day == date(2026, 1, 22)


def test_a_fast_session_is_always_open_and_never_goes_back() -> None:
    real = FakeMonotonic()
    clock = SimulatedSessionClock(CALENDAR, start_day=date(2026, 1, 12), speed=3000.0, time_source=real)
    previous = clock.now()
    days = set()
    for _ in range(2000):
        real.now += 1.7  # 85 simulated minutes per step: several sessions a day's worth
        now = clock.now()
        assert now > previous
        assert CALENDAR.is_open(now), datetime.fromtimestamp(now, IST)
        days.add(clock.session_day)
        previous = now
    assert all(CALENDAR.is_trading_day(d) for d in days)
    assert len(days) > 100


def test_frozen_clock_stands_still_even_past_the_close() -> None:
    ts = ist(date(2026, 1, 20), 16, 0)
    clock = SimulatedSessionClock.frozen(ts, CALENDAR)
    assert clock.now() == ts
    assert clock.now() == ts
    assert clock.session_day == date(2026, 1, 20)


def test_session_start_must_be_before_the_close() -> None:
    with pytest.raises(ValueError, match="close"):
        SimulatedSessionClock(CALENDAR, session_start=time(15, 30))

"""NSE trading calendar in IST: sessions, weekends and the exchange's holiday list."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from assets import asset_path

IST = ZoneInfo("Asia/Kolkata")
HOLIDAYS_FILE = "nse_holidays.csv"

PRE_OPEN_START = time(9, 0)
PRE_OPEN_END = time(9, 8)
SESSION_OPEN = time(9, 15)
SESSION_CLOSE = time(15, 30)


class MarketStatus(StrEnum):
    PRE_OPEN = "pre-open"
    OPEN = "open"
    CLOSED = "closed"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


def load_holidays(path: Path | None = None) -> dict[date, str]:
    source = path or asset_path(HOLIDAYS_FILE)
    with source.open(newline="", encoding="utf-8") as fh:
        return {date.fromisoformat(row["date"]): row["description"] for row in csv.DictReader(fh)}


class MarketCalendar:
    def __init__(self, holidays: dict[date, str] | None = None) -> None:
        self.holidays = load_holidays() if holidays is None else holidays

    @staticmethod
    def ist(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, IST)

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def status(self, ts: float) -> MarketStatus:
        now = self.ist(ts)
        day = now.date()
        if day.weekday() >= 5:
            return MarketStatus.WEEKEND
        if day in self.holidays:
            return MarketStatus.HOLIDAY
        clock = now.time()
        if SESSION_OPEN <= clock < SESSION_CLOSE:
            return MarketStatus.OPEN
        if PRE_OPEN_START <= clock < PRE_OPEN_END:
            return MarketStatus.PRE_OPEN
        return MarketStatus.CLOSED

    def is_open(self, ts: float) -> bool:
        return self.status(ts) is MarketStatus.OPEN

    def describe(self, ts: float) -> str:
        status = self.status(ts)
        if status is MarketStatus.HOLIDAY:
            return f"holiday: {self.holidays[self.ist(ts).date()]}"
        if status is MarketStatus.OPEN:
            return "open"
        return f"{status.value}; next open {self.next_open(ts).strftime('%a %d %b %H:%M IST')}"

    def next_trading_day(self, day: date) -> date:
        nxt = day + timedelta(days=1)
        while not self.is_trading_day(nxt):
            nxt += timedelta(days=1)
        return nxt

    def next_open(self, ts: float) -> datetime:
        now = self.ist(ts)
        day = now.date()
        if self.is_trading_day(day) and now.time() < SESSION_OPEN:
            return datetime.combine(day, SESSION_OPEN, IST)
        return datetime.combine(self.next_trading_day(day), SESSION_OPEN, IST)

    def session_bounds(self, day: date) -> tuple[float, float]:
        """Open and close of a day's regular session, as epoch seconds."""
        return (
            datetime.combine(day, SESSION_OPEN, IST).timestamp(),
            datetime.combine(day, SESSION_CLOSE, IST).timestamp(),
        )

    def trading_days(self, start: date, count: int) -> Iterable[date]:
        day = start if self.is_trading_day(start) else self.next_trading_day(start)
        for _ in range(count):
            yield day
            day = self.next_trading_day(day)

"""Kite's timestamps: "YYYY-MM-DD HH:MM:SS" in IST."""

from __future__ import annotations

from datetime import datetime

from engine.market.calendar import IST

KITE_TIME = "%Y-%m-%d %H:%M:%S"


def kite_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, IST).strftime(KITE_TIME)

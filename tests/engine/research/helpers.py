"""Tick files for replay tests: a simulated session written to disk, on a real trading day."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from engine.clock import ManualClock
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import write_ticks

TRADING_DAY_OPEN = datetime(2026, 11, 23, 9, 15, tzinfo=IST).timestamp()  # a Monday, not a holiday
SYMBOLS = ("RELIANCE", "INFY", "TCS", "HDFCBANK")


def simulated_session(path: Path, rounds: int, *, seed: int = 3, step_s: float = 1.0) -> Path:
    """`rounds` ticks of each of SYMBOLS, `step_s` apart, from the open; written as CSV or Parquet."""
    registry = InstrumentRegistry.sample()
    chosen = [registry.by_symbol(s) for s in SYMBOLS]
    clock = ManualClock(TRADING_DAY_OPEN)
    feed = SimulatedFeed(chosen, clock=clock, seed=seed)
    ticks = []
    for _ in range(rounds):
        ticks.extend(feed.next_batch(len(chosen)))
        clock.advance(step_s)
    write_ticks(path, ticks, registry)
    return path

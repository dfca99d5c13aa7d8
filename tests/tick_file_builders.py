"""Tick files for tests: a seeded simulated session written in the replay format."""

from __future__ import annotations

from pathlib import Path

from engine.clock import ManualClock
from engine.instruments import InstrumentRegistry
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import write_ticks


def write_file_turning_bad(path: Path, rounds: int, instruments: InstrumentRegistry) -> int:
    """A CSV of `rounds` seconds of ticks for every instrument whose 30th line from the end holds a
    Latin-1 byte in its instrument token; returns that line's number."""
    clock = ManualClock(SimulatedSessionClock().now())
    feed = SimulatedFeed(list(instruments), clock=clock, seed=4)
    ticks = []
    for _ in range(rounds):
        clock.advance(1.0)
        ticks.extend(feed.next_batch(len(instruments)))
    write_ticks(path, ticks, instruments)
    lines = path.read_bytes().split(b"\n")
    lines[-30] = lines[-30].replace(b",", b",\xe9", 1)
    path.write_bytes(b"\n".join(lines))
    return len(lines) - 29

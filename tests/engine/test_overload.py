"""The engine flooded with ticks: fills keep flowing, overload is visible, stop drains in seconds.

Tiny queues (200) at 50,000 ticks/s on the live, queued in-process bus with
SQLite storage: the configuration that used to deadlock risk and execution
within seconds. Risk limits are opened wide so only the bus can stop fills.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from engine.bus import InProcessBus, TickOverflow
from engine.events import EngineState, Namespace
from engine.health.registry import CheckStatus
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.repository import load_fills

OPEN_RISK = {
    "max_orders_per_minute": 1_000_000,
    "max_open_positions": 10_000,
    "max_daily_loss": 1e12,
    "max_daily_loss_per_strategy": 1e12,
}


def overload_settings(overflow: TickOverflow = TickOverflow.CONFLATE) -> Settings:
    return load_settings(
        bus={"queue_size": 200, "tick_overflow": overflow},
        feed={"ticks_per_second": 50_000},
        risk=OPEN_RISK,
    )


async def stored_fills(engine: Engine) -> int:
    assert engine.db is not None
    await engine.db.connect()
    try:
        return len(await load_fills(engine.db, Namespace.PAPER))
    finally:
        await engine.db.close()


@pytest.mark.slow
async def test_fills_keep_flowing_for_a_minute_at_50k_ticks_a_second_with_tiny_queues(
    isolated_dirs: Path,
) -> None:
    engine = Engine(overload_settings())
    assert isinstance(engine.bus, InProcessBus)
    await engine.start()
    try:
        fills = [engine.status().fills]
        for _ in range(12):  # 60 s in windows of 5 s
            await asyncio.sleep(5.0)
            fills.append(engine.status().fills)
        status = engine.status()
        health = {r.name: r for r in await engine.check_health()}
    finally:
        await engine.stop()
    growth = [after - before for before, after in itertools.pairwise(fills)]
    assert all(step > 0 for step in growth), f"fills stalled in a 5 s window: {fills}"
    assert status.state is EngineState.RUNNING
    assert status.conflated_ticks > 0  # overload shows up as conflated ticks...
    pipeline = health["pipeline"]
    assert pipeline.status is CheckStatus.WARN  # ...and as a health warning with the numbers
    assert "ticks conflated since the last check" in pipeline.message
    assert await stored_fills(engine) == engine.status().fills  # every published fill stored


@pytest.mark.slow
@pytest.mark.parametrize("overflow", [TickOverflow.CONFLATE, TickOverflow.BLOCK])
async def test_stop_under_overload_drains_in_seconds_and_stores_every_fill(
    isolated_dirs: Path, overflow: TickOverflow
) -> None:
    engine = Engine(overload_settings(overflow))
    await engine.start()
    await asyncio.sleep(6.0)
    async with asyncio.timeout(5.0):  # stop while events are queued
        while engine.bus.backlog() == 0:  # noqa: ASYNC110 - the bus exposes counters, not events
            await asyncio.sleep(0.001)
    published_before = engine.status().fills
    began = time.monotonic()
    await engine.stop()
    took = time.monotonic() - began
    assert took < 5.0, f"stop took {took:.1f} s"
    assert engine.bus.backlog() == 0
    assert engine.bus.event_backlog() == 0
    published = engine.status().fills
    assert published >= published_before > 0
    assert await stored_fills(engine) == published  # no fill lost at stop
    db_file = engine.settings.data_dir / "alpha_panda.db"
    with sqlite3.connect(db_file) as conn:
        (orders,) = conn.execute("select count(*) from orders").fetchone()
    assert orders == engine.status().orders  # nor an order: every queued event was handled

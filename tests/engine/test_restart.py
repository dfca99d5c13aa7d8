"""Restarts: strategies start from their stored positions, and no paper order is left working.

A real engine on SQLite in the test's data dir; the feed is pumped (unpaced), so every
run is deterministic. A crash is an engine abandoned without `stop()`, its storage
flushed by hand up to the moment of the "kill".
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.events import MarketTick, Namespace, OrderFilled, Product, Side, TradingSignal
from engine.execution.paper import RESTART_REASON, STOP_REASON
from engine.instruments import InstrumentRegistry
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage import models
from engine.storage.database import Database
from engine.storage.repository import load_fills, load_unresolved_orders
from engine.strategies.base import Strategy

QUANTITY = 20
NTPC = InstrumentRegistry.sample().by_symbol("NTPC").instrument_token


class AlwaysLong(Strategy):
    """Long-only and never exits: every tick says "be long", so only its position stops a repeat BUY."""

    kind = "always_long"

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        return self.go_long(tick, "always long")


def _strategy() -> AlwaysLong:
    return AlwaysLong("always_long", (NTPC,), (Namespace.PAPER,), {"quantity": QUANTITY})


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text("", encoding="utf-8")
    return load_settings(feed={"symbols": ["NTPC"]})


def _engine(settings: Settings) -> Engine:
    return Engine(settings, paced=False, strategies=[_strategy()])


async def _pump_until(engine: Engine, done: object, limit: int = 2_000) -> None:
    for _ in range(limit):
        await engine.pump(1)
        if callable(done) and done():
            return
    raise AssertionError("the condition never held")


async def _stored(settings: Settings) -> tuple[list[OrderFilled], list[dict[str, object]]]:
    db = Database(settings.database_url)
    await db.connect()
    try:
        fills = await load_fills(db, Namespace.PAPER)
        async with db.engine.connect() as conn:
            rows = (await conn.execute(select(models.orders).order_by(models.orders.c.id))).mappings().all()
        return fills, [dict(row) for row in rows]
    finally:
        await db.close()


def _net(fills: list[OrderFilled]) -> dict[tuple[str, int], int]:
    net: dict[tuple[str, int], int] = defaultdict(int)
    for fill in fills:
        net[(fill.strategy_id, fill.instrument_token)] += fill.side.sign * fill.quantity
    return dict(net)


async def _crash(engine: Engine) -> None:
    """What a kill -9 leaves: whatever storage had written, and no stop() (no cancels)."""
    assert engine.writer is not None and engine.db is not None
    await engine.bus.drain()
    await engine.writer.flush()
    await engine.bus.stop()
    await engine.db.close()
    if engine.db_lock is not None:  # the OS drops the dead engine's database lock
        await engine.db_lock.release()


async def test_a_long_only_strategy_buys_once_across_three_restarts(settings: Settings) -> None:
    for launch in range(3):
        engine = _engine(settings)
        await engine.start()
        strategy = engine.strategy_runner.strategies[0]
        assert strategy.position(NTPC) == (QUANTITY if launch else 0)
        await engine.pump(300)
        assert engine.status().orders == (0 if launch else 1), f"launch {launch + 1} bought again"
        assert engine.paper.positions() == {("always_long", NTPC, Product.MIS): QUANTITY}
        book = engine.portfolios[Namespace.PAPER].portfolio("always_long")
        assert book.positions[NTPC].quantity == QUANTITY
        await engine.stop()

    fills, orders = await _stored(settings)
    assert {f.side for f in fills} == {Side.BUY}
    assert _net(fills) == {("always_long", NTPC): QUANTITY}
    assert [o["status"] for o in orders] == ["FILLED"]


async def test_clean_stop_cancels_working_orders_and_the_next_run_buys_again(settings: Settings) -> None:
    engine = _engine(settings)
    await engine.start()
    await _pump_until(engine, lambda: bool(engine.paper.open_orders()))
    assert engine.status().fills == 0  # placed on this tick, fills only on a later quote
    await engine.stop()
    assert engine.paper.open_orders() == {}

    fills, orders = await _stored(settings)
    assert fills == []
    assert [(o["status"], o["status_reason"]) for o in orders] == [("CANCELLED", STOP_REASON)]

    again = _engine(settings)
    await again.start()
    assert again.strategy_runner.strategies[0].position(NTPC) == 0  # the cancelled BUY never filled
    await _pump_until(again, lambda: again.status().fills > 0)
    await again.stop()
    fills, orders = await _stored(settings)
    assert _net(fills) == {("always_long", NTPC): QUANTITY}
    assert [o["status"] for o in orders] == ["CANCELLED", "FILLED"]


async def test_an_order_working_at_a_crash_is_cancelled_on_restart(settings: Settings) -> None:
    first = _engine(settings)
    await first.start()
    await _pump_until(first, lambda: bool(first.paper.open_orders()))
    (order_id,) = first.paper.open_orders()
    await _crash(first)

    assert first.db is not None
    await first.db.connect()
    (stored,) = await load_unresolved_orders(first.db, Namespace.PAPER)
    await first.db.close()
    assert (stored.order.order_id, stored.remaining, stored.filled_quantity) == (order_id, QUANTITY, 0)

    second = _engine(settings)
    await second.start()
    # by the time start() returns, the dead order is cancelled, stored, and forgotten by its strategy
    strategy = second.strategy_runner.strategies[0]
    assert strategy.position(NTPC) == 0
    assert second.db is not None
    assert await load_unresolved_orders(second.db, Namespace.PAPER) == []
    _, orders = await _stored(settings)
    assert [(o["order_id"], o["status"], o["status_reason"]) for o in orders] == [
        (order_id, "CANCELLED", RESTART_REASON)
    ]
    # so the strategy buys again, once, and the position is one lot
    await engine_pump_until_filled(second)
    await second.pump(200)
    assert second.status().orders == 1
    await second.stop()
    fills, orders = await _stored(settings)
    assert _net(fills) == {("always_long", NTPC): QUANTITY}
    assert [o["status"] for o in orders] == ["CANCELLED", "FILLED"]


async def engine_pump_until_filled(engine: Engine) -> None:
    await _pump_until(engine, lambda: engine.status().fills > 0)


async def test_a_crash_after_the_fill_restores_the_position_without_a_second_buy(settings: Settings) -> None:
    first = _engine(settings)
    await first.start()
    await engine_pump_until_filled(first)
    await first.pump(50)
    await _crash(first)

    second = _engine(settings)
    await second.start()
    assert second.strategy_runner.strategies[0].position(NTPC) == QUANTITY
    await second.pump(300)
    assert second.status().orders == 0
    await second.stop()
    fills, _ = await _stored(settings)
    assert _net(fills) == {("always_long", NTPC): QUANTITY}


async def test_a_part_filled_order_at_a_crash_keeps_its_fills_and_loses_the_rest(settings: Settings) -> None:
    first = _engine(settings)
    await first.start()
    await engine_pump_until_filled(first)
    await first.pump(5)
    await _crash(first)
    # make the stored order look part-filled: 20 ordered, 5 filled (a fill of 15 was lost in the crash)
    db = Database(settings.database_url)
    await db.connect()
    fills = models.fills
    async with db.engine.begin() as conn:
        first_id = (await conn.execute(select(fills.c.id).order_by(fills.c.id).limit(1))).scalar_one()
        await conn.execute(fills.delete().where(fills.c.id != first_id))
        await conn.execute(fills.update().values(quantity=5, remaining_quantity=15))
        await conn.execute(models.orders.update().values(status="PARTIAL", filled_quantity=5))
    await db.close()

    second = _engine(settings)
    await second.start()
    # 5 held; the 15 still wanted were cancelled (and forgotten), so it buys exactly 15 more
    assert second.strategy_runner.strategies[0].position(NTPC) == 5
    _, orders = await _stored(settings)
    assert [(o["status"], o["status_reason"], o["filled_quantity"]) for o in orders] == [
        ("CANCELLED", RESTART_REASON, 5)
    ]
    await engine_pump_until_filled(second)
    await second.pump(200)
    await second.stop()
    stored_fills, _ = await _stored(settings)
    assert stored_fills[0].quantity == 5
    assert {f.side for f in stored_fills} == {Side.BUY}
    assert _net(stored_fills) == {("always_long", NTPC): QUANTITY}

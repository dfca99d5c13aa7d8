"""A relaunched console opens on the day so far: today's orders, fills, positions and P&L from the
engine's storage and portfolios, not empty panes and 0.00."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpha_panda_tui.app import make_app
from engine.day_snapshot import ist_day_bounds
from engine.events import Command, CommandAction, EngineState, Namespace, make_event
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.repository import fills_between, orders_between
from engine.topics import CONTROL_COMMANDS
from tests.alpha_panda_tui.harness import WIDE, wait_for
from tests.strategy_configs import CHATTY_STRATEGIES_TOML
from viewmodels.rows import OrderStatus
from viewmodels.trading import MAX_FILLS, MAX_ORDERS
from widgets.fill_list import FillList
from widgets.order_list import OrderList
from widgets.strategy_list import StrategyList

STORED_STATUS = {
    "PLACED": OrderStatus.OPEN,
    "PARTIAL": OrderStatus.PARTIAL,
    "FILLED": OrderStatus.FILLED,
    "FAILED": OrderStatus.FAILED,
    "CANCELLED": OrderStatus.CANCELLED,
}


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


async def trade_then_stop(settings: Settings, *, halt: bool = False) -> None:
    engine = Engine(settings, paced=False)
    await engine.start()
    for _ in range(8):
        await engine.pump(500)
    assert engine.status().fills > 20, "the strategies should have traded"
    if halt:
        command = Command(action=CommandAction.HALT, reason="end of day")
        await engine.bus.publish(
            CONTROL_COMMANDS, make_event(command, namespace=Namespace.SHARED, source="test", key="halt")
        )
        await engine.bus.drain()
    await engine.stop()


@pytest.mark.slow
async def test_a_relaunched_console_shows_todays_orders_fills_and_pnl(settings: Settings) -> None:
    await trade_then_stop(settings, halt=True)

    engine = Engine(settings)
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    engine.feed.pause()  # no new ticks: the numbers below must match exactly, not drift
    await engine.bus.drain()
    try:
        assert engine.db is not None
        start, end = ist_day_bounds(engine.clock.now())
        orders, order_count = await orders_between(engine.db, Namespace.PAPER, start, end, MAX_ORDERS)
        fills, fill_count = await fills_between(engine.db, Namespace.PAPER, start, end, MAX_FILLS)
        assert order_count > 20 and fill_count > 20
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: app.state.trading_day != "")
            app.pull_now(force=True)
            await pilot.pause()
            state = app.state
            # the orders and fills panes: the newest of today's, as storage holds them
            assert [r.order_id for r in state.orders.by_id.values()] == [o.order_id for o in orders]
            assert [f.trade_id for f in state.orders.fills] == [f.fill.trade_id for f in fills]
            for stored in orders:
                shown = state.orders.by_id[stored.order_id]
                assert shown.status is STORED_STATUS[stored.status.value]
                assert shown.filled_quantity == stored.filled_quantity
            assert len(app.screen.query_one(OrderList).rows) == len(orders)
            assert len(app.screen.query_one(FillList).rows) == len(fills)
            # per-strategy P&L and positions: the engine's portfolio numbers
            books = engine.portfolios[Namespace.PAPER].portfolios.values()
            assert any(abs(book.realized_pnl + book.unrealized_pnl - book.charges) > 0.01 for book in books)
            for book in books:
                net = book.realized_pnl + book.unrealized_pnl - book.charges
                assert state.pnl.of_strategy(book.strategy_id) == pytest.approx(net, abs=1e-6)
                strategy = state.strategies.find(book.strategy_id)
                assert strategy is not None and strategy.pnl == pytest.approx(net, abs=1e-6)
                held = {t: p.quantity for t, p in book.positions.items() if p.quantity}
                positions = {
                    r.symbol: r.quantity
                    for r in state.pnl.position_rows()
                    if r.portfolio_id == book.portfolio_id and not r.is_total
                }
                assert positions == {state.symbol(t): q for t, q in held.items()}
            total = sum(b.realized_pnl + b.unrealized_pnl - b.charges for b in books)
            assert state.pnl.total() == pytest.approx(total, abs=1e-6)
            assert [r.pnl for r in app.screen.query_one(StrategyList).rows] == [
                pytest.approx(state.pnl.of_strategy(r.status.name)) for r in state.strategies.rows
            ]
            # and the saved kill switch, at once
            assert state.engine_state is EngineState.HALTED
            assert state.status is not None and state.status.halted_reason == "end of day"
    finally:
        await engine.stop()


@pytest.mark.slow
async def test_fills_seen_live_and_in_storage_show_once(settings: Settings) -> None:
    """The console subscribes before the engine starts, so this run's first fills reach it live
    and are in storage when it asks for the day: each shows once, with storage's order totals."""
    await trade_then_stop(settings)
    engine = Engine(load_settings(feed={"ticks_per_second": 2_000}, risk=settings.risk.model_dump()))
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    try:
        await wait_for(lambda: engine.status().fills > 0)  # this run's fills, already live in the UiState
        engine.feed.pause()
        await engine.bus.drain()
        assert engine.writer is not None and await engine.writer.flush()
        live = {f.trade_id for f in app.state.orders.fills}
        assert live
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: app.state.trading_day != "")
            await pilot.pause()
            state = app.state
            trade_ids = [f.trade_id for f in state.orders.fills]
            assert live < set(trade_ids)  # the earlier run's fills were added to this run's
            assert len(trade_ids) == len(set(trade_ids))
            assert engine.db is not None
            start, end = ist_day_bounds(engine.clock.now())
            stored, _ = await orders_between(engine.db, Namespace.PAPER, start, end, MAX_ORDERS)
            assert {o.order_id for o in stored} == set(state.orders.by_id)
            for order in stored:
                shown = state.orders.by_id[order.order_id]
                assert shown.filled_quantity == order.filled_quantity, order.order_id
    finally:
        await engine.stop()

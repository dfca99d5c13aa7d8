"""The order trace of an order the console never saw live (from an earlier run) is told from the
engine's storage; an unknown order says why; while the answer is awaited the screen says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Label, Static

from alpha_panda_tui.app import AlphaPandaApp, make_app
from alpha_panda_tui.screens.order_trace import FROM_STORAGE, LOADING, NOT_STORED, OrderTraceScreen
from engine.events import (
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderTraceRequest,
    OrderType,
    Product,
    Side,
    TradingSignal,
    make_event,
)
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.repository import recent_orders, trace
from engine.topics import TopicMap
from tests.alpha_panda_tui.harness import WIDE, console, wait_for
from tests.strategy_configs import CHATTY_STRATEGIES_TOML


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


def shown(screen: OrderTraceScreen) -> str:
    return "\n".join(str(w.render()) for w in screen.query("Static").results(Static))


async def trace_screen(app: AlphaPandaApp, order_id: str) -> OrderTraceScreen:
    screen = OrderTraceScreen(order_id)
    app.open_live_screen(screen)
    await wait_for(lambda: order_id in app.state.traces)
    app.pull_now(force=True)
    return screen


@pytest.mark.slow
async def test_an_order_from_an_earlier_run_is_traced_from_storage(settings: Settings) -> None:
    engine = Engine(settings, paced=False)
    await engine.start()
    for _ in range(6):
        await engine.pump(500)
    assert engine.db is not None and engine.writer is not None and await engine.writer.flush()
    old = [o for o in await recent_orders(engine.db, Namespace.PAPER, limit=500) if o.filled_quantity]
    assert old, "the strategies should have traded"
    order = old[-1]  # the oldest filled order
    stored = await trace(engine.db, order.correlation_id)
    await engine.stop()

    engine = Engine(settings)
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    engine.feed.pause()
    try:
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: app.state.trading_day != "")
            lineage = app.state.lineages.get(order.correlation_id)
            assert lineage is None or lineage.signal is None  # this run never saw it live
            screen = await trace_screen(app, order.order_id)
            await pilot.pause()
            body = shown(screen)
            assert FROM_STORAGE in body
            [signal] = [e.payload for e in stored if isinstance(e.payload, TradingSignal)]
            assert f"{order.strategy_id}: {signal.side.value} {signal.quantity}" in body
            assert "ACCEPTED" in body
            assert f"{order.order_id}: MARKET" in body or f"{order.order_id}: LIMIT" in body
            assert NOT_STORED in body  # the event log keeps no ticks
            fills = [e.payload for e in stored if isinstance(e.payload, OrderFilled)]
            mine = [f.trade_id for f in fills if f.order_id == order.order_id]
            assert mine and all(f"{trade_id}:" in body for trade_id in mine)
            title = str(screen.query_one("#trace-title", Label).render())
            assert order.order_id in title and f"{order.filled_quantity}/{order.quantity}" in title
    finally:
        await engine.stop()


async def test_an_unknown_order_says_why_it_has_no_story(settings: Settings) -> None:
    engine = Engine(settings)
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    engine.feed.pause()
    try:
        async with app.run_test(size=WIDE) as pilot:
            screen = await trace_screen(app, "PAPER-NOPE")
            await pilot.pause()
            body = shown(screen)
            assert "Not in the engine's storage: order PAPER-NOPE is not in storage" in body
            assert "The console no longer holds this order." in body
    finally:
        await engine.stop()


async def test_while_the_engine_has_not_answered_the_screen_says_it_is_asking() -> None:
    async with console() as c:  # a bus with no engine on it: nobody answers
        placed = OrderPlaced("PAPER-LONE", "sma_fast", 738561, Side.BUY, 5, OrderType.MARKET, Product.MIS)
        event = make_event(placed, namespace=Namespace.PAPER, source="t", key="sma_fast")
        await c.bus.publish(TopicMap(Namespace.PAPER).orders_placed, event)
        await c.settle()
        c.app.open_live_screen(OrderTraceScreen("PAPER-LONE"))
        await c.settle()
        screen = c.app.screen
        assert isinstance(screen, OrderTraceScreen)
        assert LOADING in shown(screen)
        asked = [e.payload for e in c.probe.events if isinstance(e.payload, OrderTraceRequest)]
        assert [a.order_id for a in asked] == ["PAPER-LONE"]

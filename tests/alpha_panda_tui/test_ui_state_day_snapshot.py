"""A day snapshot seeds the UiState; live events already seen win, and nothing is counted twice."""

from __future__ import annotations

import pytest

from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.screens.order_trace import build_trace
from alpha_panda_tui.ui_state import UiState
from engine.bus import DirectBus
from engine.events import (
    Charges,
    DaySnapshot,
    EngineState,
    EngineStatus,
    Event,
    FillView,
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderType,
    OrderView,
    PnlSnapshot,
    Product,
    Side,
    make_event,
)
from engine.topics import ENGINE_STATUS, TopicMap
from tests.alpha_panda_tui.harness import INSTRUMENTS
from viewmodels.rows import OrderStatus

RELIANCE = 738561
TOPICS = TopicMap(Namespace.PAPER)
T0 = 1_780_000_000.0


def order(n: int, status: str = "FILLED", filled: int = 10, reason: str = "") -> OrderView:
    return OrderView(
        order_id=f"o{n}",
        namespace=Namespace.PAPER,
        strategy_id="ema",
        instrument_token=RELIANCE,
        side=Side.BUY,
        quantity=10,
        order_type=OrderType.MARKET,
        limit_price=None,
        status=status,
        status_reason=reason,
        filled_quantity=filled,
        average_price=100.0 if filled else 0.0,
        charges=1.5 if filled else 0.0,
        placed_ts=T0 + n,
        correlation_id=f"c{n}",
    )


def fill(n: int) -> OrderFilled:
    return OrderFilled(
        order_id=f"o{n}",
        trade_id=f"t{n}",
        strategy_id="ema",
        instrument_token=RELIANCE,
        side=Side.BUY,
        quantity=10,
        price=100.0,
        product=Product.MIS,
        charges=Charges(brokerage=1.5),
        fill_ts=T0 + n,
    )


def snapshot(
    request_id: str, orders: list[OrderView], fills: list[OrderFilled], orders_today: int | None = None
) -> Event:
    views = tuple(FillView(Namespace.PAPER, f"e-{f.trade_id}", f"c{f.order_id[1:]}", f) for f in fills)
    pnl = PnlSnapshot(
        "paper:ema", "ema", realized_pnl=-800.0, unrealized_pnl=-60.0, charges=24.93, cash=0, equity=0
    )
    payload = DaySnapshot(
        request_id=request_id,
        trading_day="2026-05-29",
        status=EngineStatus(
            state=EngineState.HALTED, halted_reason="end of day", loss_latches=("paper:ema",)
        ),
        portfolios=(pnl,),
        orders=tuple(orders),
        fills=views,
        orders_today=len(orders) if orders_today is None else orders_today,
        fills_today=len(fills),
    )
    return make_event(payload, namespace=Namespace.SHARED, source="day_snapshot", key="day_snapshot")


def live_fill(n: int) -> Event:
    return make_event(fill(n), namespace=Namespace.PAPER, source="execution.paper", key="ema")


async def wired() -> tuple[UiState, UiBridge, DirectBus]:
    bus = DirectBus()
    bridge = UiBridge(bus, INSTRUMENTS, (Namespace.PAPER,))
    bridge.wire()
    await bus.start()
    return bridge.state, bridge, bus


async def test_the_snapshot_seeds_orders_fills_pnl_and_the_halt() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    await bus.publish(ENGINE_STATUS, snapshot(request_id, [order(1), order(2, "PLACED", 0)], [fill(1)]))
    assert list(state.orders.by_id) == ["o1", "o2"]
    o1 = state.orders.by_id["o1"]
    assert o1.status is OrderStatus.FILLED and o1.average_price == 100.0
    assert state.orders.by_id["o2"].status is OrderStatus.OPEN
    assert [f.trade_id for f in state.orders.fills] == ["t1"]
    assert state.pnl.of_strategy("ema") == pytest.approx(-884.93)
    assert state.halted and state.latched
    assert state.trading_day == "2026-05-29"
    _, lineage, fills = state.lineage_for_order("o1")
    assert lineage is not None and [e.id for e in fills] == ["e-t1"]


async def test_live_events_win_and_snapshot_rows_go_before_them() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    await bus.publish(TOPICS.orders_filled, live_fill(3))  # a fill of this run, seen live first
    await bus.publish(ENGINE_STATUS, snapshot(request_id, [order(1), order(3)], [fill(1), fill(3)]))
    assert [f.trade_id for f in state.orders.fills] == ["t1", "t3"]  # once each, oldest first
    assert list(state.orders.by_id) == ["o1", "o3"]
    assert state.orders.by_id["o3"].filled_quantity == 10
    assert state.orders.by_id["o3"].order_type == "MARKET"  # completed from storage


async def test_a_live_fill_already_in_the_snapshot_is_not_counted_again() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    await bus.publish(ENGINE_STATUS, snapshot(request_id, [order(1)], [fill(1)]))
    await bus.publish(TOPICS.orders_filled, live_fill(1))  # was in flight when storage was read
    assert [f.trade_id for f in state.orders.fills] == ["t1"]
    assert state.orders.by_id["o1"].filled_quantity == 10


async def test_a_live_order_after_the_snapshot_keeps_the_stored_totals() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    await bus.publish(ENGINE_STATUS, snapshot(request_id, [order(1)], [fill(1)]))
    placed = OrderPlaced("o1", "ema", RELIANCE, Side.BUY, 10, OrderType.MARKET, Product.MIS, placed_ts=T0 + 1)
    placed_event = make_event(placed, namespace=Namespace.PAPER, source="execution.paper", key="ema")
    await bus.publish(TOPICS.orders_placed, placed_event)
    assert state.orders.by_id["o1"].filled_quantity == 10
    assert state.orders.by_id["o1"].status is OrderStatus.FILLED


async def test_a_snapshot_someone_else_asked_for_is_ignored() -> None:
    state, _, bus = await wired()
    await bus.publish(ENGINE_STATUS, snapshot("not-mine", [order(1)], [fill(1)]))
    assert not state.orders.by_id and not state.orders.fills and state.status is None


async def test_a_bounded_snapshot_says_how_much_of_the_day_it_shows() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    await bus.publish(ENGINE_STATUS, snapshot(request_id, [order(1)], [], orders_today=1234))
    assert any("the last 1 of 1234 orders" in line.text for line in state.log.lines)


async def test_the_trace_of_a_stored_order_tells_its_outcome_not_no_fill_yet() -> None:
    state, bridge, bus = await wired()
    request_id = await bridge.request_day_snapshot()
    stored = [order(1), order(2, "CANCELLED", 0, "engine stopped"), order(3, "FAILED", 0, "no price")]
    await bus.publish(ENGINE_STATUS, snapshot(request_id, stored, []))
    last = {}
    for order_id in ("o1", "o2", "o3"):
        row, lineage, fills = state.lineage_for_order(order_id)
        assert row is not None
        stage = build_trace(row, lineage, fills, state)[-1]
        last[order_id] = (stage.title, stage.text.split(";")[0], stage.ok)
    assert last == {
        "o1": ("FILL", "10/10 filled", True),
        "o2": ("CANCELLED", "engine stopped", False),
        "o3": ("FAILED", "no price", False),
    }

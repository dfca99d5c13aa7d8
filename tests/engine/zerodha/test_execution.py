"""Live orders against the Kite sandbox with the real kiteconnect client: placed, partly and fully
filled, rejected with Kite's reason, cancelled, modified; checked before they are sent."""

from __future__ import annotations

from pathlib import Path

from engine.events import (
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Side,
)
from engine.storage.audit import AuditLog
from engine.zerodha.order_store import LiveState
from tests.engine.zerodha.live_harness import live_desk
from tests.kite_sandbox.matching.helpers import INFY, pin


async def test_an_order_is_placed_filled_in_part_then_in_full_each_trade_once(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0, asks=[(1500.05, 3)])
        signal = await live.signal(Side.BUY, 5, limit=1501.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.of(OrderFilled))
        pin(live.sandbox, last=1500.0, asks=[(1500.10, 10)])
        await live.sandbox.push_tick(INFY)
        await live.until(lambda: len(live.of(OrderFilled)) == 2)
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.COMPLETE)
        await live.sandbox.push_tick(INFY)  # more updates and polls: nothing is booked twice
        await live.execution.poll()
        [kite_order] = live.kite_orders(placed.order_id)
        kite_trades = live.sandbox.desk.order_trades(kite_order["order_id"])
        stored = await live.stored_when(placed.order_id, LiveState.COMPLETE)
        audit = await AuditLog(live.db).recent(5)
    fills = live.of(OrderFilled)
    assert [(f.quantity, f.price, f.remaining_quantity) for f in fills] == [(3, 1500.05, 2), (2, 1500.10, 0)]
    assert [f.trade_id for f in fills] == [str(t["trade_id"]) for t in kite_trades]
    assert (placed.quantity, placed.limit_price, placed.order_type) == (5, 1501.0, OrderType.LIMIT)
    assert all(e.correlation_id == signal.correlation_id for e in live.events if e.type.startswith("order"))
    assert stored is not None
    assert (stored.state, stored.broker_order_id, stored.filled_quantity) == (
        LiveState.COMPLETE,
        kite_order["order_id"],
        5,
    )
    assert [(a.actor, a.action, a.subject) for a in audit] == [("strategy:sma", "placed", placed.order_id)]


async def test_an_order_kite_rejects_fails_with_kites_reason(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 1, limit=1700.0)  # above the 1650.00 upper circuit
        [failed] = await live.until(lambda: live.of(OrderFailed))
    [placed] = live.of(OrderPlaced)
    assert failed.order_id == placed.order_id
    assert "upper circuit limit" in failed.reason
    assert live.execution.order(placed.order_id).state is LiveState.REJECTED


async def test_orders_kite_would_refuse_are_refused_here_without_an_order_call(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        await live.signal(Side.BUY, 1, limit=1500.03)
        await live.signal(Side.BUY, 1, order_type=OrderType.SL, limit=1500.0, trigger=None)
        await live.signal(Side.BUY, 0)
        failed = live.of(OrderFailed)
        calls = live.sandbox.requests.order_calls()
    assert [f.reason for f in failed] == [
        "limit price 1500.03 of INFY is not a multiple of its tick size 0.05",
        "a SL order needs a positive trigger price",
        "quantity must be positive, got 0",
    ]
    assert calls == [] and live.of(OrderPlaced) == []


async def test_a_resting_order_is_cancelled_with_its_unfilled_quantity_and_our_reason(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 5, limit=1400.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.OPEN)
        assert live.execution.open_orders() == {placed.order_id: 5}
        assert await live.execution.cancel(placed.order_id, "by hand")
        [cancelled] = await live.until(lambda: live.of(OrderCancelled))
        assert not await live.execution.cancel(placed.order_id, "again")
    assert (cancelled.order_id, cancelled.unfilled_quantity, cancelled.reason) == (
        placed.order_id,
        5,
        "by hand",
    )
    assert live.execution.open_orders() == {}


async def test_a_modified_order_works_at_its_new_price_and_quantity(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 5, limit=1400.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.OPEN)
        assert await live.execution.modify(placed.order_id, quantity=7, price=1500.05)
        await live.until(lambda: live.of(OrderFilled))
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.COMPLETE)
        audit = await AuditLog(live.db).recent(1)
    [fill] = live.of(OrderFilled)
    assert (fill.quantity, fill.price, fill.remaining_quantity) == (7, 1500.05, 0)
    assert (audit[0].action, audit[0].subject) == ("modified", placed.order_id)
    assert "price=1500.05" in audit[0].detail


async def test_an_order_that_cannot_be_written_down_first_is_not_sent(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        await live.db.close()  # the database is gone: an intent cannot be written
        await live.signal(Side.BUY, 1, limit=1400.0)
        [failed] = live.of(OrderFailed)
        calls = live.sandbox.requests.order_calls()
        await live.db.connect()
    assert "could not be written to the database first" in failed.reason
    assert calls == [] and live.of(OrderPlaced) == []


async def test_beyond_the_daily_order_cap_a_live_order_fails_without_a_call(tmp_path: Path) -> None:
    async with live_desk(tmp_path, order_daily_cap=2) as live:
        pin(live.sandbox, last=1500.0)
        for _ in range(3):
            await live.signal(Side.BUY, 1, limit=1400.0)
        await live.until(lambda: len(live.of(OrderPlaced)) == 2 and live.of(OrderFailed))
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
    [failed] = live.of(OrderFailed)
    assert "the day's 2 order calls are used up" in failed.reason
    assert len(posts) == 2

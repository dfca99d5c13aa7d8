"""Reconciliation against the Kite sandbox: fills we missed are booked once, orders placed outside
the engine are adopted and flagged, orders Kite ended end here too, and a position mismatch
holds the strategies trading there until a person acknowledges it."""

from __future__ import annotations

from pathlib import Path

from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    OrderCancelled,
    OrderFailed,
    OrderPlaced,
    OrderType,
    Product,
    Side,
    SignalRejected,
    TradingSignal,
)
from engine.health.reconciliation import ReconciliationCheck
from engine.health.registry import CheckStatus
from engine.storage import models
from engine.storage.models import OrderStatus
from engine.topics import CONTROL_COMMANDS
from engine.zerodha.reconcile import NOT_AT_KITE
from engine.zerodha.reconcile_plan import ADOPTED_STRATEGY
from tests.engine.zerodha.reconcile_rig import TOPICS, Rig, reconcile_rig
from tests.kite_sandbox.matching.helpers import INFY, eventually, place


async def kite_trades(rig: Rig) -> list[dict[str, object]]:
    trades: list[dict[str, object]] = await rig.kite_call("trades")
    return trades


async def test_a_fill_we_missed_is_booked_once_with_kites_trade_id(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        order_id = await rig.place_ours("momentum", price=1500.05, quantity=3)
        [trade] = await kite_trades(rig)
        first = await rig.reconciler.reconcile("test")
        second = await rig.reconciler.reconcile("test")
        fills = await rig.fills()
        orders = await rig.orders()
        audit = await rig.audit.recent(20)
    assert (first.fills_booked, second.fills_booked) == (1, 0)
    [fill] = fills
    [booked] = [e for e in audit if e.action == "fill_booked"]
    assert (booked.actor, booked.subject) == ("engine:reconcile", order_id)
    assert booked.detail == f"trade {trade['trade_id']}: BUY 3 @ 1500.05"
    assert fill.trade_id == trade["trade_id"]
    assert (fill.order_id, fill.strategy_id, fill.quantity, fill.price) == (order_id, "momentum", 3, 1500.05)
    assert fill.side is Side.BUY and fill.product is Product.MIS
    assert fill.charges.total > 0
    assert orders[order_id].status is OrderStatus.FILLED
    assert not first.mismatches and not rig.reconciler.alarms


async def test_a_fill_already_on_the_bus_is_not_booked_again(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        order_id = await rig.place_ours("momentum", price=1500.05, quantity=2)
        [trade] = await kite_trades(rig)
        # the order update reached the live execution first: its fill is on the bus, not yet stored
        await rig.book_fill("momentum", order_id, str(trade["trade_id"]), 2, 1500.05)
        report = await rig.reconciler.reconcile("test")
        fills = await rig.fills()
    assert report.fills_booked == 0
    assert [f.trade_id for f in fills] == [trade["trade_id"]]


async def test_orders_placed_outside_the_engine_are_adopted_flagged_and_booked(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        untagged = "K" + await place(rig.kite, price=1500.05, quantity=4)
        foreign = "K" + await place(rig.kite, price=1490.0, quantity=1, tag="byhand1")  # rests
        first = await rig.reconciler.reconcile("test")
        second = await rig.reconciler.reconcile("test")
        orders = await rig.orders()
        fills = await rig.fills()
        audit = await rig.audit.recent(20)
        async with rig.db.engine.connect() as conn:
            live = {
                row["order_id"]: row
                for row in (await conn.execute(models.live_orders.select())).mappings().all()
            }
        health = await ReconciliationCheck(rig.reconciler).check()
    assert sorted(first.adopted) == sorted([untagged, foreign])
    assert second.adopted == [] and second.fills_booked == 0
    assert orders[untagged].strategy_id == orders[foreign].strategy_id == ADOPTED_STRATEGY
    assert orders[untagged].status is OrderStatus.FILLED
    assert orders[foreign].status is OrderStatus.PLACED
    assert (orders[foreign].order_type, orders[foreign].limit_price) == (OrderType.LIMIT, 1490.0)
    assert [(f.order_id, f.quantity) for f in fills] == [(untagged, 4)]
    assert live[untagged]["adopted"] and live[foreign]["adopted"]
    assert live[foreign]["broker_order_id"] == foreign.removeprefix("K")
    assert (live[untagged]["status"], live[foreign]["status"]) == ("COMPLETE", "OPEN")
    adopted = [entry for entry in audit if entry.action == "adopted"]
    assert sorted(entry.subject for entry in adopted) == sorted([untagged, foreign])
    assert any("tag byhand1" in entry.detail for entry in adopted)
    assert health.status is CheckStatus.WARN and foreign in health.message
    assert not first.mismatches  # the adopted fills make our position Kite's


async def test_orders_kite_ended_end_here_with_kites_reason(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        resting = await rig.place_ours("momentum", price=1490.0, quantity=5)
        rejected = await rig.place_ours("momentum", price=1700.0)  # above the 1650.00 circuit
        [kite_resting] = [o["order_id"] for o in await rig.kite_call("orders") if o["tag"] == resting]
        await rig.kite_call("cancel_order", "regular", kite_resting)
        report = await rig.reconciler.reconcile("test")
        orders = await rig.orders()
        audit = await rig.audit.recent(20)
    assert sorted(report.ended) == sorted([resting, rejected])
    assert sorted(e.subject for e in audit if e.action == "order_ended") == sorted([resting, rejected])
    assert orders[resting].status is OrderStatus.CANCELLED
    assert orders[rejected].status is OrderStatus.FAILED
    assert "upper circuit limit" in orders[rejected].status_reason
    [cancelled] = [e.payload for e in rig.events if isinstance(e.payload, OrderCancelled)]
    assert (cancelled.unfilled_quantity, cancelled.side) == (5, Side.BUY)
    [failed] = [e.payload for e in rig.events if isinstance(e.payload, OrderFailed)]
    assert failed.reason == orders[rejected].status_reason


async def test_an_order_kite_never_had_ends_after_two_runs(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        lost = rig.ids.next()
        placed = OrderPlaced(
            order_id=lost,
            strategy_id="momentum",
            instrument_token=INFY,
            side=Side.BUY,
            quantity=2,
            order_type=OrderType.LIMIT,
            product=Product.MIS,
            limit_price=1490.0,
        )
        await rig.publish(TOPICS.orders_placed, placed, "momentum")
        first = await rig.reconciler.reconcile("test")  # it may be on its way to Kite
        after_first = (await rig.orders())[lost].status
        second = await rig.reconciler.reconcile("test")
        orders = await rig.orders()
    assert first.ended == [] and after_first is OrderStatus.PLACED
    assert second.ended == [lost]
    assert (orders[lost].status, orders[lost].status_reason) == (OrderStatus.CANCELLED, NOT_AT_KITE)


def signal(strategy_id: str) -> TradingSignal:
    return TradingSignal(
        strategy_id=strategy_id, instrument_token=INFY, side=Side.BUY, quantity=1, reference_price=1500.0
    )


async def rejections(rig: Rig, strategy_id: str) -> list[str]:
    await rig.publish(TOPICS.signals_raw, signal(strategy_id), strategy_id)
    return [
        e.payload.rule
        for e in rig.events
        if isinstance(e.payload, SignalRejected) and e.payload.signal.strategy_id == strategy_id
    ]


async def test_a_position_mismatch_holds_the_strategy_until_acknowledged(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path, strategies_trading=lambda: {INFY: ["meanrev"]}) as rig:
        order_id = await rig.place_ours("momentum", price=1500.05, quantity=2)
        # a fill Kite never made: our book says 5 where Kite holds 2
        await rig.book_fill("momentum", order_id, "99999999", 3, 1500.05)
        report = await rig.reconciler.reconcile("test")
        alarm = await ReconciliationCheck(rig.reconciler).check()
        held = dict(rig.risk.holds)
        momentum_rules = await rejections(rig, "momentum")
        other_rules = await rejections(rig, "paper_only")
        command = Command(action=CommandAction.ACKNOWLEDGE_MISMATCH, target="", issued_by="console")
        await rig.publish(CONTROL_COMMANDS, command)
        again = await rig.reconciler.reconcile("test")
        after = await ReconciliationCheck(rig.reconciler).check()
        audit = await rig.audit.recent(20)
        restarted = await rig.restarted_risk()
    [mismatch] = report.mismatches
    assert (mismatch.instrument_token, mismatch.product, mismatch.ours, mismatch.broker) == (
        INFY,
        "MIS",
        5,
        2,
    )
    assert mismatch.strategies == ("meanrev", "momentum")
    assert sorted(report.held) == ["meanrev", "momentum"] and set(held) == {"meanrev", "momentum"}
    assert alarm.status is CheckStatus.FAIL and "INFY MIS" in alarm.message
    assert momentum_rules == ["position_mismatch"]
    assert "position_mismatch" not in other_rules  # only the strategies trading there stop
    [result] = [e.payload for e in rig.events if isinstance(e.payload, CommandResult)]
    assert result.ok and "meanrev, momentum released" in result.message
    assert dict(rig.risk.holds) == {} and dict(restarted.holds) == {}
    assert again.mismatches == [] and after.status is CheckStatus.OK  # the acknowledged difference
    actions = [(e.actor, e.action, e.subject) for e in audit]
    assert ("console", "mismatch_acknowledged", "all") in actions
    assert ("engine:reconcile", "halted", "momentum") in actions
    assert ("engine:reconcile", "position_mismatch", "INFY") in actions


async def test_a_hold_survives_a_restart(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        order_id = await rig.place_ours("momentum", price=1500.05, quantity=1)
        await rig.book_fill("momentum", order_id, "88888888", 1, 1500.05)
        await rig.reconciler.reconcile("test")
        restarted = await rig.restarted_risk()
    assert set(restarted.holds) == {"momentum"}


async def test_acknowledging_a_strategy_that_is_not_held_says_so(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        ok, message = await rig.reconciler.acknowledge("momentum", actor="cli")
    assert not ok and "'momentum' is not held" in message


async def test_acknowledging_with_nothing_held_says_so_and_records_nothing(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        await rig.reconciler.reconcile("test")
        ok, message = await rig.reconciler.acknowledge("", actor="cli")
        audit = await rig.audit.recent(20)
    assert ok and message == "zerodha: no position mismatch to acknowledge; no strategy is held"
    assert not [e for e in audit if e.action == "mismatch_acknowledged"]


async def test_a_broker_error_is_reported_not_raised(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path, rest_retries=0) as rig:
        rig.sandbox.faults.fail_rest(503, 5)
        report = await rig.reconciler.reconcile("test")
        health = await ReconciliationCheck(rig.reconciler).check()
    assert report.error and "503" in report.error
    assert health.status is CheckStatus.WARN and "failed" in health.message


async def test_a_ticker_reconnect_triggers_a_run(tmp_path: Path) -> None:
    reconnects = [0]
    async with reconcile_rig(tmp_path, reconnects=lambda: reconnects[0]) as rig:
        await rig.reconciler.start()
        await eventually(lambda: rig.reconciler.runs == 1)
        await place(rig.kite, price=1500.05, quantity=1)  # a fill while we were away
        reconnects[0] += 1
        await eventually(lambda: rig.reconciler.runs == 2)
        last = rig.reconciler.last
    assert last is not None and last.reason == "ticker reconnected"
    assert len(last.adopted) == 1 and last.fills_booked == 1


async def test_an_order_on_its_way_is_neither_adopted_nor_booked_until_it_is_stored(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path) as rig:
        order_id = rig.ids.next()
        # the live execution wrote its intent, and Kite filled the order before its OrderPlaced was stored
        async with rig.db.engine.begin() as conn:
            await conn.execute(
                models.live_orders.insert().values(
                    order_id=order_id,
                    strategy_id="momentum",
                    instrument_token=INFY,
                    exchange="NSE",
                    tradingsymbol="INFY",
                    side="BUY",
                    quantity=2,
                    order_type="LIMIT",
                    product="MIS",
                    status="PLACED",
                    created_ts=0.0,
                    updated_ts=0.0,
                )
            )
        await place(rig.kite, price=1500.05, quantity=2, tag=order_id)
        early = await rig.reconciler.reconcile("test")
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id="momentum",
            instrument_token=INFY,
            side=Side.BUY,
            quantity=2,
            order_type=OrderType.LIMIT,
            product=Product.MIS,
            limit_price=1500.05,
        )
        await rig.publish(TOPICS.orders_placed, placed, "momentum")
        late = await rig.reconciler.reconcile("test")
        orders = await rig.orders()
    assert (early.adopted, early.fills_booked, early.mismatches) == ([], 0, [])
    assert (late.adopted, late.fills_booked, late.mismatches) == ([], 1, [])
    assert orders[order_id].status is OrderStatus.FILLED


async def test_with_the_live_execution_it_adopts_and_books_and_reconciliation_books_nothing_twice(
    tmp_path: Path,
) -> None:
    async with reconcile_rig(tmp_path, with_execution=True) as rig:
        assert rig.execution is not None
        by_hand = "K" + await place(rig.kite, price=1500.05, quantity=4)
        first = await rig.reconciler.reconcile("test")
        tracked = rig.execution.order(by_hand)
        second = await rig.reconciler.reconcile("test")
        fills = await rig.fills()
        orders = await rig.orders()
    assert first.adopted == [by_hand] and first.fills_booked == 0  # the execution booked it
    assert tracked is not None and tracked.adopted and tracked.filled_quantity == 4
    assert (second.adopted, second.fills_booked, second.mismatches) == ([], 0, [])
    assert [(f.order_id, f.strategy_id, f.quantity) for f in fills] == [(by_hand, ADOPTED_STRATEGY, 4)]
    assert orders[by_hand].status is OrderStatus.FILLED


async def test_an_order_the_live_execution_works_is_brought_up_to_kites_row_by_it(tmp_path: Path) -> None:
    async with reconcile_rig(tmp_path, with_execution=True) as rig:
        assert rig.execution is not None
        resting = "K" + await place(rig.kite, price=1490.0, quantity=5)
        await rig.reconciler.reconcile("test")  # adopted: the execution works it now
        assert resting in rig.execution.open_orders()
        await rig.kite_call("cancel_order", "regular", resting.removeprefix("K"))
        report = await rig.reconciler.reconcile("test")
        orders = await rig.orders()
    assert report.handed_over == 1 and report.ended == []  # ended by the execution, not twice
    assert resting not in rig.execution.open_orders()
    assert orders[resting].status is OrderStatus.CANCELLED
    assert [type(e.payload) for e in rig.events].count(OrderCancelled) == 1

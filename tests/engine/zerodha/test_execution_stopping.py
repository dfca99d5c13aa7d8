"""A burst of signals queues for the order rate limit instead of meeting a 429; every open live order
is cancelled at once; flatten closes positions with MARKET orders carrying market protection."""

from __future__ import annotations

from pathlib import Path

from kiteconnect import KiteConnect

from engine.events import OrderCancelled, OrderFailed, OrderFilled, OrderPlaced, OrderType, Product, Side
from engine.storage.audit import AuditLog
from engine.zerodha.order_store import LiveState
from tests.engine.zerodha.live_harness import live_desk
from tests.kite_sandbox.matching.helpers import INFY, SBIN, call, pin, place


async def test_a_burst_of_50_signals_is_placed_within_kites_limits_without_a_429(tmp_path: Path) -> None:
    # polled at Kite's pace, not the other tests' (the login's own call shares the second's ten)
    async with live_desk(tmp_path, sandbox={"rate_limits": True}, order_poll_s=0.5) as live:
        pin(live.sandbox, last=1500.0)
        for _ in range(50):
            await live.signal(Side.BUY, 1, limit=1400.0)
        queued_at_once = live.execution.queued
        await live.until(lambda: len(live.of(OrderPlaced)) == 50, timeout=10.0)
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        retries = live.execution.kite.retries
    assert queued_at_once >= 35  # all but the first second's ten wait their turn
    assert len(posts) == 50 and retries == 0  # each sent once: no 429 was met and retried
    assert len({e.form["tag"] for e in posts}) == 50
    times = sorted(e.at for e in posts)
    assert all(sum(1 for t in times if start - 1.0 < t <= start) <= 10 for start in times)
    assert live.execution.queued == 0


async def test_cancel_all_cancels_every_open_live_order_at_once(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        pin(live.sandbox, SBIN, last=850.0)
        await live.signal(Side.BUY, 5, limit=1400.0)
        await live.signal(Side.SELL, 3, token=SBIN, limit=900.0, strategy="other")
        await live.signal(Side.BUY, 2, order_type=OrderType.SL, limit=1600.0, trigger=1599.0)
        await live.until(lambda: len(live.execution.open_orders()) == 3 and live.execution.queued == 0)
        await live.until(
            lambda: all(o.broker_order_id for o in map(live.execution.order, live.execution.open_orders()))
        )
        assert await live.execution.cancel_all("kill switch") == 3
        await live.until(lambda: len(live.of(OrderCancelled)) == 3)
        statuses = {row["status"] for row in live.sandbox.desk.orders()}
    assert {c.reason for c in live.of(OrderCancelled)} == {"kill switch"}
    assert statuses == {"CANCELLED"} and live.execution.open_orders() == {}


async def test_flatten_closes_a_strategys_position_with_a_protected_market_order(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 4, limit=1500.05, strategy="long")
        await live.signal(Side.BUY, 2, limit=1400.0, strategy="long")  # rests: flatten cancels it
        await live.until(lambda: live.of(OrderFilled) and len(live.execution.open_orders()) == 1)
        assert live.execution.positions() == {("long", INFY, Product.MIS): 4}
        live.sandbox.requests.clear()

        assert await live.execution.flatten("flatten long", strategy_id="long") == 1
        await live.until(lambda: not live.execution.positions())
        await live.until(lambda: live.of(OrderCancelled))
        closing_call = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        net = live.sandbox.desk.positions()["net"]
    [cancelled] = live.of(OrderCancelled)
    assert (cancelled.unfilled_quantity, cancelled.reason) == (2, "flatten long")
    [call] = closing_call
    assert (call.form["transaction_type"], call.form["quantity"], call.form["order_type"]) == (
        "SELL",
        "4",
        "MARKET",
    )
    assert call.form["market_protection"] == "-1"
    assert [p["quantity"] for p in net if p["instrument_token"] == INFY] == [0]
    closing = live.of(OrderPlaced)[-1]
    assert closing.order_type is OrderType.MARKET and closing.strategy_id == "long"
    assert live.execution.order(closing.order_id).state is LiveState.COMPLETE


async def test_an_order_placed_by_hand_is_adopted_flagged_and_cancelled_by_cancel_all(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        kite = KiteConnect(
            live.sandbox.config.api_key,
            access_token=live.execution.kite.broker_session.access_token(),  # type: ignore[union-attr]
            root=live.sandbox.root_url,
        )
        kite_id = await place(kite, price=1400.0, quantity=2)  # no tag: not ours
        [row] = await call(kite, "orders")
        adopted = await live.execution.adopt(row)
        assert adopted is not None and await live.execution.adopt(row) is None  # once
        assert live.execution.open_orders() == {f"K{kite_id}": 2}
        assert await live.execution.cancel_all("kill switch") == 1
        [cancelled] = await live.until(lambda: live.of(OrderCancelled))
        stored = await live.stored_when(f"K{kite_id}", LiveState.CANCELLED)
        audit = [(a.action, a.subject) for a in await AuditLog(live.db).recent(5)]
    [placed] = live.of(OrderPlaced)
    assert (placed.order_id, placed.strategy_id, placed.quantity) == (f"K{kite_id}", "adopted", 2)
    assert (cancelled.order_id, cancelled.unfilled_quantity) == (f"K{kite_id}", 2)
    assert stored is not None and stored.adopted and stored.state is LiveState.CANCELLED
    assert ("adopted", f"K{kite_id}") in audit and ("cancel", f"K{kite_id}") in audit


async def test_a_halt_stops_new_orders_even_those_already_queued_for_the_rate_limit(tmp_path: Path) -> None:
    halted: list[str] = []
    async with live_desk(tmp_path, sandbox={"rate_limits": True}, order_poll_s=0.5) as live:
        live.execution.may_open = lambda: halted[0] if halted else None
        pin(live.sandbox, last=1500.0)
        for _ in range(20):
            await live.signal(Side.BUY, 1, limit=1400.0)
        assert live.execution.queued >= 5  # the rest of the second's ten wait their turn
        halted.append("halted: kill switch")
        await live.signal(Side.BUY, 1, limit=1400.0)  # after the halt: refused at once
        await live.until(lambda: live.execution.queued == 0 and len(live.of(OrderFailed)) >= 6, timeout=10.0)
        await live.execution.idle()
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
    failed = live.of(OrderFailed)
    placed_at_kite = {e.form["tag"] for e in posts}
    assert len(posts) <= 15 and len(placed_at_kite) == len(posts)
    assert all("not sent: halted: kill switch" in f.reason for f in failed)
    assert not placed_at_kite & {f.order_id for f in failed}  # a refused order never reached Kite
    assert len(posts) + len(failed) == 21


async def test_a_closing_order_passes_the_kill_switch_but_not_a_shut_gate(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 4, limit=1500.05, strategy="long")
        await live.until(lambda: live.execution.positions() == {("long", INFY, Product.MIS): 4})
        live.execution.may_open = lambda: "halted: kill switch"
        live.execution.may_close = lambda: "no valid Kite session"
        live.sandbox.requests.clear()

        assert await live.execution.flatten("halt", strategy_id="long") == 1
        [refused] = await live.until(lambda: live.of(OrderFailed))
        calls_while_shut = list(live.sandbox.requests.order_calls())
        live.execution.may_close = lambda: None  # the session is back; the kill switch stays on
        assert await live.execution.flatten("halt", strategy_id="long") == 1
        await live.until(lambda: not live.execution.positions())
    assert "not sent: no valid Kite session" in refused.reason
    assert calls_while_shut == []

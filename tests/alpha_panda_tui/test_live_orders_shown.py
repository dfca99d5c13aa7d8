"""What Kite says about a live order reaches the console: its rejection reason in the orders pane
and in the order trace. The order is a real one, rejected by the Kite sandbox through the real
kiteconnect client; its events go to a real console on a real bus."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from alpha_panda_tui.screens.order_trace import OrderTraceScreen
from engine.events import Namespace, OrderFailed, OrderPlaced, Side
from engine.topics import TopicMap
from tests.alpha_panda_tui.harness import console
from tests.engine.zerodha.live_harness import live_desk
from tests.kite_sandbox.matching.helpers import pin
from widgets.order_list import OrderList

ZERODHA = TopicMap(Namespace.ZERODHA)
TOPICS = {OrderPlaced: ZERODHA.orders_placed, OrderFailed: ZERODHA.orders_failed}


async def test_kites_rejection_reason_is_in_the_orders_pane_and_the_trace(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 1, limit=1700.0)  # above the upper circuit: Kite rejects it
        [failed] = await live.until(lambda: live.of(OrderFailed))
    events = [e for e in live.events if type(e.payload) in TOPICS]
    assert "upper circuit limit" in failed.reason
    async with console(session=False, namespaces=(Namespace.PAPER, Namespace.ZERODHA)) as c:
        for event in events:
            await c.bus.publish(TOPICS[type(event.payload)], event)
        await c.settle()
        orders = c.app.screen.query_one(OrderList)
        [row] = orders.rows
        assert row.order_id == failed.order_id and row.detail == failed.reason
        assert (failed.reason, None) in orders.cells(row)  # the pane's last column: the reason, not a price
        orders.focus()
        await c.press("t")
        screen = c.app.screen
        assert isinstance(screen, OrderTraceScreen) and screen.order_id == failed.order_id
        shown = [str(w.render()) for w in screen.query(".stage-kind, .stage-text").results(Static)]
    assert "FAILED" in shown
    assert failed.reason in shown

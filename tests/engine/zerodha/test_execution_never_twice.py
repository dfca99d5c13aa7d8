"""One signal is one order at Kite, whatever happens to the place call: an answer that fails, comes
too late or never comes after Kite accepted the order, and a crash between sending and the answer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kiteconnect import KiteConnect

from engine.events import OrderFailed, OrderPlaced, OrderType, Product, Side
from engine.zerodha.order_ids import LiveOrderIds
from engine.zerodha.order_store import LiveOrder, LiveOrderStore, LiveState
from kite_sandbox.faults import AfterAccept
from tests.engine.zerodha.live_harness import Live, build_execution, live_desk, recording_bus, started
from tests.kite_sandbox.matching.helpers import INFY, call, pin, place


@pytest.mark.parametrize("how", list(AfterAccept))
async def test_a_place_answered_badly_after_kite_accepted_it_is_one_order(
    tmp_path: Path, how: AfterAccept
) -> None:
    async with live_desk(tmp_path, rest_timeout_s=0.3) as live:
        pin(live.sandbox, last=1500.0)
        live.sandbox.faults.fail_after_accept(how=how, status=504, delay_s=1.0)
        await live.signal(Side.BUY, 5, limit=1400.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.OPEN)
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        [kite_order] = live.kite_orders(placed.order_id)
        stored = await live.execution.store.get(placed.order_id)
    assert [e.form["tag"] for e in posts] == [placed.order_id]  # looked up, never sent again
    assert stored is not None and stored.broker_order_id == kite_order["order_id"]
    assert live.of(OrderFailed) == []


async def test_a_place_kite_never_received_is_sent_once_more_with_the_same_tag(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        live.sandbox.faults.fail_rest(503, 1)  # refused before the desk saw it: no order exists
        await live.signal(Side.BUY, 5, limit=1400.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        orders = live.kite_orders(placed.order_id)
    assert [e.form["tag"] for e in posts] == [placed.order_id] * 2
    assert len(orders) == 1


def intent(order_id: str, quantity: int) -> LiveOrder:
    return LiveOrder(
        order_id=order_id,
        strategy_id="sma",
        instrument_token=INFY,
        exchange="NSE",
        tradingsymbol="INFY",
        side=Side.BUY,
        quantity=quantity,
        order_type=OrderType.LIMIT,
        product=Product.MIS,
        limit_price=1400.0,
        correlation_id="corr-" + order_id,
        placed_event_id="evt-" + order_id,
        created_ts=time.time(),
    )


async def test_after_a_crash_an_unanswered_intent_is_found_by_its_tag_never_sent_again(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path) as first:
        pin(first.sandbox, last=1500.0)
        ids = LiveOrderIds()
        sent, unsent = ids.next(), ids.next()
        store = LiveOrderStore(first.db)
        # the crashed run wrote both intents; only the first call reached Kite before the crash
        await store.insert(intent(sent, 5))
        await store.insert(intent(unsent, 3))
        kite = KiteConnect(
            first.sandbox.config.api_key,
            access_token=first.execution.kite.broker_session.access_token(),  # type: ignore[union-attr]
            root=first.sandbox.root_url,
        )
        kite_id = await place(kite, price=1400.0, quantity=5, tag=sent)
        first.sandbox.requests.clear()

        events: list = []
        bus = recording_bus(events)
        restarted = build_execution(first.sandbox, first.settings, first.db, bus)
        async with started(Live(first.sandbox, first.settings, first.db, bus, restarted, events)) as live:
            assert live.execution.open_orders() == {sent: 5}
            await live.execution.cancel(sent, "by hand")
            await live.until(lambda: live.execution.order(sent).state is LiveState.CANCELLED)
            await live.stored_when(sent, LiveState.CANCELLED)
            order_calls = [(e.method, e.route) for e in live.sandbox.requests.order_calls()]
            kite_orders = await call(kite, "orders")
        resolved = {o.order_id: o for o in await store.unresolved()}
    [placed] = live.of(OrderPlaced)
    assert (placed.order_id, placed.quantity) == (sent, 5)
    assert [e.correlation_id for e in live.events if e.payload == placed] == ["corr-" + sent]
    [failed] = live.of(OrderFailed)
    assert failed.order_id == unsent and "no order tagged" in failed.reason
    assert order_calls == [("DELETE", "DELETE /orders/{variety}/{order_id}")]  # nothing placed again
    assert [o["tag"] for o in kite_orders] == [sent]
    assert kite_orders[0]["order_id"] == kite_id
    assert resolved == {}

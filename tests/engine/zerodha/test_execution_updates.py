"""Order updates from the ticker socket, checked by their checksum, and the order book read instead
while the socket is down: a fill made during a disconnect is booked once."""

from __future__ import annotations

from pathlib import Path

from engine.events import Charges, Namespace, OrderFilled, OrderPlaced, Product, Side, make_event
from engine.zerodha.order_store import LiveState
from tests.engine.zerodha.live_harness import ZERODHA, OrderSocket, live_desk
from tests.kite_sandbox.matching.helpers import INFY, pin


async def test_updates_on_the_socket_drive_the_order_without_reading_the_order_book(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        token = live.execution.kite.broker_session.access_token()  # type: ignore[union-attr]
        assert token is not None
        async with OrderSocket(live, token) as socket:
            live.execution.socket_up = lambda: socket.up
            pin(live.sandbox, last=1500.0, asks=[(1500.05, 2)])
            await live.signal(Side.BUY, 5, limit=1501.0)
            [placed] = await live.until(lambda: live.of(OrderPlaced))
            pin(live.sandbox, last=1500.0, asks=[(1500.10, 10)])
            await live.sandbox.push_tick(INFY)
            await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.COMPLETE)
            applied, polls = live.execution.updates_applied, live.execution.polls
    assert [f.quantity for f in live.of(OrderFilled)] == [2, 3]
    assert applied >= 3 and polls == 0
    assert live.execution.bad_checksums == 0


async def test_an_update_with_a_wrong_checksum_is_not_believed_and_kite_is_read_instead(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path) as live:
        live.execution.socket_up = lambda: True
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 5, limit=1400.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.execution.order(placed.order_id).state is not LiveState.SENDING)
        [row] = live.kite_orders(placed.order_id)
        forged = {**row, "status": "CANCELLED", "checksum": "0" * 64}
        live.execution.on_order_update(forged)
        await live.until(lambda: live.execution.polls >= 1)
        await live.execution.idle()
    assert live.execution.bad_checksums == 1
    assert live.execution.order(placed.order_id).state is LiveState.OPEN  # Kite's book says it is open


async def test_a_fill_during_a_disconnect_is_read_from_kite_and_booked_once(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        token = live.execution.kite.broker_session.access_token()  # type: ignore[union-attr]
        assert token is not None
        socket = OrderSocket(live, token)
        await socket.connect()
        live.execution.socket_up = lambda: socket.up
        pin(live.sandbox, last=1500.0)
        await live.signal(Side.BUY, 5, limit=1490.0)
        [placed] = await live.until(lambda: live.of(OrderPlaced))
        await live.until(lambda: live.execution.order(placed.order_id).state is LiveState.OPEN)
        polls_before = live.execution.polls

        assert live.sandbox.faults.drop_connections() == 1
        await live.until(lambda: not socket.up)
        pin(live.sandbox, last=1490.0, asks=[(1489.95, 10)])
        await live.sandbox.push_tick(INFY)  # filled while nobody listens
        await live.until(lambda: live.of(OrderFilled))

        await socket.connect()  # back: one more read catches what the socket missed meanwhile
        await live.sandbox.push_tick(INFY)
        await live.execution.poll()
        await live.execution.idle()
        await socket.close()
    [fill] = live.of(OrderFilled)
    assert (fill.quantity, fill.price, fill.remaining_quantity) == (5, 1489.95, 0)
    assert live.execution.polls > polls_before
    assert live.execution.order(placed.order_id).state is LiveState.COMPLETE


async def test_a_trade_reconciliation_booked_is_never_booked_again_here(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        fill = OrderFilled(
            order_id="K240101000001",
            trade_id="T-rec-1",
            strategy_id="adopted",
            instrument_token=INFY,
            side=Side.BUY,
            quantity=3,
            price=1500.0,
            product=Product.MIS,
            charges=Charges(),
        )
        booked = make_event(fill, namespace=Namespace.ZERODHA, source="reconcile.zerodha", key="adopted")
        await live.bus.publish(ZERODHA.orders_filled, booked)
        await live.bus.publish(ZERODHA.orders_filled, booked)  # redelivered: still once
        assert live.execution.booked("T-rec-1")
        assert live.execution.positions() == {("adopted", INFY, Product.MIS): 3}

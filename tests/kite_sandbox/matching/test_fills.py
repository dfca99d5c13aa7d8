"""Orders through the official kiteconnect client fill against the sandbox's book: MARKET at once
across levels and then tick by tick, LIMIT when the book crosses it, SL and SL-M on their trigger,
IOC never resting."""

from __future__ import annotations

from typing import Any

from kiteconnect import KiteConnect

from kite_sandbox.server import KiteSandbox
from tests.kite_sandbox.matching.helpers import (
    INFY,
    STILL,
    call,
    eventually,
    next_tick,
    order_row,
    pin,
    place,
    statuses,
)
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox

INTERIM = ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING"]


async def _complete(sandbox: KiteSandbox, order_id: str) -> dict[str, Any]:
    await eventually(lambda: order_row(sandbox, order_id)["status"] == "COMPLETE")
    return order_row(sandbox, order_id)


async def test_a_market_order_too_big_for_one_tick_fills_partially_then_completes() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 300)])  # 300 offered on each tick
        order_id = await place(kite, order_type="MARKET", quantity=1000, market_protection=2, tag="sig1")
        row = await _complete(sandbox, order_id)
        trades = await call(kite, "order_trades", order_id)
    history = statuses(sandbox, order_id)
    assert history == [*INTERIM, "OPEN", "OPEN", "OPEN", "OPEN", "COMPLETE"]  # placed, 3 partials, complete
    filled = [r["filled_quantity"] for r in sandbox.desk.order_history(order_id)]
    assert filled[3:] == [0, 300, 600, 900, 1000]
    assert [t["quantity"] for t in trades] == [300, 300, 300, 100]
    assert {t["average_price"] for t in trades} == {1500.05}
    assert len({t["trade_id"] for t in trades}) == 4
    assert row["average_price"] == 1500.05
    assert row["pending_quantity"] == 0


async def test_a_market_order_takes_several_levels_of_one_tick_within_its_protection() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 100), (1500.10, 100), (1540.0, 100)])
        order_id = await place(kite, order_type="MARKET", quantity=200, market_protection=1, tag="lvl")
        row = await _complete(sandbox, order_id)
        trades = await call(kite, "order_trades", order_id)
        orders = await call(kite, "orders")
    assert [(t["average_price"], t["quantity"]) for t in trades] == [(1500.05, 100), (1500.10, 100)]
    assert row["average_price"] == 1500.075
    # Kite shows a protected market order as a LIMIT at its protection price, tagged mktp
    assert orders[0]["order_type"] == "LIMIT"
    assert orders[0]["price"] == 1515.0
    assert orders[0]["tags"] == ["lvl", "mktp", "mktp:1.00"]
    assert orders[0]["tag"] == "lvl"


async def test_a_market_order_never_fills_beyond_its_protection() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 100), (1520.0, 500)])
        order_id = await place(kite, order_type="MARKET", quantity=300, market_protection=1)
        assert order_row(sandbox, order_id)["filled_quantity"] == 100
        await sandbox.push_tick(INFY)
        row = order_row(sandbox, order_id)
        # 1520 is beyond 1% (1515): the rest waits for the book to come back
        assert (row["status"], row["filled_quantity"]) == ("OPEN", 200)
        pin(sandbox, last=1500.0, asks=[(1510.0, 500)])
        await sandbox.push_tick(INFY)
        assert order_row(sandbox, order_id)["status"] == "COMPLETE"
    prices = [(t["average_price"], t["quantity"]) for t in sandbox.desk.order_trades(order_id)]
    assert prices == [(1500.05, 100), (1500.05, 100), (1510.0, 100)]


async def test_a_limit_order_rests_until_the_book_crosses_it() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 500)], asks=[(1500.05, 500)])
        order_id = await place(kite, price=1499.0, quantity=50)
        first = dict(order_row(sandbox, order_id))
        await next_tick(sandbox)
        await next_tick(sandbox)
        resting = await call(kite, "order_history", order_id)
        pin(sandbox, last=1498.5, bids=[(1498.45, 500)], asks=[(1498.50, 20), (1498.95, 500)])
        row = await _complete(sandbox, order_id)
        trades = await call(kite, "order_trades", order_id)
    assert first["status"] == "OPEN"
    assert first["exchange_order_id"]
    assert [r["status"] for r in resting] == [*INTERIM, "OPEN"]
    # filled at the book's prices, which are better than the limit
    assert [(t["average_price"], t["quantity"]) for t in trades] == [(1498.50, 20), (1498.95, 30)]
    assert row["average_price"] == round((1498.50 * 20 + 1498.95 * 30) / 50, 4)


async def test_a_marketable_limit_order_fills_at_once_at_the_best_prices() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 80), (1499.90, 500)])
        order_id = await place(kite, transaction_type="SELL", price=1499.90, quantity=100)
        trades = sandbox.desk.order_trades(order_id)
        assert [(t["average_price"], t["quantity"]) for t in trades] == [(1499.95, 80), (1499.90, 20)]
        assert order_row(sandbox, order_id)["status"] == "COMPLETE"
        assert (await call(kite, "order_history", order_id))[-1]["status"] == "COMPLETE"


async def test_a_stoploss_limit_order_waits_for_its_trigger_then_fills_within_its_price() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, order_type="SL", trigger_price=1510.0, price=1512.0, quantity=10)
        assert order_row(sandbox, order_id)["status"] == "TRIGGER PENDING"
        pin(sandbox, last=1509.0, asks=[(1509.05, 1000)])
        await sandbox.push_tick(INFY)
        assert order_row(sandbox, order_id)["status"] == "TRIGGER PENDING"  # not yet
        pin(sandbox, last=1511.0, asks=[(1511.50, 4), (1512.50, 1000)])  # 1512.50 is above its price
        await sandbox.push_tick(INFY)
        waiting = dict(order_row(sandbox, order_id))
        pin(sandbox, last=1511.0, asks=[(1511.95, 1000)])
        await sandbox.push_tick(INFY)
    assert statuses(sandbox, order_id) == [*INTERIM, "TRIGGER PENDING", "OPEN", "OPEN", "COMPLETE"]
    assert (waiting["status"], waiting["filled_quantity"]) == ("OPEN", 4)
    prices = [(t["average_price"], t["quantity"]) for t in sandbox.desk.order_trades(order_id)]
    assert prices == [(1511.50, 4), (1511.95, 6)]


async def test_a_stoploss_market_sell_triggers_on_the_last_price_and_fills_at_the_bid() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(
            kite,
            transaction_type="SELL",
            order_type="SL-M",
            trigger_price=1490.0,
            quantity=25,
            market_protection=5,
        )
        assert order_row(sandbox, order_id)["status"] == "TRIGGER PENDING"
        pin(sandbox, last=1489.0, bids=[(1488.95, 1000)])
        row = await _complete(sandbox, order_id)
    assert row["order_type"] == "SL-M"
    assert row["trigger_price"] == 1490.0
    assert [(t["average_price"], t["quantity"]) for t in sandbox.desk.order_trades(order_id)] == [
        (1488.95, 25)
    ]


async def test_an_ioc_order_fills_what_the_book_offers_and_cancels_the_rest() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 30)])
        order_id = await place(kite, price=1500.05, quantity=50, validity="IOC")
        row = order_row(sandbox, order_id)
        assert row["status"] == "CANCELLED"
        assert (row["filled_quantity"], row["cancelled_quantity"], row["pending_quantity"]) == (30, 20, 0)
        await next_tick(sandbox)
        assert len(await call(kite, "order_trades", order_id)) == 1
        assert order_row(sandbox, order_id)["filled_quantity"] == 30


async def test_orders_on_the_same_tick_share_its_depth_in_time_priority() -> None:
    async with running_sandbox(**STILL) as sandbox:  # no new tick between the two
        kite: KiteConnect = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 100)])
        first = await place(kite, price=1500.05, quantity=80, validity="IOC")
        second = await place(kite, price=1500.05, quantity=80, validity="IOC")
        assert order_row(sandbox, first)["filled_quantity"] == 80
        assert order_row(sandbox, second)["filled_quantity"] == 20  # what the first left of the tick
        assert order_row(sandbox, second)["status"] == "CANCELLED"

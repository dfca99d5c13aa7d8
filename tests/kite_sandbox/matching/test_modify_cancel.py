"""Modifying and cancelling open orders through the kiteconnect client, with Kite's statuses."""

from __future__ import annotations

import pytest
from kiteconnect import exceptions as kite_errors

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

OPENED = ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN"]
MODIFIED = ["MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED", "OPEN"]


async def test_cancelling_an_open_order_cancels_its_pending_quantity() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 30)])
        order_id = await place(kite, price=1500.05, quantity=50, tag="c1")
        assert order_row(sandbox, order_id)["filled_quantity"] == 30
        assert await call(kite, "cancel_order", "regular", order_id) == order_id
        history = await call(kite, "order_history", order_id)
        await sandbox.push_tick(INFY)  # more on offer at its price: it is cancelled, so none of it
        with pytest.raises(kite_errors.OrderException, match="Order cannot be cancelled: it is CANCELLED"):
            await call(kite, "cancel_order", "regular", order_id)
    assert [row["status"] for row in history][-2:] == ["CANCEL PENDING", "CANCELLED"]
    last = history[-1]
    assert (last["filled_quantity"], last["cancelled_quantity"], last["pending_quantity"]) == (30, 20, 0)
    assert len(sandbox.desk.order_trades(order_id)) == 1


async def test_modifying_price_makes_a_resting_order_fill() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 500)])
        order_id = await place(kite, price=1490.0, quantity=40)
        await next_tick(sandbox)
        assert order_row(sandbox, order_id)["status"] == "OPEN"
        await call(kite, "modify_order", "regular", order_id, price=1500.05)
        row = await eventually(
            lambda: order_row(sandbox, order_id)["status"] == "COMPLETE" and order_row(sandbox, order_id)
        )
    assert statuses(sandbox, order_id) == [*OPENED, *MODIFIED, "COMPLETE"]
    assert row["price"] == 1500.05
    assert row["modified"] is True
    assert row["average_price"] == 1500.05


async def test_modifying_quantity_keeps_what_was_filled() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 10)])
        order_id = await place(kite, price=1500.05, quantity=100)
        await sandbox.push_tick(INFY)
        with pytest.raises(kite_errors.InputException, match="more than the 20 already filled"):
            await call(kite, "modify_order", "regular", order_id, quantity=20)
        await call(kite, "modify_order", "regular", order_id, quantity=25)
        row = dict(order_row(sandbox, order_id))
        await sandbox.push_tick(INFY)
    assert (row["quantity"], row["filled_quantity"], row["pending_quantity"]) == (25, 20, 5)
    assert order_row(sandbox, order_id)["status"] == "COMPLETE"
    assert sum(t["quantity"] for t in sandbox.desk.order_trades(order_id)) == 25


async def test_a_modify_that_breaks_a_rule_leaves_the_order_as_it_was() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, price=1450.0, quantity=10)
        with pytest.raises(kite_errors.InputException, match="tick size"):
            await call(kite, "modify_order", "regular", order_id, price=1450.01)
        with pytest.raises(kite_errors.OrderException, match="upper circuit limit"):
            await call(kite, "modify_order", "regular", order_id, price=1700.0)
        with pytest.raises(kite_errors.OrderException, match="Insufficient funds"):
            await call(kite, "modify_order", "regular", order_id, quantity=5000)
        with pytest.raises(kite_errors.InputException, match="Couldn't find that `order_id`"):
            await call(kite, "modify_order", "regular", "999", price=1450.0)
    assert statuses(sandbox, order_id) == OPENED
    assert order_row(sandbox, order_id)["price"] == 1450.0


async def test_a_stoploss_order_can_be_modified_while_it_waits_for_its_trigger() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, order_type="SL", trigger_price=1520.0, price=1521.0, quantity=5)
        await call(kite, "modify_order", "regular", order_id, trigger_price=1510.0, price=1511.0)
        row = order_row(sandbox, order_id)
        assert row["status"] == "TRIGGER PENDING"
        assert (row["trigger_price"], row["price"]) == (1510.0, 1511.0)
        pin(sandbox, last=1510.0, asks=[(1510.05, 100)])
        await eventually(lambda: order_row(sandbox, order_id)["status"] == "COMPLETE")
    assert statuses(sandbox, order_id)[-4:] == ["MODIFIED", "TRIGGER PENDING", "OPEN", "COMPLETE"]


async def test_a_complete_order_cannot_be_modified() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, price=1500.05, quantity=1)
        with pytest.raises(kite_errors.OrderException, match="Order cannot be modified: it is COMPLETE"):
            await call(kite, "modify_order", "regular", order_id, price=1500.0)


async def test_a_triggered_stoploss_order_stays_triggered_when_its_price_is_modified() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, order_type="SL", trigger_price=1505.0, price=1506.0, quantity=5)
        pin(sandbox, last=1506.0, asks=[(1507.0, 100)])  # triggered, but the book is above the price
        await eventually(lambda: order_row(sandbox, order_id)["status"] == "OPEN")
        await call(kite, "modify_order", "regular", order_id, price=1507.0)
        await eventually(lambda: order_row(sandbox, order_id)["status"] == "COMPLETE")
    assert statuses(sandbox, order_id)[-5:] == [
        "MODIFY VALIDATION PENDING",
        "MODIFY PENDING",
        "MODIFIED",
        "OPEN",
        "COMPLETE",
    ]
    assert [t["average_price"] for t in sandbox.desk.order_trades(order_id)] == [1507.0]


async def test_a_resting_market_order_is_modified_as_the_limit_order_it_shows() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 10), (1520.0, 1000)])
        order_id = await place(kite, order_type="MARKET", market_protection=1, quantity=50)
        shown = dict(order_row(sandbox, order_id))
        await call(kite, "modify_order", "regular", order_id, price=1520.0)
        row = order_row(sandbox, order_id)
    assert (shown["order_type"], shown["price"], shown["filled_quantity"]) == ("LIMIT", 1515.0, 10)
    assert (row["order_type"], row["price"], row["status"]) == ("LIMIT", 1520.0, "COMPLETE")
    assert row["tags"] == []
    assert row["market_protection"] == 0

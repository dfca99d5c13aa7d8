"""What the sandbox refuses, and how: a bad field answers an InputException and places nothing; a
risk check (price band, trigger, holdings, margin) rejects the placed order with Kite's message."""

from __future__ import annotations

from typing import Any

import pytest
from kiteconnect import exceptions as kite_errors

from engine.instruments import InstrumentRegistry
from tests.kite_sandbox.matching.helpers import NIFTY_FUT, call, order_row, pin, place
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price": 1500.03}, "Price 1500.03 is not a multiple of the tick size (0.05) of NSE:INFY"),
        (
            {
                "exchange": "NFO",
                "tradingsymbol": "NIFTY26DECFUT",
                "product": "NRML",
                "price": 26000.0,
                "quantity": 100,
            },
            "Quantity 100 is not a multiple of the lot size (75) of NFO:NIFTY26DECFUT",
        ),
        ({"tradingsymbol": "NOSUCH", "price": 100.0}, "Invalid `tradingsymbol`: no instrument NSE:NOSUCH"),
        ({"tradingsymbol": "NIFTY 50", "price": 100.0}, "NSE:NIFTY 50 is an index"),
        ({"order_type": "MARKET"}, "Market orders without market protection are not allowed via API"),
        ({"order_type": "MARKET", "market_protection": 0}, "Market orders without market protection"),
        ({"order_type": "SL-M", "trigger_price": 1510.0}, "Market orders without market protection"),
        ({"order_type": "MARKET", "market_protection": 150}, "Invalid `market_protection` (150)"),
        ({"price": 1500.0, "tag": "x" * 21}, "Invalid `tag`"),
        ({"price": 1500.0, "tag": "sig-1"}, "alphanumeric, at most 20 characters"),
        ({"price": 1500.0, "product": "NRML"}, "Product NRML is for futures and options"),
        (
            {
                "exchange": "NFO",
                "tradingsymbol": "NIFTY26DECFUT",
                "product": "CNC",
                "price": 26000.0,
                "quantity": 75,
            },
            "Product CNC is for equity delivery; NFO:NIFTY26DECFUT is a derivative",
        ),
        ({"price": 1500.0, "quantity": 0}, "Invalid `quantity` (0)"),
        ({"price": 1500.0, "transaction_type": "HOLD"}, "Invalid `transaction_type` (HOLD)"),
        ({"price": 1500.0, "validity": "TTL"}, "Invalid `validity` (TTL)"),
        (
            {"order_type": "SL", "price": 1505.0, "trigger_price": 1510.0},
            "stoploss buy order must not be above",
        ),
        ({"price": 1500.0, "variety": "amo"}, "AMO orders are not accepted"),
        ({"price": 1500.0, "variety": "co"}, "Variety `co` is not emulated"),
    ],
)
async def test_a_bad_field_is_an_input_error_and_places_nothing(fields: dict[str, Any], message: str) -> None:
    registry = InstrumentRegistry([*InstrumentRegistry.sample(), NIFTY_FUT])
    async with running_sandbox(instruments=registry) as sandbox:
        kite = await logged_in(sandbox)
        with pytest.raises(kite_errors.InputException) as caught:
            await place(kite, **fields)
        orders = await call(kite, "orders")
    assert message in str(caught.value)
    assert caught.value.code == 400
    assert orders == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"price": 1700.0},
            "Your order price 1700 is higher than the current upper circuit limit of 1650.00. "
            "Place an order within the daily range.",
        ),
        (
            {"transaction_type": "SELL", "price": 1300.0},
            "Your order price 1300 is lower than the current lower circuit limit of 1350.00. "
            "Place an order within the daily range.",
        ),
        (
            {"order_type": "SL", "trigger_price": 1660.0, "price": 1660.0},
            "Your order price 1660 is higher than the current upper circuit limit of 1650.00.",
        ),
        (
            {"order_type": "SL", "trigger_price": 1495.0, "price": 1496.0},
            "Trigger price for stoploss buy orders should be higher than the last traded price (1500)",
        ),
        (
            {
                "transaction_type": "SELL",
                "order_type": "SL-M",
                "trigger_price": 1505.0,
                "market_protection": 2,
            },
            "Trigger price for stoploss sell orders should be lower than the last traded price (1500)",
        ),
        (
            {"product": "CNC", "price": 1500.0, "quantity": 700},
            "Insufficient funds. Required margin is 1050000.00 but available margin is 1000000.00. "
            "Check the orderbook for open orders.",
        ),
        (
            {"product": "MIS", "price": 1500.0, "quantity": 3400},
            "Insufficient funds. Required margin is 1020000.00 but available margin is 1000000.00.",
        ),
        (
            {"product": "CNC", "transaction_type": "SELL", "price": 1500.0, "quantity": 11},
            "Insufficient holdings: 10 INFY can be sold (CNC), the order sells 11.",
        ),
    ],
)
async def test_a_risk_check_rejects_the_placed_order_with_its_reason(
    fields: dict[str, Any], message: str
) -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, **fields)
        history = await call(kite, "order_history", order_id)
        trades = await call(kite, "trades")
        margins = await call(kite, "margins", "equity")
    assert [row["status"] for row in history] == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "REJECTED"]
    assert message in history[-1]["status_message"]
    assert history[-1]["exchange_order_id"] is None
    assert trades == []
    assert margins["net"] == 1_000_000.0


async def test_margin_is_checked_against_what_open_orders_and_positions_already_use() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 100_000)], asks=[(1500.05, 100_000)])
        resting = await place(kite, product="CNC", price=1400.0, quantity=400)  # blocks 560,000
        bought = await place(kite, product="CNC", price=1500.05, quantity=200)  # 300,010 in a position
        assert order_row(sandbox, bought)["status"] == "COMPLETE"
        too_much = await place(kite, product="CNC", price=1400.0, quantity=100)  # 140,000 > what is left
        assert order_row(sandbox, resting)["status"] == "OPEN"
        assert order_row(sandbox, too_much)["status"] == "REJECTED"
        margins = await call(kite, "margins", "equity")
        available = margins["net"]
        assert f"available margin is {available:.2f}" in order_row(sandbox, too_much)["status_message"]
        # selling what was bought needs no margin, whatever is left
        closing = await place(kite, product="CNC", transaction_type="SELL", price=1499.95, quantity=200)
        assert order_row(sandbox, closing)["status"] == "COMPLETE"


async def test_an_order_that_closes_a_position_needs_no_margin() -> None:
    async with running_sandbox(funds=100_000.0) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 10_000)], asks=[(1500.05, 10_000)])
        opened = await place(kite, product="MIS", transaction_type="SELL", price=1499.95, quantity=300)
        assert order_row(sandbox, opened)["status"] == "COMPLETE"  # 20% of 449,985 = 89,997
        more = await place(kite, product="MIS", transaction_type="SELL", price=1499.95, quantity=100)
        closed = await place(kite, product="MIS", transaction_type="BUY", price=1500.05, quantity=300)
    assert order_row(sandbox, more)["status"] == "REJECTED"
    assert order_row(sandbox, closed)["status"] == "COMPLETE"


async def test_an_order_cannot_be_modified_more_than_25_times() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, price=1400.0, quantity=10)
        for n in range(25):
            await call(kite, "modify_order", "regular", order_id, price=1400.0 + (n + 1) * 0.05)
        with pytest.raises(kite_errors.OrderException, match="Maximum allowed order modifications exceeded"):
            await call(kite, "modify_order", "regular", order_id, price=1300.0)
        row = order_row(sandbox, order_id)
    assert row["status"] == "OPEN"
    assert row["price"] == 1401.25

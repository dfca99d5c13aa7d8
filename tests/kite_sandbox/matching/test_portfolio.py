"""Trades, positions and margins agree with the fills: every trade once, positions from the trades,
margins that move with positions and open orders, in the shapes of Zerodha's own mocks."""

from __future__ import annotations

from typing import Any

import pytest

from engine.instruments import InstrumentRegistry
from tests.kite_sandbox.matching.helpers import INFY, NIFTY_FUT, SBIN, call, eventually, order_row, pin, place
from tests.kite_sandbox.test_rest import mock_data, shape
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox


def keys(value: Any) -> set[str]:
    return set(shape(value))


async def test_rows_carry_every_field_of_zerodhas_mocks() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0)
        order_id = await place(kite, price=1500.05, quantity=2, tag="shape1")
        orders = await call(kite, "orders")
        history = await call(kite, "order_history", order_id)
        trades = await call(kite, "trades")
        order_trades = await call(kite, "order_trades", order_id)
        positions = await call(kite, "positions")
        margins = await call(kite, "margins")
    assert keys(mock_data("orders.json")[0]) <= keys(orders[0])
    assert keys(mock_data("order_info.json")[0]) <= keys(history[0])
    assert keys(mock_data("trades.json")[0]) <= keys(trades[0])
    assert keys(mock_data("order_trades.json")[0]) <= keys(order_trades[0])
    assert keys(mock_data("positions.json")["net"][0]) <= keys(positions["net"][0])
    assert keys(mock_data("positions.json")["day"][0]) <= keys(positions["day"][0])
    assert shape(mock_data("margins.json")) == shape(margins)
    assert orders[0]["tag"] == trades[0]["tag"] == "shape1"
    assert orders[0]["tags"] == ["shape1"]


async def test_positions_and_margins_follow_the_fills() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 100)], asks=[(1500.05, 100)])
        pin(sandbox, SBIN, last=850.0, bids=[(849.95, 1000)], asks=[(850.05, 1000)])
        await place(kite, price=1500.05, quantity=100)  # MIS buy 100 @ 1500.05
        await place(kite, transaction_type="SELL", price=1499.95, quantity=40)  # sell 40 @ 1499.95
        await place(kite, tradingsymbol="SBIN", product="CNC", price=850.05, quantity=10)  # CNC buy
        resting = await place(kite, tradingsymbol="SBIN", product="CNC", price=800.0, quantity=50)
        pin(sandbox, last=1510.0, bids=[(1509.95, 100)], asks=[(1510.05, 100)])
        trades = await call(kite, "trades")
        positions = await call(kite, "positions")
        margins = await call(kite, "margins", "equity")
    assert order_row(sandbox, resting)["status"] == "OPEN"
    assert len({t["trade_id"] for t in trades}) == len(trades) == 3
    by_key = {(p["tradingsymbol"], p["product"]): p for p in positions["net"]}
    infy = by_key[("INFY", "MIS")]
    assert infy["quantity"] == 60
    assert (infy["buy_quantity"], infy["buy_value"]) == (100, 150005.0)
    assert (infy["sell_quantity"], infy["sell_value"]) == (40, 59998.0)
    assert infy["average_price"] == 1500.05
    assert infy["last_price"] == 1510.0
    assert infy["pnl"] == pytest.approx(59998.0 - 150005.0 + 60 * 1510.0)
    assert infy["realised"] == pytest.approx(40 * (1499.95 - 1500.05))
    assert infy["unrealised"] == pytest.approx(infy["pnl"] - infy["realised"])
    assert infy["m2m"] == infy["pnl"]
    sbin = by_key[("SBIN", "CNC")]
    assert (sbin["quantity"], sbin["average_price"]) == (10, 850.05)
    assert positions["day"] == positions["net"]
    used = margins["utilised"]
    assert used["exposure"] == pytest.approx(0.20 * 60 * 1510.0)  # MIS: 5x
    assert used["delivery"] == pytest.approx(10 * 850.0 + 50 * 800.0)  # CNC: full value, open order too
    assert used["m2m_realised"] == pytest.approx(4.0)  # the realised loss
    assert used["m2m_unrealised"] == 0  # an unrealised profit is not credited
    assert margins["net"] == pytest.approx(1_000_000 - used["debits"])
    assert used["debits"] == pytest.approx(used["exposure"] + used["delivery"] + used["m2m_realised"])


async def test_cancelling_an_order_releases_its_margin_and_closing_releases_the_positions() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, bids=[(1499.95, 1000)], asks=[(1500.05, 1000)])
        before = await call(kite, "margins", "equity")
        order_id = await place(kite, price=1400.0, quantity=100)
        blocked = await call(kite, "margins", "equity")
        await call(kite, "cancel_order", "regular", order_id)
        released = await call(kite, "margins", "equity")
        await place(kite, price=1500.05, quantity=100)
        await place(kite, transaction_type="SELL", price=1499.95, quantity=100)
        flat = await call(kite, "margins", "equity")
        positions = await call(kite, "positions")
    assert before["net"] == released["net"] == 1_000_000
    assert blocked["utilised"]["exposure"] == pytest.approx(0.2 * 100 * 1400.0)
    assert positions["net"][0]["quantity"] == 0
    assert positions["net"][0]["realised"] == pytest.approx(-10.0)
    assert flat["utilised"]["exposure"] == 0
    assert flat["net"] == pytest.approx(1_000_000 - 10.0)


async def test_every_fill_is_one_trade_even_across_many_ticks() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, last=1500.0, asks=[(1500.05, 7)])
        order_id = await place(kite, price=1500.05, quantity=70)
        await eventually(lambda: order_row(sandbox, order_id)["status"] == "COMPLETE")
        trades = await call(kite, "trades")
        positions = await call(kite, "positions")
    assert sum(t["quantity"] for t in trades) == 70
    assert len(trades) == 10
    assert len({t["trade_id"] for t in trades}) == 10
    assert positions["net"][0]["quantity"] == 70
    assert positions["net"][0]["instrument_token"] == INFY


async def test_futures_block_the_same_margin_as_nrml_or_mis() -> None:
    registry = InstrumentRegistry([*InstrumentRegistry.sample(), NIFTY_FUT])
    future = {"exchange": "NFO", "tradingsymbol": NIFTY_FUT.tradingsymbol}
    async with running_sandbox(instruments=registry) as sandbox:
        kite = await logged_in(sandbox)
        pin(sandbox, NIFTY_FUT.instrument_token, last=26000.0, bids=[(25999.9, 1000)], asks=[(26000.1, 1000)])
        await place(kite, **future, product="NRML", price=26000.1, quantity=75)
        await place(kite, **future, product="MIS", transaction_type="SELL", price=25999.9, quantity=150)
        margins = await call(kite, "margins", "equity")
        positions = await call(kite, "positions")
    used = margins["utilised"]
    assert used["span"] == pytest.approx(0.15 * 225 * 26000.0)
    assert used["exposure"] == used["delivery"] == 0
    assert used["m2m_unrealised"] == pytest.approx(75 * 0.1 + 150 * 0.1)
    assert margins["net"] == pytest.approx(1_000_000 - used["span"] - used["m2m_unrealised"])
    quantities = {p["product"]: p["quantity"] for p in positions["net"]}
    assert quantities == {"NRML": 75, "MIS": -150}

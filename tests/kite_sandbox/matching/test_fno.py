"""F&O orders at the sandbox, through the official client: whole lots, NRML or MIS, and at most the
freeze quantity per order."""

from __future__ import annotations

from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from kite_sandbox.derivatives import nfo_contracts
from kite_sandbox.server import KiteSandbox
from tests.kite_sandbox.matching.helpers import STILL, call, eventually, place
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox

RICH = {**STILL, "funds": 100_000_000.0}


def nifty_future(sandbox: KiteSandbox) -> tuple[str, int, float]:
    """(symbol, token, a price on its grid) of the month's NIFTY future, its book pinned there."""
    symbol = nfo_contracts()[0].tradingsymbol
    future = sandbox.market.registry.by_symbol(f"NFO:{symbol}")
    price = round(round(sandbox.market.latest[future.instrument_token].last_price / 0.1) * 0.1, 1)
    sandbox.market.set_book(future.instrument_token, price, [(price - 0.1, 3000)], [(price, 3000)])
    return symbol, future.instrument_token, price


async def buy_future(kite: KiteConnect, symbol: str, quantity: int, price: float, **fields: Any) -> str:
    order = {
        "exchange": "NFO",
        "tradingsymbol": symbol,
        "product": "NRML",
        "quantity": quantity,
        "price": price,
    }
    return await place(kite, **{**order, **fields})


async def test_an_order_of_the_freeze_quantity_fills_one_above_is_refused_at_the_call() -> None:
    async with running_sandbox(**RICH) as sandbox:
        kite = await logged_in(sandbox)
        symbol, _, price = nifty_future(sandbox)
        with pytest.raises(kite_errors.InputException) as caught:
            await buy_future(kite, symbol, 1875, price)
        refused_orders = await call(kite, "orders")
        order_id = await buy_future(kite, symbol, 1800, price)
        [row] = await eventually(lambda: [r for r in sandbox.desk.orders() if r["status"] == "COMPLETE"])
    assert str(caught.value) == (
        f"Quantity exceeds the freeze limit of 1800 for NFO:{symbol}. Place orders of at most 1800 or use "
        "autoslice."
    )
    assert caught.value.code == 400 and refused_orders == []
    assert (row["order_id"], row["filled_quantity"], row["product"]) == (order_id, 1800, "NRML")


async def test_the_freeze_quantity_is_a_sandbox_setting_and_autoslice_is_not_emulated() -> None:
    async with running_sandbox(**RICH, freeze_quantities={"NIFTY": 150}) as sandbox:
        kite = await logged_in(sandbox)
        symbol, _, price = nifty_future(sandbox)
        with pytest.raises(kite_errors.InputException, match="freeze limit of 150 "):
            await buy_future(kite, symbol, 225, price)
        with pytest.raises(kite_errors.InputException, match="Autoslice is not emulated"):
            await call(
                kite,
                "place_autoslice_order",
                variety="regular",
                exchange="NFO",
                tradingsymbol=symbol,
                transaction_type="BUY",
                quantity=225,
                product="NRML",
                order_type="LIMIT",
                price=price,
            )
        order_id = await buy_future(kite, symbol, 150, price - 100)  # rests below the market
        with pytest.raises(kite_errors.InputException, match="freeze limit of 150 "):
            await call(kite, "modify_order", "regular", order_id, quantity=225)
        [row] = await call(kite, "orders")
    assert (row["status"], row["quantity"]) == ("OPEN", 150)


async def test_an_nfo_order_needs_whole_lots_and_a_derivative_product() -> None:
    async with running_sandbox(**RICH) as sandbox:
        kite = await logged_in(sandbox)
        symbol, _, price = nifty_future(sandbox)
        with pytest.raises(kite_errors.InputException, match=r"not a multiple of the lot size \(75\)"):
            await buy_future(kite, symbol, 100, price)
        with pytest.raises(kite_errors.InputException, match="Product CNC is for equity delivery"):
            await buy_future(kite, symbol, 75, price, product="CNC")
        order_id = await buy_future(kite, symbol, 75, price, product="MIS")
        [row] = await eventually(lambda: [r for r in sandbox.desk.orders() if r["status"] == "COMPLETE"])
    assert (row["order_id"], row["product"], row["average_price"]) == (order_id, "MIS", price)

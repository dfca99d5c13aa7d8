"""F&O live orders against the Kite sandbox's NFO contracts, with the real kiteconnect client and the
engine's instruments from the sandbox's dumps: whole lots checked before sending, an order above the
freeze quantity sent as slices Kite accepts, or refused without a call."""

from __future__ import annotations

from pathlib import Path

from engine.events import OrderFailed, OrderFilled, OrderPlaced, Product, Side
from engine.instruments import Instrument
from engine.zerodha.order_store import LiveState
from kite_sandbox.derivatives import IndexDerivatives, monthly_expiry, nfo_contracts
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.live_harness import Live, live_desk

NFO = {"dump": True, "exchanges": ["NSE", "NFO"]}
RICH = {"funds": 1_000_000_000.0}
FREEZE = 1800  # NIFTY's, in the engine's settings and at the sandbox alike


def nifty_future(live: Live) -> tuple[Instrument, float]:
    """The month's NIFTY future as the engine knows it, and a price on its grid where its book is
    pinned with plenty to sell."""
    future = live.execution.instruments.by_symbol(f"NFO:{nfo_contracts()[0].tradingsymbol}")
    price = pin_future(live.sandbox, future.instrument_token)
    return future, price


def pin_future(sandbox: KiteSandbox, token: int) -> float:
    price = round(round(sandbox.market.latest[token].last_price / 0.1) * 0.1, 1)
    sandbox.market.set_book(token, price, [(round(price - 0.1, 1), 10_000)], [(price, 10_000)])
    return price


async def buy(live: Live, future: Instrument, quantity: int, price: float) -> None:
    await live.signal(
        Side.BUY, quantity, token=future.instrument_token, limit=price, product=Product.NRML, strategy="fno"
    )


async def test_the_engine_maps_the_sandboxs_nfo_dump_with_lot_size_and_expiry(tmp_path: Path) -> None:
    async with live_desk(tmp_path, **NFO) as live:
        registry = live.execution.instruments
        kite_side = {i.instrument_token for i in live.sandbox.market.registry if i.exchange == "NFO"}
    month = monthly_expiry(IndexDerivatives.today())
    futures = [i for i in registry if i.exchange == "NFO" and i.instrument_type == "FUT"]
    assert {(f.name, f.lot_size, f.tick_size, f.segment, f.expiry) for f in futures} == {
        ("NIFTY", 75, 0.1, "NFO-FUT", month),
        ("BANKNIFTY", 35, 0.1, "NFO-FUT", month),
    }
    nifty = registry.by_symbol(f"NFO:NIFTY{month:%y%b}FUT".upper())
    assert (nifty.instrument_token in kite_side, nifty.instrument_token & 0xFF) == (True, 2)
    assert {i.instrument_token for i in registry if i.exchange == "NFO"} == kite_side
    assert registry.by_symbol("NSE:INFY").exchange == "NSE"  # the cash market is still there


async def test_three_times_the_freeze_quantity_goes_as_three_orders_within_it_and_all_fill(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path, sandbox=RICH, **NFO) as live:
        future, price = nifty_future(live)
        await buy(live, future, 3 * FREEZE, price)
        placed = await live.until(lambda: len(live.of(OrderPlaced)) == 3 and live.of(OrderPlaced))
        await live.until(
            lambda: all(live.execution.order(p.order_id).state is LiveState.COMPLETE for p in placed)
        )
        posts = [e for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        kite_orders = live.sandbox.desk.orders()
        positions = live.sandbox.desk.positions()["net"]
    assert [p.quantity for p in placed] == [FREEZE] * 3
    assert [int(e.form["quantity"]) for e in posts] == [FREEZE] * 3
    assert all(int(e.form["quantity"]) % future.lot_size == 0 for e in posts)
    assert {(e.form["exchange"], e.form["tradingsymbol"], e.form["product"]) for e in posts} == {
        ("NFO", future.tradingsymbol, "NRML")
    }
    assert sorted(e.form["tag"] for e in posts) == sorted(p.order_id for p in placed)
    assert [(o["status"], o["filled_quantity"]) for o in kite_orders] == [("COMPLETE", FREEZE)] * 3
    assert sum(f.quantity for f in live.of(OrderFilled)) == 3 * FREEZE
    assert [(p["tradingsymbol"], p["quantity"]) for p in positions] == [(future.tradingsymbol, 3 * FREEZE)]
    assert live.of(OrderFailed) == []


async def test_with_slicing_off_an_order_above_the_freeze_quantity_is_refused_without_a_call(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path, sandbox=RICH, slice_above_freeze=False, **NFO) as live:
        future, price = nifty_future(live)
        await buy(live, future, 3 * FREEZE, price)
        [failed] = await live.until(lambda: live.of(OrderFailed))
        calls = live.sandbox.requests.order_calls()
    assert failed.reason == (
        f"quantity {3 * FREEZE} of {future.tradingsymbol} is above the freeze quantity {FREEZE} "
        "(zerodha.slice_above_freeze is off)"
    )
    assert calls == [] and live.of(OrderPlaced) == []


async def test_a_quantity_not_in_whole_lots_is_refused_before_any_call(tmp_path: Path) -> None:
    async with live_desk(tmp_path, sandbox=RICH, **NFO) as live:
        future, price = nifty_future(live)
        await buy(live, future, 100, price)
        await buy(live, future, 75, price + 0.05)  # off its 0.10 grid
        failed = await live.until(lambda: len(live.of(OrderFailed)) == 2 and live.of(OrderFailed))
        calls = live.sandbox.requests.order_calls()
    assert [f.reason for f in failed] == [
        f"quantity 100 of {future.tradingsymbol} is not a multiple of its lot size 75",
        f"limit price {price + 0.05} of {future.tradingsymbol} is not a multiple of its tick size 0.1",
    ]
    assert calls == [] and live.of(OrderPlaced) == []

"""The sandbox's NFO contracts: in the dump as Kite lists them, priced from their index, ticking with it."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from engine.instruments import InstrumentRegistry
from engine.market.kite_decoder import KiteFrameDecoder
from kite_sandbox.derivatives import (
    NIFTY_INDEX,
    IndexDerivatives,
    fair_price,
    monthly_expiry,
    nfo_contracts,
)
from kite_sandbox.market import SandboxMarket
from tests.kite_sandbox.test_session import logged_in
from tests.kite_sandbox.test_ticker import connected, next_frame, send
from tests.sandbox import running_sandbox


@pytest.mark.parametrize(
    ("today", "expiry"),
    [
        (date(2026, 12, 2), date(2026, 12, 29)),  # the month's last Tuesday
        (date(2026, 12, 29), date(2026, 12, 29)),  # expiry day still trades the month
        (date(2026, 12, 30), date(2027, 1, 26)),  # after it: next month's
        (date(2027, 3, 1), date(2027, 3, 30)),
    ],
)
def test_the_contracts_expire_on_the_months_last_tuesday(today: date, expiry: date) -> None:
    assert monthly_expiry(today) == expiry


def test_the_contracts_are_named_as_kite_names_them() -> None:
    contracts = {c.tradingsymbol: c for c in nfo_contracts(date(2026, 12, 2))}
    assert set(contracts) == {
        "NIFTY26DECFUT",
        "BANKNIFTY26DECFUT",
        "NIFTY26DEC26000CE",
        "NIFTY26DEC26000PE",
        "NIFTY26DEC26500CE",
    }
    future = contracts["NIFTY26DECFUT"]
    assert (future.instrument_token, future.instrument_token & 0xFF, future.lot_size) == (13238786, 2, 75)
    assert (future.segment, future.exchange, future.tick_size) == ("NFO-FUT", "NFO", 0.1)
    call = contracts["NIFTY26DEC26000CE"]
    assert (call.segment, call.strike, call.tick_size, call.expiry) == (
        "NFO-OPT",
        26000.0,
        0.05,
        date(2026, 12, 29),
    )
    assert contracts["BANKNIFTY26DECFUT"].lot_size == 35


def test_prices_follow_the_index() -> None:
    today = date(2026, 12, 2)
    contracts = {c.tradingsymbol: c for c in nfo_contracts(today)}
    future, call, put = (contracts[s] for s in ("NIFTY26DECFUT", "NIFTY26DEC26000CE", "NIFTY26DEC26000PE"))
    assert 26000.0 < fair_price(future, 26000.0, today) < 26200.0  # a small premium for the carry
    assert fair_price(future, 26100.0, today) > fair_price(future, 26000.0, today)
    assert fair_price(call, 27000.0, today) >= 1000.0  # deep in the money: at least its intrinsic value
    assert fair_price(put, 27000.0, today) < fair_price(put, 26000.0, today)
    assert fair_price(put, 40000.0, today) == 0.05  # worthless: one tick


async def test_the_nfo_dump_and_ticks_reach_the_official_client() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        rows = await asyncio.to_thread(kite.instruments, "NFO")
    assert {r["segment"] for r in rows} == {"NFO-FUT", "NFO-OPT"}
    assert all(r["exchange"] == "NFO" and r["expiry"] == monthly_expiry(r["expiry"]) for r in rows)
    [nifty] = [r for r in rows if r["name"] == "NIFTY" and r["segment"] == "NFO-FUT"]
    assert (nifty["lot_size"], nifty["tick_size"], nifty["instrument_token"] & 0xFF) == (75, 0.1, 2)


async def test_a_contract_ticks_with_its_index_in_paise() -> None:
    async with running_sandbox() as sandbox:
        future = sandbox.market.registry.by_symbol("NFO:" + nfo_contracts()[0].tradingsymbol)
        tokens = [NIFTY_INDEX, future.instrument_token]
        async with connected(sandbox) as ws:
            await send(ws, "subscribe", tokens)
            await send(ws, "mode", ["full", tokens])
            while True:  # a full-mode frame holding both: the contract's tick priced from the index's
                ticks = {t.instrument_token: t for t in KiteFrameDecoder().decode(await next_frame(ws), 0.0)}
                tick = ticks.get(future.instrument_token)
                if NIFTY_INDEX in ticks and tick is not None and tick.asks:
                    break
    assert tick.last_price == fair_price(future, ticks[NIFTY_INDEX].last_price, IndexDerivatives.today())
    assert round(tick.last_price / future.tick_size, 6).is_integer()  # segment 2: divisor 100, on its grid
    assert [level.quantity % future.lot_size for level in tick.asks] == [0] * 5


def test_a_contract_whose_index_is_not_in_the_market_walks_on_its_own() -> None:
    contract = nfo_contracts(date(2026, 12, 2))[0]
    alone = SandboxMarket(InstrumentRegistry([contract]), seed=1, updates_per_instrument_s=1.0)
    with_index = SandboxMarket(
        InstrumentRegistry([*InstrumentRegistry.sample(), contract]), seed=1, updates_per_instrument_s=1.0
    )
    assert alone.latest[contract.instrument_token].close == contract.last_price  # a walk from its seed
    ticks = {t.instrument_token: t for t in with_index.step(1.0)}
    index = ticks[NIFTY_INDEX].last_price
    assert ticks[contract.instrument_token].last_price == fair_price(
        contract, index, IndexDerivatives.today()
    )

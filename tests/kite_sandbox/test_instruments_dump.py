"""The instruments dump as the official client downloads and parses it."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from kiteconnect import exceptions as kite_errors

from engine.instruments import InstrumentRegistry
from kite_sandbox.instruments import DUMP_COLUMNS, SYNTHETIC_PREFIX, instruments_csv, sandbox_registry
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox

MOCKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kite-mocks"


async def test_the_dump_lists_every_instrument_with_kites_columns() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        rows = await asyncio.to_thread(kite.instruments, "NSE")
        nfo = await asyncio.to_thread(kite.instruments, "NFO")
        everything = await asyncio.to_thread(kite.instruments)
    sample = InstrumentRegistry.sample()
    assert rows + nfo == everything
    assert tuple(rows[0]) == DUMP_COLUMNS
    by_token = {row["instrument_token"]: row for row in rows}
    assert set(by_token) == {inst.instrument_token for inst in sample}
    for inst in sample:
        row = by_token[inst.instrument_token]
        assert (row["tradingsymbol"], row["segment"], row["exchange"]) == (
            inst.tradingsymbol,
            inst.segment,
            inst.exchange,
        )
        assert (row["tick_size"], row["lot_size"]) == (inst.tick_size, inst.lot_size)
        assert int(row["exchange_token"]) == inst.exchange_token


def test_the_dump_has_zerodhas_header() -> None:
    mock = MOCKS / "instruments_nse.csv"
    if not mock.is_file():
        pytest.skip(f"Zerodha's reference mocks are not at {MOCKS.resolve()}")
    with mock.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == DUMP_COLUMNS
    assert instruments_csv(InstrumentRegistry.sample()).splitlines()[0].split(",") == header


async def test_synthetic_instruments_extend_the_sample() -> None:
    registry = sandbox_registry(50, seed=1)
    nse = [inst for inst in registry if inst.exchange == "NSE"]
    assert len(nse) == len(InstrumentRegistry.sample()) + 50
    assert registry.by_symbol(f"{SYNTHETIC_PREFIX}00050").instrument_token & 0xFF == 1
    async with running_sandbox(instruments=50) as sandbox:
        kite = await logged_in(sandbox)
        rows = await asyncio.to_thread(kite.instruments, "NSE")
    assert len(rows) == len(nse)


async def test_an_unknown_exchange_is_an_input_error() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        with pytest.raises(kite_errors.InputException) as caught:
            await asyncio.to_thread(kite.instruments, "MARS")
        assert caught.value.code == 400


def test_a_negative_synthetic_count_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        sandbox_registry(-1)


def test_a_registry_of_any_exchange_can_be_served() -> None:
    from engine.instruments import Instrument

    future = Instrument(
        instrument_token=13_238_786,
        exchange_token=51_714,
        tradingsymbol="NIFTY26DECFUT",
        name="NIFTY",
        last_price=26_000.0,
        tick_size=0.1,
        lot_size=75,
        instrument_type="FUT",
        segment="NFO-FUT",
        exchange="NFO",
    )
    registry = InstrumentRegistry([*InstrumentRegistry.sample(), future])
    assert sandbox_registry(registry) is registry
    rows = list(csv.DictReader(instruments_csv(registry, "nfo").splitlines()))
    assert [(r["tradingsymbol"], r["lot_size"], r["segment"]) for r in rows] == [
        ("NIFTY26DECFUT", "75", "NFO-FUT")
    ]

"""The sandbox's instrument universe (the shipped NSE sample, the month's NFO contracts on the NIFTY
and BANKNIFTY indices, plus synthetic NSE equities on demand) and its instruments dump, in Kite's CSV
columns."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable
from datetime import date

from engine.instruments import Instrument, InstrumentRegistry
from kite_sandbox.derivatives import nfo_contracts

DUMP_COLUMNS = (
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
)
NSE_SEGMENT_CODE = 1
SYNTHETIC_FIRST_EXCHANGE_TOKEN = 900_000  # above every token in the shipped sample
SYNTHETIC_PREFIX = "SBX"


def sandbox_registry(
    instruments: InstrumentRegistry | int | None = None, *, seed: int = 42
) -> InstrumentRegistry:
    """The sample and the NFO contracts; plus `instruments` synthetic NSE equities; or the registry given."""
    if isinstance(instruments, InstrumentRegistry):
        return instruments
    sample = list(InstrumentRegistry.sample())
    count = instruments or 0
    if count < 0:
        raise ValueError(f"the number of synthetic instruments cannot be negative (got {count})")
    return InstrumentRegistry([*sample, *nfo_contracts(), *synthetic_equities(count, seed=seed)])


def synthetic_equities(count: int, *, seed: int = 42) -> list[Instrument]:
    """`count` made-up NSE equities SBX00001, SBX00002, ... with seeded prices."""
    rng = random.Random(seed)
    out = []
    for n in range(1, count + 1):
        exchange_token = SYNTHETIC_FIRST_EXCHANGE_TOKEN + n
        symbol = f"{SYNTHETIC_PREFIX}{n:05d}"
        out.append(
            Instrument(
                instrument_token=exchange_token << 8 | NSE_SEGMENT_CODE,
                exchange_token=exchange_token,
                tradingsymbol=symbol,
                name=f"SANDBOX EQUITY {n}",
                last_price=round(rng.uniform(50, 5000) * 20) / 20,
                tick_size=0.05,
                lot_size=1,
                instrument_type="EQ",
                segment="NSE",
                exchange="NSE",
            )
        )
    return out


def instruments_csv(instruments: Iterable[Instrument], exchange: str | None = None) -> str:
    """The dump as Kite serves it (all exchanges, or one)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DUMP_COLUMNS)
    wanted = exchange.upper() if exchange else None
    for inst in instruments:
        if wanted and inst.exchange != wanted:
            continue
        expiry = getattr(inst, "expiry", None)
        strike = getattr(inst, "strike", 0.0)
        writer.writerow(
            (
                inst.instrument_token,
                inst.exchange_token,
                inst.tradingsymbol,
                inst.name,
                0.0,  # Kite's dump carries no live price
                expiry.isoformat() if isinstance(expiry, date) else (expiry or ""),
                float(strike or 0.0),
                inst.tick_size,
                inst.lot_size,
                inst.instrument_type,
                inst.segment,
                inst.exchange,
            )
        )
    return out.getvalue()


def exchanges(instruments: Iterable[Instrument]) -> set[str]:
    return {inst.exchange for inst in instruments}

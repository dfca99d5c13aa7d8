"""The sandbox account's demat holdings (a couple of the sample's equities)."""

from __future__ import annotations

from typing import Any

from engine.events import MarketTick
from engine.instruments import InstrumentRegistry, UnknownInstrument

# symbol, quantity, average buy price as a fraction of the previous close
HELD = (("INFY", 10, 0.92), ("SBIN", 16, 1.04))


def held_quantities(registry: InstrumentRegistry) -> dict[int, int]:
    """The demat holdings as quantities by instrument token."""
    out: dict[int, int] = {}
    for symbol, quantity, _ in HELD:
        try:
            out[registry.by_symbol(symbol).instrument_token] = quantity
        except UnknownInstrument:
            continue
    return out


def holdings(registry: InstrumentRegistry, latest: dict[int, MarketTick]) -> list[dict[str, Any]]:
    rows = []
    for symbol, quantity, cost in HELD:
        try:
            inst = registry.by_symbol(symbol)
        except UnknownInstrument:
            continue
        tick = latest.get(inst.instrument_token)
        if tick is None:
            continue
        average = round(tick.close * cost, 2)
        day_change = tick.last_price - tick.close
        rows.append(
            {
                "tradingsymbol": inst.tradingsymbol,
                "exchange": inst.exchange,
                "instrument_token": inst.instrument_token,
                "isin": "",
                "product": "CNC",
                "price": 0,
                "quantity": quantity,
                "used_quantity": 0,
                "t1_quantity": 0,
                "realised_quantity": quantity,
                "authorised_quantity": 0,
                "authorised_date": "",
                "authorisation": {},
                "opening_quantity": quantity,
                "short_quantity": 0,
                "collateral_quantity": 0,
                "collateral_type": "",
                "discrepancy": False,
                "average_price": average,
                "last_price": tick.last_price,
                "close_price": tick.close,
                "pnl": round((tick.last_price - average) * quantity, 2),
                "day_change": round(day_change, 2),
                "day_change_percentage": day_change * 100 / tick.close if tick.close else 0.0,
                "mtf": {
                    "quantity": 0,
                    "used_quantity": 0,
                    "average_price": 0,
                    "value": 0,
                    "initial_margin": 0,
                },
            }
        )
    return rows

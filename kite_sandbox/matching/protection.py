"""Market protection: the worst price a MARKET (or triggered SL-M) order may fill at, a percentage
away from the last price and never beyond the price band."""

from __future__ import annotations

import math

from engine.instruments import Instrument
from kite_sandbox.circuit import DEFAULT_TICK_SIZE, circuit_limits

AUTO_PROTECTION_PCT = 3.0  # what market_protection = -1 (automatic) means in the sandbox


def protection_percent(market_protection: float) -> float:
    return AUTO_PROTECTION_PCT if market_protection < 0 else market_protection


def protected_price(
    instrument: Instrument, buy: bool, last_price: float, close: float, market_protection: float
) -> float:
    """The price `market_protection` percent worse than `last_price`, on the tick grid, in the band."""
    percent = protection_percent(market_protection)
    size = instrument.tick_size or DEFAULT_TICK_SIZE
    lower, upper = circuit_limits(close, instrument.tick_size)
    if buy:
        price = min(upper, math.floor(round(last_price * (1 + percent / 100) / size, 6)) * size)
    else:
        price = max(lower, math.ceil(round(last_price * (1 - percent / 100) / size, 6)) * size)
    return round(price, 2)

"""The sandbox's daily price band: 10% either side of the previous close, on the tick grid. Quotes
show it; orders priced outside it are rejected."""

from __future__ import annotations

import math

CIRCUIT_BAND = 0.10
DEFAULT_TICK_SIZE = 0.05


def circuit_limits(close: float, tick_size: float) -> tuple[float, float]:
    """(lower, upper) circuit limits around `close`, rounded onto the tick grid inside the band."""
    tick = tick_size or DEFAULT_TICK_SIZE
    lower = math.ceil(round(close * (1 - CIRCUIT_BAND) / tick, 6)) * tick
    upper = math.floor(round(close * (1 + CIRCUIT_BAND) / tick, 6)) * tick
    return round(lower, 2), round(upper, 2)

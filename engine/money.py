"""Money: the one rounding rule, and the exact form amounts and prices are stored in.

The engine computes in floats (a fill, a mark-to-market and a P&L snapshot are arithmetic on
the hot path); what is stored and reconciled with a broker's contract note is exact:
`NUMERIC` columns holding `Decimal`s.

The rule
    A float stands for the decimal it reads as to 15 significant digits (what
    PostgreSQL's float8 -> numeric cast does, and enough to absorb binary noise:
    0.1 + 0.2 reads as 0.3). Amounts in rupees are rounded from that decimal to
    paise (0.01), half away from zero: 4.155 -> 4.16, 4.145 -> 4.15, -4.155 -> -4.16
    (`ROUND_HALF_UP` in `decimal`, PostgreSQL's `round(numeric, 2)`), so a loss rounds
    like the profit of the same size.

    Why half up: Zerodha's contract note states every charge in rupees to two decimals,
    and its published brokerage calculator rounds with `toFixed(2)`-style half-up
    rounding; Kite's virtual contract note API gives the same components unrounded.
    Each charge of a fill is rounded on its own (`engine.execution.charges`), GST on the
    already-rounded base, and a fill's total charge is the sum of its rounded parts,
    so the stored parts add up to the stored total exactly.

    Prices are stored to 4 decimal places (`PRICE_PLACES`): exact for every tick size
    Indian exchanges use (0.05, 0.01, 0.25 for equities and options; 0.0025 for
    currency derivatives), with the same half-up rule for an off-tick price.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

AMOUNT_PLACES = 2
PRICE_PLACES = 4
# 16 digits before the point: 10^16 rupees, beyond any amount a trading account sees
AMOUNT_PRECISION = 18
PRICE_PRECISION = 18

PAISE = Decimal(1).scaleb(-AMOUNT_PLACES)
PRICE_STEP = Decimal(1).scaleb(-PRICE_PLACES)


def _decimal(value: float) -> Decimal:
    return Decimal(f"{value:.15g}")


def to_paise(amount: float) -> Decimal:
    """An amount in rupees as the exact Decimal stored, rounded to paise by the rule."""
    return _decimal(amount).quantize(PAISE, rounding=ROUND_HALF_UP)


def to_price(price: float) -> Decimal:
    """A price as the exact Decimal stored (4 dp, half up)."""
    return _decimal(price).quantize(PRICE_STEP, rounding=ROUND_HALF_UP)


def round_paise(amount: float) -> float:
    """The rule in floats, for the hot path (a tenth of `to_paise`'s cost): the nearest float to
    the amount rounded to paise, half away from zero. The epsilon counts a float a hair below a
    half paisa (4.155 * 100 is 415.49999999999994) as the half, as the 15-digit reading does;
    the two agree on every amount the engine computes (tests/engine/test_money.py), and
    `to_paise(round_paise(x))` is always the same paise as `round_paise(x)`, so what the
    engine holds and what it stores never differ."""
    paise = math.floor(abs(amount) * 100.0 + 0.5 + 1e-7)
    return (paise if amount >= 0.0 else -paise) / 100.0


def price_or_none(price: float | None) -> Decimal | None:
    return None if price is None else to_price(price)

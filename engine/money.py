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

    Why this rule: Zerodha's contract note and brokerage calculator state every charge in
    rupees to two decimals, and half up (away from zero) is the commercial convention
    and what PostgreSQL's `round(numeric)` does, so a value rounded here, by a migration
    in SQL or by a reconciliation query agree. Kite's virtual contract note API
    (kite-mocks/virtual_contract_note.json) gives the components unrounded, so where
    the rounding happens is ours to state: each charge of a fill on its own
    (`engine.execution.charges`), GST on the already-rounded base, and a fill's total
    charge is the sum of its rounded parts, so the stored parts add up to the stored
    total exactly.

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
# in paise: closer than this (or the 15-digit reading's own error) to a half, round exactly
_NEAR_HALF = 1e-6


def _decimal(value: float) -> Decimal:
    return Decimal(f"{value:.15g}")


def _exact(value: float, per_unit: float, formatted: str, step: Decimal) -> Decimal:
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not an amount or a price")
    scaled = value * per_unit
    if abs(scaled - round(scaled)) < _NEAR_HALF:
        # already on a step (every charge the engine rounds): its fixed-point text is the
        # rule's answer, at a third of the cost
        exact = Decimal(formatted)
    else:
        exact = _decimal(value).quantize(step, rounding=ROUND_HALF_UP)
    return exact if exact else exact.copy_abs()  # -0.004 rounds to 0.00, not -0.00


def to_paise(amount: float) -> Decimal:
    """An amount in rupees as the exact Decimal stored, rounded to paise by the rule."""
    return _exact(amount, 100.0, f"{amount:.2f}", PAISE)


def to_price(price: float) -> Decimal:
    """A price as the exact Decimal stored (4 dp, half up)."""
    return _exact(price, 10_000.0, f"{price:.4f}", PRICE_STEP)


def round_paise(amount: float) -> float:
    """`to_paise` as a float, for the hot path (a tenth of its cost): the nearest float to the
    amount rounded by the rule. Only an amount within a hair of a half paisa, where the float's
    binary noise could tip it, takes the exact Decimal path, so the two never disagree and
    what the engine holds is what it stores."""
    scaled = abs(amount) * 100.0
    paise = math.floor(scaled)
    if abs(scaled - paise - 0.5) < _NEAR_HALF + scaled * 1e-13:
        return float(to_paise(amount))
    if scaled - paise > 0.5:
        paise += 1
    return (paise if amount >= 0.0 else -paise) / 100.0


def price_or_none(price: float | None) -> Decimal | None:
    return None if price is None else to_price(price)

"""The account's margins, from its positions and open orders at the latest prices.

Rates (the sandbox's, documented in docs/kite-sandbox.md): CNC the full value; equity MIS 20% (5x
leverage); futures and option writing, NRML or MIS alike, 15%; option buying the full premium. An
instrument's orders and position of one product block the larger of their long and short sides, so
an order that closes a position needs no margin. Realised losses (and unrealised losses, not
unrealised profits) count against the cash; realised profits add to it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.events import MarketTick
from engine.instruments import Instrument
from kite_sandbox.matching.order import SandboxOrder
from kite_sandbox.matching.positions import Position

EQUITY_MIS_RATE = 0.20
DERIVATIVE_RATE = 0.15
EQUITY_SEGMENTS = frozenset({"NSE", "BSE"})
COMMODITY_EXCHANGES = frozenset({"MCX", "NCO"})
SEGMENTS = ("equity", "commodity")
BUCKETS = ("span", "exposure", "option_premium", "delivery")


def segment_of(instrument: Instrument) -> str:
    return "commodity" if instrument.exchange in COMMODITY_EXCHANGES else "equity"


@dataclass(slots=True)
class Exposure:
    """One instrument and product: the value it may end up long and short."""

    long_value: float = 0.0
    short_value: float = 0.0


def requirement(instrument: Instrument, product: str, exposure: Exposure) -> tuple[str, float]:
    """(utilised bucket, margin) the exposure blocks."""
    if product == "CNC":
        return "delivery", exposure.long_value  # selling holdings blocks nothing
    if instrument.segment in EQUITY_SEGMENTS:
        return "exposure", EQUITY_MIS_RATE * max(exposure.long_value, exposure.short_value)
    if instrument.instrument_type in ("CE", "PE"):
        return "option_premium", exposure.long_value + DERIVATIVE_RATE * exposure.short_value
    return "span", DERIVATIVE_RATE * max(exposure.long_value, exposure.short_value)


def order_value_price(order: SandboxOrder, last_price: float) -> float:
    """The price an open order's margin is reckoned at."""
    return order.limit or order.request.trigger_price or last_price


def exposures(
    positions: Iterable[Position], orders: Iterable[SandboxOrder], latest: dict[int, MarketTick]
) -> dict[tuple[int, str], tuple[Instrument, Exposure]]:
    out: dict[tuple[int, str], tuple[Instrument, Exposure]] = {}

    def entry(inst: Instrument, product: str) -> Exposure:
        key = (inst.instrument_token, product)
        if key not in out:
            out[key] = (inst, Exposure())
        return out[key][1]

    for position in positions:
        tick = latest.get(position.instrument.instrument_token)
        last = tick.last_price if tick is not None else position.buy_price or position.sell_price
        quantity = position.quantity
        exposure = entry(position.instrument, position.product)
        if quantity > 0:
            exposure.long_value += quantity * last
        elif quantity < 0:
            exposure.short_value += -quantity * last
    for order in orders:
        inst = order.request.instrument
        tick = latest.get(inst.instrument_token)
        value = order.pending_quantity * order_value_price(
            order, tick.last_price if tick is not None else 0.0
        )
        exposure = entry(inst, order.request.product)
        if order.request.is_buy:
            exposure.long_value += value
        else:
            exposure.short_value += value
    return out


def segment_margins(
    segment: str,
    funds: float,
    positions: list[Position],
    orders: list[SandboxOrder],
    latest: dict[int, MarketTick],
) -> dict[str, Any]:
    """One segment's margins, shaped as Kite's (all the funds are in the equity segment)."""
    cash = funds if segment == "equity" else 0.0
    used = dict.fromkeys(BUCKETS, 0.0)
    for (_, product), (inst, exposure) in exposures(positions, orders, latest).items():
        if segment_of(inst) != segment:
            continue
        bucket, margin = requirement(inst, product, exposure)
        used[bucket] += margin
    realised = unrealised = 0.0
    for position in positions:
        if segment_of(position.instrument) != segment:
            continue
        tick = latest.get(position.instrument.instrument_token)
        pnl = position.pnl(tick.last_price) if tick is not None else 0.0
        gained = position.realised()
        realised += gained
        unrealised += pnl - gained
    m2m_realised = -realised
    m2m_unrealised = max(0.0, -unrealised)
    debits = sum(used.values()) + m2m_realised + m2m_unrealised
    net = cash - debits
    return {
        "enabled": True,
        "net": _money(net),
        "available": {
            "adhoc_margin": 0,
            "cash": cash,
            "opening_balance": cash,
            "live_balance": _money(net),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": _money(debits),
            "exposure": _money(used["exposure"]),
            "m2m_realised": _money(m2m_realised),
            "m2m_unrealised": _money(m2m_unrealised),
            "option_premium": _money(used["option_premium"]),
            "payout": 0,
            "span": _money(used["span"]),
            "holding_sales": 0,
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": _money(used["delivery"]),
        },
    }


def _money(value: float) -> float:
    return round(value, 2) + 0.0  # never -0.0

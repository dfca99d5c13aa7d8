"""The order-setting fields of a `[[strategy]]` table, read and checked into OrderSettings.

    product = "CNC"              # MIS (default), CNC, NRML
    order_type = "LIMIT"         # MARKET (default), LIMIT, SL, SL-M
    limit_offset_ticks = 2       # LIMIT: from the reference price; SL: from the trigger
    trigger_offset_bps = 20      # SL, SL-M (required): from the reference price, away from the market

Each offset is given in ticks (`*_ticks`, a whole number) or basis points (`*_bps`), not both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from engine.events import Namespace, OrderType, Product
from engine.instruments import Instrument
from engine.strategies.errors import StrategyConfigError
from engine.strategies.orders import OffsetUnit, OrderSettings, PriceOffset
from engine.zerodha.order_checks import DERIVATIVE_EXCHANGES

ORDER_KEYS = (
    "product",
    "order_type",
    "limit_offset_ticks",
    "limit_offset_bps",
    "trigger_offset_ticks",
    "trigger_offset_bps",
)
MAX_OFFSET_TICKS = 10_000
MAX_OFFSET_BPS = 1_000.0  # 10%: beyond any exchange's price band

E = TypeVar("E", Product, OrderType)
ErrorFactory = Callable[[str, str, str], StrategyConfigError]


def read_order_settings(
    data: Mapping[str, object],
    instruments: Sequence[Instrument],
    namespaces: Sequence[Namespace],
    error: ErrorFactory,
) -> OrderSettings:
    """The entry's order settings; `error(field, problem, fix)` builds the exception for a bad one."""
    product = _choice(data, "product", Product, Product.MIS, error)
    order_type = _choice(data, "order_type", OrderType, OrderType.MARKET, error)
    _check_product(product, instruments, error)
    limit = _offset(data, "limit", error)
    trigger = _offset(data, "trigger", error)
    if limit is not None and order_type not in (OrderType.LIMIT, OrderType.SL):
        raise error(
            f"limit_offset_{limit.unit.value}",
            f"a {order_type.value} order has no limit price",
            'remove it, or set order_type = "LIMIT" (or "SL")',
        )
    if order_type in (OrderType.SL, OrderType.SL_M):
        if trigger is None:
            raise error(
                "trigger_offset_ticks",
                f"a {order_type.value} order needs a trigger price",
                "add trigger_offset_ticks = N or trigger_offset_bps = N (how far beyond the reference "
                "price the stop triggers)",
            )
        if trigger.amount <= 0:
            raise error(
                f"trigger_offset_{trigger.unit.value}",
                f"must be positive, got {trigger.amount:g}",
                "a stop triggers beyond the market (a buy above, a sell below); give a positive distance",
            )
        if limit is not None and limit.amount < 0:
            raise error(
                f"limit_offset_{limit.unit.value}",
                f"must be 0 or more for an SL order, got {limit.amount:g}",
                "an SL limit is the trigger moved further (a buy's higher, a sell's lower); give 0 or more",
            )
        if Namespace.PAPER in namespaces:
            raise error(
                "order_type",
                f"paper trading does not simulate {order_type.value} (stop-loss) orders",
                'use MARKET or LIMIT, or route this strategy to zerodha only (namespaces = ["zerodha"])',
            )
    elif trigger is not None:
        raise error(
            f"trigger_offset_{trigger.unit.value}",
            f"a {order_type.value} order has no trigger price",
            'remove it, or set order_type = "SL" or "SL-M"',
        )
    return OrderSettings(product=product, order_type=order_type, limit_offset=limit, trigger_offset=trigger)


def _choice(data: Mapping[str, object], key: str, enum: type[E], default: E, error: ErrorFactory) -> E:
    value = data.get(key)
    allowed = ", ".join(repr(member.value) for member in enum)
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip().upper().replace("_", "-")
        for member in enum:
            if member.value == text:
                return member
    raise error(key, f"bad value {value!r}", f"use one of {allowed}")


def _check_product(product: Product, instruments: Sequence[Instrument], error: ErrorFactory) -> None:
    for inst in instruments:
        derivative = inst.exchange in DERIVATIVE_EXCHANGES or inst.expiry is not None
        if product is Product.NRML and not derivative:
            raise error(
                "product",
                f"NRML is for derivatives and {inst.tradingsymbol} is not one",
                'use "MIS" (intraday) or "CNC" (delivery) for equity',
            )
        if product is Product.CNC and derivative:
            raise error(
                "product",
                f"CNC is for equity delivery and {inst.tradingsymbol} is a derivative",
                'use "NRML" (carried overnight) or "MIS" (intraday)',
            )


def _offset(data: Mapping[str, object], name: str, error: ErrorFactory) -> PriceOffset | None:
    ticks_key, bps_key = f"{name}_offset_ticks", f"{name}_offset_bps"
    ticks, bps = data.get(ticks_key), data.get(bps_key)
    if ticks is not None and bps is not None:
        raise error(bps_key, f"{ticks_key} is also set", "give the offset in ticks or in bps, not both")
    if ticks is not None:
        if isinstance(ticks, bool) or not isinstance(ticks, int) or abs(ticks) > MAX_OFFSET_TICKS:
            raise error(
                ticks_key,
                f"must be a whole number of ticks in -{MAX_OFFSET_TICKS}..{MAX_OFFSET_TICKS}, got {ticks!r}",
                f"write {ticks_key} = 2, or use {bps_key} for a fraction of the price",
            )
        return PriceOffset(float(ticks), OffsetUnit.TICKS)
    if bps is not None:
        if isinstance(bps, bool) or not isinstance(bps, int | float) or abs(bps) > MAX_OFFSET_BPS:
            raise error(
                bps_key,
                f"must be a number of basis points in -{MAX_OFFSET_BPS:g}..{MAX_OFFSET_BPS:g}, got {bps!r}",
                f"write {bps_key} = 5 (5 bps = 0.05% of the price)",
            )
        return PriceOffset(float(bps), OffsetUnit.BPS)
    return None

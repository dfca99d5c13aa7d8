"""A strategy's order settings: the product and order type its signals carry, and how their prices follow.

Prices are worked out from the signal's reference price (the last price the strategy saw) and
rounded to the instrument's tick size, always to the cautious side: a buy's limit down, a sell's
limit up; a buy's trigger up, a sell's trigger down (a stop stays beyond the market).

- LIMIT: limit = reference moved by the limit offset, towards paying more on a buy and taking
  less on a sell (a positive offset is a marketable limit with a cap on slippage, a negative one
  rests in the book). No offset: at the reference.
- SL / SL-M: trigger = reference moved by the trigger offset away from the market (a buy's above,
  a sell's below); an SL's limit is the trigger moved further by the limit offset (default 0), so
  it is on the side Kite requires.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from engine.events import OrderType, Product, Side

_EPSILON = 1e-9


class OffsetUnit(StrEnum):
    TICKS = "ticks"
    BPS = "bps"


@dataclass(frozen=True, slots=True)
class PriceOffset:
    """A distance from a price, in the instrument's ticks or in basis points of the price."""

    amount: float
    unit: OffsetUnit

    def distance(self, price: float, tick_size: float) -> float:
        if self.unit is OffsetUnit.TICKS:
            return self.amount * tick_size
        return price * self.amount / 10_000

    def __str__(self) -> str:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount:+} {self.unit.value}"


@dataclass(frozen=True, slots=True)
class OrderSettings:
    """What a strategy's signals carry unless the strategy sets it itself."""

    product: Product = Product.MIS
    order_type: OrderType = OrderType.MARKET
    limit_offset: PriceOffset | None = None
    trigger_offset: PriceOffset | None = None

    def prices(self, side: Side, reference: float, tick_size: float) -> tuple[float | None, float | None]:
        """(limit price, trigger price) of an order on `side` signalled at `reference`."""
        order_type = self.order_type
        if order_type is OrderType.MARKET or reference <= 0:
            return None, None
        if order_type is OrderType.LIMIT:
            moved = reference + side.sign * _distance(self.limit_offset, reference, tick_size)
            return round_to_tick(moved, tick_size, up=side is Side.SELL), None
        trigger_moved = reference + side.sign * _distance(self.trigger_offset, reference, tick_size)
        trigger = round_to_tick(trigger_moved, tick_size, up=side is Side.BUY)
        if order_type is OrderType.SL_M:
            return None, trigger
        moved = trigger + side.sign * _distance(self.limit_offset, trigger, tick_size)
        return round_to_tick(moved, tick_size, up=side is Side.SELL), trigger

    def describe(self) -> tuple[tuple[str, str], ...]:
        """(setting, value as text), for display: "order" (product and type), then its price rules."""
        rows = [("order", f"{self.product.value} {self.order_type.value}")]
        if self.order_type is OrderType.LIMIT:
            rows.append(("limit", f"ref {self.limit_offset or '+0 ticks'}"))
        if self.order_type in (OrderType.SL, OrderType.SL_M):
            rows.append(("trigger", f"ref {self.trigger_offset}"))
        if self.order_type is OrderType.SL:
            rows.append(("limit", f"trigger {self.limit_offset or '+0 ticks'}"))
        return tuple(rows)


def _distance(offset: PriceOffset | None, price: float, tick_size: float) -> float:
    return offset.distance(price, tick_size) if offset is not None else 0.0


def round_to_tick(price: float, tick_size: float, *, up: bool) -> float:
    """`price` on the tick grid (to the paisa when the tick size is unknown), rounded up or down."""
    tick = tick_size if tick_size > 0 else 0.01
    steps = price / tick
    whole = math.ceil(steps - _EPSILON) if up else math.floor(steps + _EPSILON)
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    return round(max(whole, 1) * tick, decimals)

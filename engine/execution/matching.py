"""How a paper order fills against one quote: price levels, slippage, limits.

Pure functions over plain data, so the rules are testable without a bus and
cheap enough to run on every tick that has something to fill.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import DepthLevel, Event, OrderType, Product, Side

UNLIMITED = 1 << 62  # quantity offered at the last price when a feed sends no depth


@dataclass(slots=True)
class PaperOrder:
    """A paper order still working (pending or resting) at the simulated exchange."""

    order_id: str
    strategy_id: str
    instrument_token: int
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    limit_price: float | None
    signal_ts: float  # feed time of the signal: only a strictly later quote may fill the order
    event: Event  # the OrderPlaced event; fills and cancels are its children
    remaining: int = 0
    fills: int = 0
    brokerage_paid: float = 0.0

    def __post_init__(self) -> None:
        if not self.remaining:
            self.remaining = self.quantity


class Book:
    """The liquidity one side of a quote offers on one tick.

    Quantities shrink as orders fill, so two orders filling on the same tick
    never take the same visible depth twice.
    """

    __slots__ = ("prices", "quantities")

    def __init__(self, prices: list[float], quantities: list[int]) -> None:
        self.prices = prices
        self.quantities = quantities

    @classmethod
    def at_price(cls, price: float) -> Book:
        """Everything available at one price (no depth, or partial fills switched off)."""
        return cls([price], [UNLIMITED])

    @classmethod
    def from_depth(cls, levels: tuple[DepthLevel, ...], last_price: float, partial_fills: bool) -> Book:
        """The touch side of a quote; no depth in the feed means the last price, unlimited."""
        if not levels:
            return cls.at_price(last_price)
        live = [lvl for lvl in levels if lvl.quantity > 0 and lvl.price > 0]
        if not live:
            return cls([], [])  # the feed sends depth and nobody is offering
        if not partial_fills:
            return cls.at_price(live[0].price)
        return cls([lvl.price for lvl in live], [lvl.quantity for lvl in live])


def take(order: PaperOrder, book: Book, slippage: float) -> list[tuple[int, float]]:
    """Fill as much of `order` as `book` allows: (quantity, price) per level taken.

    `slippage` is a fraction (bps / 10_000) moved against the order. A limit
    order takes only levels at or better than its limit and never fills
    worse than it.
    """
    fills: list[tuple[int, float]] = []
    want = order.remaining
    buying = order.side is Side.BUY
    limit = order.limit_price if order.order_type is OrderType.LIMIT else None
    adverse = 1.0 + slippage if buying else 1.0 - slippage
    quantities = book.quantities
    for i, level_price in enumerate(book.prices):
        if want <= 0:
            break
        available = quantities[i]
        if available <= 0:
            continue
        if limit is not None and (level_price > limit if buying else level_price < limit):
            break  # levels are in priority order: nothing further is better
        price = level_price * adverse
        if limit is not None:
            price = min(price, limit) if buying else max(price, limit)
        qty = min(want, available)
        quantities[i] = available - qty
        want -= qty
        fills.append((qty, round(price, 4)))
    return fills

"""What one tick's book offers the sandbox's orders. Each tick's depth is taken once: orders that
fill on the same tick share it in time priority, and the next tick brings fresh depth."""

from __future__ import annotations

from engine.events import DepthLevel, MarketTick

UNLIMITED = 1 << 62  # a tick without depth offers its last price without limit


class _Level:
    __slots__ = ("price", "quantity")

    def __init__(self, price: float, quantity: int) -> None:
        self.price = price
        self.quantity = quantity


class Liquidity:
    __slots__ = ("asks", "bids", "tick")

    def __init__(self, tick: MarketTick) -> None:
        self.tick = tick
        self.bids = _levels(tick.bids, tick.last_price)
        self.asks = _levels(tick.asks, tick.last_price)

    def take(self, buy: bool, quantity: int, limit: float | None) -> list[tuple[float, int]]:
        """Fills (price, quantity) for up to `quantity`, best price first, none worse than `limit`."""
        levels = self.asks if buy else self.bids
        fills: list[tuple[float, int]] = []
        for level in levels:
            if quantity <= 0:
                break
            price, available = level.price, level.quantity
            if available <= 0:
                continue
            if limit is not None and (price > limit if buy else price < limit):
                break
            taken = min(available, quantity)
            level.quantity = available - taken
            quantity -= taken
            fills.append((price, taken))
        return fills


def _levels(depth: tuple[DepthLevel, ...], last_price: float) -> list[_Level]:
    if not depth:
        return [_Level(last_price, UNLIMITED)]
    return [_Level(level.price, level.quantity) for level in depth if level.quantity > 0]

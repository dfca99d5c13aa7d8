"""Signed net position per (strategy, instrument), built from fills."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from engine.dedup import RecentIds
from engine.events import OrderFilled, Product


@dataclass(frozen=True, slots=True)
class OpenPosition:
    strategy_id: str
    instrument_token: int
    quantity: int  # signed: long > 0, short < 0
    product: Product


class PositionBook:
    def __init__(self) -> None:
        self._quantity: dict[tuple[str, int], int] = {}
        self._product: dict[tuple[str, int], Product] = {}
        self._open_count: dict[str, int] = {}
        self._trades = RecentIds()  # a redelivered fill is counted once

    def apply(self, fill: OrderFilled) -> bool:
        """Add a fill; False (and no change) if this trade id was already counted."""
        if self._trades.seen(fill.trade_id):
            return False
        key = (fill.strategy_id, fill.instrument_token)
        before = self._quantity.get(key, 0)
        after = before + fill.side.sign * fill.quantity
        self._product[key] = fill.product
        if after:
            self._quantity[key] = after
        else:
            self._quantity.pop(key, None)
        if not before and after:
            self._open_count[fill.strategy_id] = self._open_count.get(fill.strategy_id, 0) + 1
        elif before and not after:
            self._open_count[fill.strategy_id] -= 1
        return True

    def restore(self, fills: Iterable[OrderFilled]) -> None:
        for fill in fills:
            self.apply(fill)

    def quantity(self, strategy_id: str, instrument_token: int) -> int:
        return self._quantity.get((strategy_id, instrument_token), 0)

    def open_count(self, strategy_id: str) -> int:
        return self._open_count.get(strategy_id, 0)

    def open_positions(self, strategy_id: str | None = None) -> Iterator[OpenPosition]:
        """Every non-zero position, or only one strategy's."""
        for (strategy, token), quantity in list(self._quantity.items()):
            if strategy_id is None or strategy == strategy_id:
                yield OpenPosition(strategy, token, quantity, self._product[(strategy, token)])

    def strategies(self) -> set[str]:
        return {strategy for strategy, _ in self._quantity}

"""The account's positions, built from its fills. The sandbox keeps no overnight positions: every
position opened today, so `net` and `day` are the same."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engine.events import MarketTick
from engine.instruments import Instrument


@dataclass(slots=True)
class Position:
    instrument: Instrument
    product: str
    buy_quantity: int = 0
    buy_value: float = 0.0
    sell_quantity: int = 0
    sell_value: float = 0.0

    @property
    def quantity(self) -> int:
        return self.buy_quantity - self.sell_quantity

    @property
    def buy_price(self) -> float:
        return self.buy_value / self.buy_quantity if self.buy_quantity else 0.0

    @property
    def sell_price(self) -> float:
        return self.sell_value / self.sell_quantity if self.sell_quantity else 0.0

    def pnl(self, last_price: float) -> float:
        return self.sell_value - self.buy_value + self.quantity * last_price

    def realised(self) -> float:
        """The profit of the quantity bought and sold again, at the average prices."""
        closed = min(self.buy_quantity, self.sell_quantity)
        return closed * (self.sell_price - self.buy_price)

    def row(self, tick: MarketTick | None) -> dict[str, Any]:
        """The position as GET /portfolio/positions shows it (keys as Zerodha's positions.json)."""
        inst = self.instrument
        last = tick.last_price if tick is not None else 0.0
        quantity = self.quantity
        average = self.buy_price if quantity > 0 else self.sell_price if quantity < 0 else 0.0
        pnl = self.pnl(last)
        realised = self.realised()
        return {
            "tradingsymbol": inst.tradingsymbol,
            "exchange": inst.exchange,
            "instrument_token": inst.instrument_token,
            "product": self.product,
            "quantity": quantity,
            "overnight_quantity": 0,
            "multiplier": 1,
            "average_price": _money(average),
            "close_price": tick.close if tick is not None else 0.0,
            "last_price": last,
            "value": _money(self.sell_value - self.buy_value),
            "pnl": _money(pnl),
            "m2m": _money(pnl),
            "unrealised": _money(pnl - realised),
            "realised": _money(realised),
            "buy_quantity": self.buy_quantity,
            "buy_price": _money(self.buy_price),
            "buy_value": _money(self.buy_value),
            "buy_m2m": _money(self.buy_value),
            "sell_quantity": self.sell_quantity,
            "sell_price": _money(self.sell_price),
            "sell_value": _money(self.sell_value),
            "sell_m2m": _money(self.sell_value),
            "day_buy_quantity": self.buy_quantity,
            "day_buy_price": _money(self.buy_price),
            "day_buy_value": _money(self.buy_value),
            "day_sell_quantity": self.sell_quantity,
            "day_sell_price": _money(self.sell_price),
            "day_sell_value": _money(self.sell_value),
        }


class PositionBook:
    def __init__(self) -> None:
        self._positions: dict[tuple[int, str], Position] = {}

    def apply(self, instrument: Instrument, product: str, buy: bool, price: float, quantity: int) -> None:
        key = (instrument.instrument_token, product)
        position = self._positions.get(key)
        if position is None:
            position = self._positions[key] = Position(instrument, product)
        if buy:
            position.buy_quantity += quantity
            position.buy_value += price * quantity
        else:
            position.sell_quantity += quantity
            position.sell_value += price * quantity

    def get(self, instrument_token: int, product: str) -> Position | None:
        return self._positions.get((instrument_token, product))

    def __iter__(self) -> Iterator[Position]:
        return iter(self._positions.values())


def _money(value: float) -> float:
    return round(value, 4) + 0.0  # never -0.0

"""The last thing the feed said about each instrument, as the risk rules need it."""

from __future__ import annotations

from engine.events import MarketTick


class MarketView:
    """Last price, last tick time and previous close per instrument token.

    Updated on every tick, so it does three dict stores and nothing else.
    """

    __slots__ = ("last_price", "prev_close", "tick_ts")

    def __init__(self) -> None:
        self.last_price: dict[int, float] = {}
        self.tick_ts: dict[int, float] = {}  # exchange time of the last tick, epoch seconds
        self.prev_close: dict[int, float] = {}

    def update(self, tick: MarketTick) -> None:
        token = tick.instrument_token
        self.last_price[token] = tick.last_price
        self.tick_ts[token] = tick.exchange_ts
        if tick.close:
            self.prev_close[token] = tick.close

"""The last thing the feed said about each instrument, as the risk rules need it."""

from __future__ import annotations

from engine.events import MarketTick


class MarketView:
    """The latest tick per instrument token.

    Updated on every tick, so it does one dict store and nothing else; the
    rules read last price, tick time and previous close from the stored tick.
    """

    __slots__ = ("ticks",)

    def __init__(self) -> None:
        self.ticks: dict[int, MarketTick] = {}

    def update(self, tick: MarketTick) -> None:
        self.ticks[tick.instrument_token] = tick

    def last_price(self, token: int) -> float:
        tick = self.ticks.get(token)
        return tick.last_price if tick is not None else 0.0

    def tick_ts(self, token: int) -> float | None:
        """Exchange time of the last tick (epoch seconds), or None if none arrived."""
        tick = self.ticks.get(token)
        return tick.exchange_ts if tick is not None else None

    def prev_close(self, token: int) -> float:
        tick = self.ticks.get(token)
        return tick.close if tick is not None else 0.0

"""Momentum: follow a move of more than a threshold over a lookback."""

from __future__ import annotations

from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.base import FLAT, LONG, SHORT, Strategy
from engine.strategies.params import Param
from engine.strategies.rolling import RollingWindow


class _MomentumState:
    __slots__ = ("prices", "zone")

    def __init__(self, lookback: int) -> None:
        self.prices = RollingWindow(lookback + 1)
        self.zone = FLAT


class Momentum(Strategy):
    """Change over the last `lookback` ticks, in percent: above +threshold buy, below -threshold sell.

    Signals when the change enters a zone (so a rejected entry is retried on
    the next entry, never on every tick); in between, the position is held.
    """

    kind: ClassVar[str] = "momentum"
    description: ClassVar[str] = "buy on a rise of over threshold% in lookback ticks; sell on a fall"
    params: ClassVar[dict[str, Param]] = {
        "lookback": Param(int, 20, min=1, max=100_000, help="ticks to measure the move over"),
        "threshold": Param(float, 0.5, min=0.0001, max=100.0, help="percent move that triggers a signal"),
    }

    def setup(self) -> None:
        self._lookback: int = self.p["lookback"]
        self._threshold: float = self.p["threshold"]
        self._states: dict[int, _MomentumState] = {}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        state = self._states.get(tick.instrument_token)
        if state is None:
            state = self._states[tick.instrument_token] = _MomentumState(self._lookback)
        prices = state.prices
        price = tick.last_price
        prices.push(price)
        if not prices.full:
            return None
        then = prices.oldest()
        if then <= 0.0:
            return None
        change = (price / then - 1.0) * 100.0
        threshold = self._threshold
        if change > threshold:
            zone = LONG
        elif change < -threshold:
            zone = SHORT
        else:
            state.zone = FLAT
            return None
        if zone == state.zone:
            return None
        state.zone = zone
        reason = f"{change:+.2f}% over {self._lookback} ticks (threshold {threshold:g}%)"
        return self.target(tick, zone, reason)

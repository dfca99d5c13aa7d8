"""Exponential moving average crossover."""

from __future__ import annotations

from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.crossover import CrossoverState, MovingAverageCrossover


class _EmaState(CrossoverState):
    __slots__ = ("count", "fast", "slow")

    def __init__(self, price: float) -> None:
        super().__init__()
        self.fast = price
        self.slow = price
        self.count = 0


class EmaCrossover(MovingAverageCrossover):
    """EMAs with alpha = 2 / (n + 1), seeded with the first price; ready after `slow` ticks."""

    kind: ClassVar[str] = "ema_crossover"
    description: ClassVar[str] = "buy when EMA(fast) crosses above EMA(slow); sell when it crosses below"
    average_name: ClassVar[str] = "EMA"

    def setup(self) -> None:
        self._alpha_fast = 2.0 / (self.p["fast"] + 1)
        self._alpha_slow = 2.0 / (self.p["slow"] + 1)
        self._warmup: int = self.p["slow"]
        self._states: dict[int, _EmaState] = {}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        price = tick.last_price
        state = self._states.get(tick.instrument_token)
        if state is None:
            state = self._states[tick.instrument_token] = _EmaState(price)
        state.fast += self._alpha_fast * (price - state.fast)
        state.slow += self._alpha_slow * (price - state.slow)
        if state.count < self._warmup:
            state.count += 1
            if state.count < self._warmup:
                return None
        return self.cross(state, tick, state.fast, state.slow)

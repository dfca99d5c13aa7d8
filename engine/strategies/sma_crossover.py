"""Simple moving average crossover."""

from __future__ import annotations

import math
from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.crossover import CrossoverState, MovingAverageCrossover


class _SmaState(CrossoverState):
    """The last `slow` prices in a ring, with running sums of the last `fast` and `slow` of them.

    Prices are stored relative to the first one (smaller sums, less rounding)
    and both sums are recomputed exactly once per lap of the ring, so float
    drift stays bounded however long the session runs.
    """

    __slots__ = ("count", "fast_sum", "next", "prices", "shift", "slow_sum")

    def __init__(self, slow: int, shift: float) -> None:
        super().__init__()
        self.prices = [0.0] * slow
        self.next = 0
        self.count = 0
        self.fast_sum = 0.0
        self.slow_sum = 0.0
        self.shift = shift


class SmaCrossover(MovingAverageCrossover):
    kind: ClassVar[str] = "sma_crossover"
    description: ClassVar[str] = "buy when SMA(fast) crosses above SMA(slow); sell when it crosses below"
    average_name: ClassVar[str] = "SMA"

    def setup(self) -> None:
        self._fast_n: int = self.p["fast"]
        self._slow_n: int = self.p["slow"]
        self._states: dict[int, _SmaState] = {}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        price = tick.last_price
        state = self._states.get(tick.instrument_token)
        if state is None:
            state = self._states[tick.instrument_token] = _SmaState(self._slow_n, price)
        fast_n, slow_n = self._fast_n, self._slow_n
        prices, i, count = state.prices, state.next, state.count
        x = price - state.shift
        # the price leaving the fast window is `fast_n` places behind the write position
        leaving_fast = prices[i - fast_n] if count >= fast_n else 0.0
        leaving_slow = prices[i] if count >= slow_n else 0.0
        prices[i] = x
        state.fast_sum += x - leaving_fast
        state.slow_sum += x - leaving_slow
        i += 1
        if i == slow_n:
            i = 0
            state.slow_sum = math.fsum(prices)
            state.fast_sum = math.fsum(prices[slow_n - fast_n :])
        state.next = i
        if count < slow_n:
            count = state.count = count + 1
            if count < slow_n:
                return None
        shift = state.shift
        return self.cross(state, tick, state.fast_sum / fast_n + shift, state.slow_sum / slow_n + shift)

"""What SMA and EMA crossovers share: the fast/slow params and the cross detection."""

from __future__ import annotations

from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.base import LONG, SHORT, Strategy
from engine.strategies.errors import StrategyParamError
from engine.strategies.params import Param

# Averages closer than this (relative to price) count as equal, so float noise
# on a flat market never reads as a cross.
EQUAL_TOLERANCE = 1e-9


class CrossoverState:
    """Per-instrument cross memory: +1 fast above slow, -1 below, 0 not yet apart."""

    __slots__ = ("ready", "relation")

    def __init__(self) -> None:
        self.relation = 0
        self.ready = False  # both averages have seen enough ticks


class MovingAverageCrossover(Strategy):
    """Long when the fast average crosses above the slow one; short or flat when it crosses below.

    Signals only at the cross: a change of side, where "equal" keeps the
    previous side (above -> equal -> above is not a new cross, equal ->
    above is). The first tick with both averages ready sets the side
    without a signal.
    """

    average_name: ClassVar[str] = "MA"
    params: ClassVar[dict[str, Param]] = {
        "fast": Param(int, 5, min=1, max=10_000, help="ticks in the fast average"),
        "slow": Param(int, 20, min=2, max=100_000, help="ticks in the slow average"),
    }

    def check_params(self) -> None:
        fast, slow = self.p["fast"], self.p["slow"]
        if fast >= slow:
            raise StrategyParamError(
                f"param 'fast' ({fast}) must be less than param 'slow' ({slow})", param="fast"
            )

    def cross(
        self, state: CrossoverState, tick: MarketTick, fast_value: float, slow_value: float
    ) -> TradingSignal | None:
        """Update the side for these (ready) averages; the signal if the side changed."""
        diff = fast_value - slow_value
        tolerance = EQUAL_TOLERANCE * abs(slow_value)
        relation = LONG if diff > tolerance else SHORT if diff < -tolerance else 0
        if not state.ready:
            state.ready = True
            state.relation = relation
            return None
        if relation == 0 or relation == state.relation:
            return None
        state.relation = relation
        fast, slow, name = self.p["fast"], self.p["slow"], self.average_name
        word = "above" if relation == LONG else "below"
        reason = f"{name}({fast}) {fast_value:.2f} crossed {word} {name}({slow}) {slow_value:.2f}"
        return self.target(tick, relation, reason)

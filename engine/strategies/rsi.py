"""Relative strength index (Wilder): buy oversold, sell overbought."""

from __future__ import annotations

from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.base import FLAT, LONG, SHORT, Strategy
from engine.strategies.errors import StrategyParamError
from engine.strategies.params import Param


class _RsiState:
    __slots__ = ("avg_gain", "avg_loss", "changes", "last", "zone")

    def __init__(self, price: float) -> None:
        self.last = price
        self.changes = 0
        self.avg_gain = 0.0  # a running sum until `period` changes, then Wilder's average
        self.avg_loss = 0.0
        self.zone = FLAT


class Rsi(Strategy):
    """Wilder's RSI over tick-to-tick changes.

    The first average is the simple mean of the first `period` changes, then
    avg = (avg * (period - 1) + change) / period. RSI < oversold: buy;
    RSI > overbought: sell (short if allowed, else exit). Signals when RSI
    enters a zone.
    """

    kind: ClassVar[str] = "rsi"
    description: ClassVar[str] = "Wilder RSI: buy when RSI falls below oversold, sell above overbought"
    params: ClassVar[dict[str, Param]] = {
        "period": Param(int, 14, min=2, max=10_000, help="changes in Wilder's average"),
        "oversold": Param(float, 30.0, min=0.0, max=100.0, help="RSI below this buys"),
        "overbought": Param(float, 70.0, min=0.0, max=100.0, help="RSI above this sells"),
    }

    def check_params(self) -> None:
        low, high = self.p["oversold"], self.p["overbought"]
        if low >= high:
            raise StrategyParamError(
                f"param 'oversold' ({low:g}) must be less than param 'overbought' ({high:g})",
                param="oversold",
            )

    def setup(self) -> None:
        self._period: int = self.p["period"]
        self._oversold: float = self.p["oversold"]
        self._overbought: float = self.p["overbought"]
        self._states: dict[int, _RsiState] = {}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        price = tick.last_price
        state = self._states.get(tick.instrument_token)
        if state is None:
            self._states[tick.instrument_token] = _RsiState(price)
            return None
        change = price - state.last
        state.last = price
        gain = change if change > 0.0 else 0.0
        loss = -change if change < 0.0 else 0.0
        period = self._period
        if state.changes < period:
            state.changes += 1
            state.avg_gain += gain
            state.avg_loss += loss
            if state.changes < period:
                return None
            state.avg_gain /= period
            state.avg_loss /= period
        else:
            state.avg_gain = (state.avg_gain * (period - 1) + gain) / period
            state.avg_loss = (state.avg_loss * (period - 1) + loss) / period
        avg_loss = state.avg_loss
        if avg_loss == 0.0:
            rsi = 100.0 if state.avg_gain > 0.0 else 50.0
        else:
            rsi = 100.0 - 100.0 / (1.0 + state.avg_gain / avg_loss)
        if rsi < self._oversold:
            zone = LONG
        elif rsi > self._overbought:
            zone = SHORT
        else:
            state.zone = FLAT
            return None
        if zone == state.zone:
            return None
        state.zone = zone
        word = "oversold" if zone == LONG else "overbought"
        return self.target(tick, zone, f"RSI({period}) {rsi:.1f} {word}")

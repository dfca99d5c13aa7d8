"""Mean reversion on the z-score of price against its recent mean."""

from __future__ import annotations

from typing import ClassVar

from engine.events import MarketTick, TradingSignal
from engine.strategies.base import FLAT, LONG, SHORT, Strategy
from engine.strategies.errors import StrategyParamError
from engine.strategies.params import Param
from engine.strategies.rolling import RollingWindow


class _ZState:
    __slots__ = ("prices", "zone")

    def __init__(self, lookback: int) -> None:
        self.prices = RollingWindow(lookback)
        self.zone = FLAT


class MeanReversion(Strategy):
    """z = (price - mean) / std of the previous `lookback` prices (population std, price excluded).

    z <= -entry_z: buy (price unusually low); z >= +entry_z: sell (short if
    allowed, else exit); |z| <= exit_z: back to flat. Between exit_z and
    entry_z the position is held. Signals when z enters a zone.
    """

    kind: ClassVar[str] = "mean_reversion"
    description: ClassVar[str] = "buy when price is entry_z std below its mean, exit when back within exit_z"
    params: ClassVar[dict[str, Param]] = {
        "lookback": Param(int, 20, min=2, max=100_000, help="ticks in the mean and std"),
        "entry_z": Param(float, 2.0, min=0.01, max=100.0, help="|z| that opens a position"),
        "exit_z": Param(float, 0.5, min=0.0, max=100.0, help="|z| within which the position is closed"),
    }

    def check_params(self) -> None:
        entry_z, exit_z = self.p["entry_z"], self.p["exit_z"]
        if exit_z >= entry_z:
            raise StrategyParamError(
                f"param 'exit_z' ({exit_z:g}) must be less than param 'entry_z' ({entry_z:g})",
                param="exit_z",
            )

    def setup(self) -> None:
        self._lookback: int = self.p["lookback"]
        self._entry: float = self.p["entry_z"]
        self._exit: float = self.p["exit_z"]
        self._states: dict[int, _ZState] = {}

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        state = self._states.get(tick.instrument_token)
        if state is None:
            state = self._states[tick.instrument_token] = _ZState(self._lookback)
        prices = state.prices
        price = tick.last_price
        if not prices.full:
            prices.push(price)
            return None
        mean = prices.mean()
        std = prices.std()
        prices.push(price)
        if std <= 1e-12 * abs(mean):
            return None
        z = (price - mean) / std
        if z <= -self._entry:
            zone = LONG
        elif z >= self._entry:
            zone = SHORT
        elif -self._exit <= z <= self._exit:
            zone = FLAT
        else:
            return None
        if zone == state.zone:
            return None
        state.zone = zone
        reason = f"z {z:+.2f} vs mean {mean:.2f} over {self._lookback} ticks"
        return self.target(tick, zone, reason)

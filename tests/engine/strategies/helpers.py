"""Hand-made ticks and a driver that records (tick index, side, quantity) of each signal."""

from __future__ import annotations

from collections.abc import Iterable

from engine.events import MarketTick, Side, TradingSignal
from engine.strategies.base import Strategy

RELIANCE = 738561
INFY = 408065
TCS = 2953217
T0 = 1_767_000_000.0  # an arbitrary epoch second; only the spacing matters


def tick(price: float, token: int = RELIANCE, ts: float = T0) -> MarketTick:
    return MarketTick(instrument_token=token, last_price=price, exchange_ts=ts)


def drive(strategy: Strategy, prices: Iterable[float], token: int = RELIANCE) -> list[tuple[int, Side, int]]:
    """Feed prices one tick a second; the (index, side, quantity) of every signal."""
    out: list[tuple[int, Side, int]] = []
    for i, price in enumerate(prices):
        signal = strategy.on_tick(tick(price, token, T0 + i))
        if signal is not None:
            out.append((i, signal.side, signal.quantity))
    return out


def signals(strategy: Strategy, prices: Iterable[float], token: int = RELIANCE) -> list[TradingSignal]:
    out: list[TradingSignal] = []
    for i, price in enumerate(prices):
        signal = strategy.on_tick(tick(price, token, T0 + i))
        if signal is not None:
            out.append(signal)
    return out

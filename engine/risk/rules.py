"""Pre-trade risk rules.

Each rule is a small object with a name, its setting and the state it reads.
`check` returns None to let a signal pass, or a plain reason that names the
numbers involved, so a person reading a rejection knows exactly what to change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol

from engine.events import OrderType, TradingSignal
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.risk.holds import StrategyHolds
from engine.risk.kill_switch import KillSwitch
from engine.risk.loss_latch import LossLatch
from engine.risk.market_view import MarketView
from engine.risk.order_rate import OrderRate
from engine.risk.positions import PositionBook
from engine.settings import RiskSettings

# A limit price is on the tick grid if it is within this fraction of a tick of it:
# 1400.05 / 0.05 is 28001.000000000004 in floating point.
TICK_TOLERANCE = 1e-6


def order_price(signal: TradingSignal, market: MarketView) -> float:
    """The price an order is judged at: its limit price, else the strategy's reference price."""
    if signal.order_type is OrderType.LIMIT and signal.limit_price is not None:
        return signal.limit_price
    if signal.reference_price > 0:
        return signal.reference_price
    return market.last_price(signal.instrument_token)


def _price_label(signal: TradingSignal) -> str:
    return "limit" if signal.order_type is OrderType.LIMIT else "reference"


class Rule(ABC):
    __slots__ = ()
    name: ClassVar[str]

    @abstractmethod
    def check(self, signal: TradingSignal, now: float) -> str | None:
        """None to pass, else why the signal is rejected."""


class KillSwitchRule(Rule):
    __slots__ = ("switch",)
    name = "kill_switch"

    def __init__(self, switch: KillSwitch) -> None:
        self.switch = switch

    def check(self, signal: TradingSignal, now: float) -> str | None:
        if self.switch.halted:
            return f"trading halted by the kill switch: {self.switch.reason or 'no reason given'}"
        return None


class StrategyHoldRule(Rule):
    __slots__ = ("holds",)
    name = "position_mismatch"

    def __init__(self, holds: StrategyHolds) -> None:
        self.holds = holds

    def check(self, signal: TradingSignal, now: float) -> str | None:
        return self.holds.blocking_reason(signal.strategy_id)


class Gate(Protocol):
    def blocking_reason(self) -> str | None:
        """None when an order may go to the broker now, else why not."""
        ...


class LiveGateRule(Rule):
    """Live orders only: the typed confirmation given and the broker session valid (fails closed)."""

    __slots__ = ("gate",)
    name = "live_gate"

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def check(self, signal: TradingSignal, now: float) -> str | None:
        return self.gate.blocking_reason()


class LossLimitRule(Rule):
    __slots__ = ("latch",)
    name = "loss_limit"

    def __init__(self, latch: LossLatch) -> None:
        self.latch = latch

    def check(self, signal: TradingSignal, now: float) -> str | None:
        return self.latch.blocking_reason(signal.strategy_id)


class MarketHoursRule(Rule):
    __slots__ = ("calendar", "enforce")
    name = "market_hours"

    def __init__(self, calendar: MarketCalendar, enforce: bool) -> None:
        self.calendar = calendar
        self.enforce = enforce

    def check(self, signal: TradingSignal, now: float) -> str | None:
        if not self.enforce or self.calendar.is_open(now):
            return None
        at = self.calendar.ist(now).strftime("%a %d %b %H:%M")
        return f"market is not open at {at} IST ({self.calendar.describe(now)})"


class InstrumentRule(Rule):
    __slots__ = ("instruments",)
    name = "instrument"

    def __init__(self, instruments: InstrumentRegistry) -> None:
        self.instruments = instruments

    def check(self, signal: TradingSignal, now: float) -> str | None:
        inst = self.instruments.get(signal.instrument_token)
        if inst is None:
            return f"unknown instrument token {signal.instrument_token}"
        if not inst.tradable:
            return f"{inst.tradingsymbol} is not tradable (segment {inst.segment})"
        return None


class StaleFeedRule(Rule):
    __slots__ = ("instruments", "market", "max_age_s")
    name = "stale_feed"

    def __init__(self, max_age_s: float, market: MarketView, instruments: InstrumentRegistry) -> None:
        self.max_age_s = max_age_s
        self.market = market
        self.instruments = instruments

    def check(self, signal: TradingSignal, now: float) -> str | None:
        tick_ts = self.market.tick_ts(signal.instrument_token)
        if tick_ts is None:
            return f"no tick received for {self.instruments.symbol(signal.instrument_token)}"
        age = now - tick_ts
        if age > self.max_age_s:
            return (
                f"last tick for {self.instruments.symbol(signal.instrument_token)} is {age:.1f} s old "
                f"(max_tick_age_s {self.max_age_s:.1f})"
            )
        return None


class LotSizeRule(Rule):
    __slots__ = ("instruments",)
    name = "lot_size"

    def __init__(self, instruments: InstrumentRegistry) -> None:
        self.instruments = instruments

    def check(self, signal: TradingSignal, now: float) -> str | None:
        inst = self.instruments.get(signal.instrument_token)
        lot = max(inst.lot_size, 1) if inst is not None else 1
        if signal.quantity <= 0 or signal.quantity % lot:
            return f"quantity {signal.quantity} is not a positive multiple of lot size {lot}"
        return None


class TickSizeRule(Rule):
    __slots__ = ("instruments",)
    name = "tick_size"

    def __init__(self, instruments: InstrumentRegistry) -> None:
        self.instruments = instruments

    def check(self, signal: TradingSignal, now: float) -> str | None:
        if signal.order_type is not OrderType.LIMIT:
            return None
        price = signal.limit_price
        if price is None:
            return "limit order has no limit price"
        if price <= 0:
            return f"limit {price} is not a positive price"
        inst = self.instruments.get(signal.instrument_token)
        tick = inst.tick_size if inst is not None else 0.0
        if tick > 0:
            steps = price / tick
            if abs(steps - round(steps)) > TICK_TOLERANCE:
                return f"limit {price} is not a multiple of tick size {tick}"
        return None


class MaxQuantityRule(Rule):
    __slots__ = ("limit",)
    name = "max_quantity"

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def check(self, signal: TradingSignal, now: float) -> str | None:
        if signal.quantity > self.limit:
            return f"quantity {signal.quantity} exceeds max_quantity {self.limit}"
        return None


class PriceBandRule(Rule):
    """Fat-finger guard: the order price must be near the last traded price."""

    __slots__ = ("market", "pct")
    name = "price_band"

    def __init__(self, pct: float, market: MarketView) -> None:
        self.pct = pct
        self.market = market

    def check(self, signal: TradingSignal, now: float) -> str | None:
        last = self.market.last_price(signal.instrument_token)
        if last <= 0:
            return None  # stale_feed runs first and rejects a signal with no price to compare
        price = order_price(signal, self.market)
        off = abs(price - last) / last * 100.0
        if off > self.pct:
            return (
                f"{_price_label(signal)} {price:.2f} is {off:.1f}% from last price {last:.2f} "
                f"(band {self.pct:.1f}%)"
            )
        return None


class CircuitLimitRule(Rule):
    """The day's band: the order price must be within circuit_limit_pct of the previous close."""

    __slots__ = ("market", "pct")
    name = "circuit_limit"

    def __init__(self, pct: float, market: MarketView) -> None:
        self.pct = pct
        self.market = market

    def check(self, signal: TradingSignal, now: float) -> str | None:
        close = self.market.prev_close(signal.instrument_token)
        if close <= 0:
            return None  # the feed has not told us the previous close
        price = order_price(signal, self.market)
        off = abs(price - close) / close * 100.0
        if off > self.pct:
            return (
                f"{_price_label(signal)} {price:.2f} is {off:.1f}% from previous close {close:.2f} "
                f"(circuit {self.pct:.1f}%)"
            )
        return None


class MaxOrderValueRule(Rule):
    __slots__ = ("limit", "market")
    name = "max_order_value"

    def __init__(self, limit: float, market: MarketView) -> None:
        self.limit = limit
        self.market = market

    def check(self, signal: TradingSignal, now: float) -> str | None:
        price = order_price(signal, self.market)
        value = signal.quantity * price
        if value > self.limit:
            return (
                f"order value {value:.2f} ({signal.quantity} x {price:.2f}) "
                f"exceeds max_order_value {self.limit:.2f}"
            )
        return None


class MaxPositionValueRule(Rule):
    """The position this order would leave, valued at the order price; orders that shrink it pass."""

    __slots__ = ("book", "limit", "market")
    name = "max_position_value"

    def __init__(self, limit: float, book: PositionBook, market: MarketView) -> None:
        self.limit = limit
        self.book = book
        self.market = market

    def check(self, signal: TradingSignal, now: float) -> str | None:
        current = self.book.quantity(signal.strategy_id, signal.instrument_token)
        after = current + signal.side.sign * signal.quantity
        if abs(after) <= abs(current):
            return None
        price = order_price(signal, self.market)
        value = abs(after) * price
        if value > self.limit:
            return (
                f"resulting position {after} x {price:.2f} = {value:.2f} "
                f"exceeds max_position_value {self.limit:.2f}"
            )
        return None


class MaxOpenPositionsRule(Rule):
    __slots__ = ("book", "limit")
    name = "max_open_positions"

    def __init__(self, limit: int, book: PositionBook) -> None:
        self.limit = limit
        self.book = book

    def check(self, signal: TradingSignal, now: float) -> str | None:
        if self.book.quantity(signal.strategy_id, signal.instrument_token):
            return None  # adds to, reduces or flips a position it already has
        open_now = self.book.open_count(signal.strategy_id)
        if open_now >= self.limit:
            return (
                f"strategy {signal.strategy_id} already has {open_now} open positions "
                f"(max_open_positions {self.limit})"
            )
        return None


class MaxOrdersPerMinuteRule(Rule):
    __slots__ = ("limit", "rate")
    name = "max_orders_per_minute"

    def __init__(self, limit: int, rate: OrderRate) -> None:
        self.limit = limit
        self.rate = rate

    def check(self, signal: TradingSignal, now: float) -> str | None:
        sent = self.rate.count(signal.strategy_id, now)
        if sent >= self.limit:
            return (
                f"strategy {signal.strategy_id} sent {sent} orders in the last {self.rate.window_s:.0f} s "
                f"(max_orders_per_minute {self.limit})"
            )
        return None


def build_rules(
    settings: RiskSettings,
    *,
    switch: KillSwitch,
    holds: StrategyHolds,
    latch: LossLatch,
    market: MarketView,
    book: PositionBook,
    rate: OrderRate,
    instruments: InstrumentRegistry,
    calendar: MarketCalendar,
    live_gate: Gate | None = None,
) -> tuple[Rule, ...]:
    """Every rule, in the order they run: halts (and, for live orders, the live gate) first,
    then the instrument and a fresh price, then the order itself, then exposure and rate."""
    gate: tuple[Rule, ...] = (LiveGateRule(live_gate),) if live_gate is not None else ()
    return (
        KillSwitchRule(switch),
        StrategyHoldRule(holds),
        *gate,
        LossLimitRule(latch),
        MarketHoursRule(calendar, settings.enforce_market_hours),
        InstrumentRule(instruments),
        StaleFeedRule(settings.max_tick_age_s, market, instruments),
        LotSizeRule(instruments),
        TickSizeRule(instruments),
        MaxQuantityRule(settings.max_quantity),
        PriceBandRule(settings.price_band_pct, market),
        CircuitLimitRule(settings.circuit_limit_pct, market),
        MaxOrderValueRule(settings.max_order_value, market),
        MaxPositionValueRule(settings.max_position_value, book, market),
        MaxOpenPositionsRule(settings.max_open_positions, book),
        MaxOrdersPerMinuteRule(settings.max_orders_per_minute, rate),
    )

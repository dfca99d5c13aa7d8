"""The strategy API: declared params, one synchronous `on_tick`, and intended-position helpers.

A strategy sees only the ticks of its own instruments and answers each with a
TradingSignal or None. It keeps its own intended position per instrument (the
net of the signals it emitted and that were not rejected), so it can say what
it wants ("be long", "be flat") and the helpers work out the order: a
long-only crossover buys on the up-cross and sells only to exit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from engine.events import MarketTick, Namespace, OrderType, Product, Side, TradingSignal
from engine.strategies.errors import StrategyParamError
from engine.strategies.orders import OrderSettings
from engine.strategies.params import Param, validate_params

COMMON_PARAMS: dict[str, Param] = {
    "quantity": Param(int, 1, min=1, max=1_000_000, help="shares per entry"),
    "allow_short": Param(bool, False, help="go short on sell signals (else sell only to exit a long)"),
}

LONG = 1
FLAT = 0
SHORT = -1


class Strategy(ABC):
    """Subclass, set `kind`, `description`, `params`; implement `on_tick`; optionally `setup`, `check_params`.

    `params` declares only the strategy's own params; `quantity` and
    `allow_short` are common to all (see COMMON_PARAMS) and may be re-declared
    to change their defaults.
    """

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[dict[str, Param]] = {}

    def __init__(
        self,
        name: str,
        instruments: tuple[int, ...],
        namespaces: tuple[Namespace, ...],
        params: Mapping[str, object],
    ) -> None:
        if not name:
            raise StrategyParamError("a strategy needs a non-empty name")
        self.name = name
        self.instruments = tuple(instruments)
        self.namespaces = tuple(namespaces)
        owner = self.kind or type(self).__name__
        self.p: dict[str, Any] = validate_params(self.declared_params(), params, owner=owner)
        self.check_params()
        self.quantity: int = self.p["quantity"]
        self.allow_short: bool = self.p["allow_short"]
        self._positions: dict[int, int] = {}
        self.orders = OrderSettings()
        self._tick_sizes: dict[int, float] = {}
        self.setup()

    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        """Every param this kind accepts: the common ones, then its own."""
        return {**COMMON_PARAMS, **cls.params}

    def set_orders(self, orders: OrderSettings, tick_sizes: Mapping[int, float]) -> None:
        """The product, order type and price offsets its signals carry (from the strategies file)."""
        self.orders = orders
        self._tick_sizes = dict(tick_sizes)

    def check_params(self) -> None:  # noqa: B027 - optional hook
        """Check relations between params (e.g. fast < slow); raise StrategyParamError."""

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Build indicator state from `self.p` (called once, after params are validated)."""

    @abstractmethod
    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        """React to one tick of one of this strategy's instruments. Hot path: keep it O(1)."""

    # -- intended position ----------------------------------------------------
    def position(self, token: int) -> int:
        """Signed intended quantity for an instrument: > 0 long, < 0 short, 0 flat."""
        return self._positions.get(token, 0)

    def buy(
        self,
        tick: MarketTick,
        quantity: int,
        reason: str,
        *,
        product: Product | None = None,
        order_type: OrderType | None = None,
        limit_price: float | None = None,
        trigger_price: float | None = None,
    ) -> TradingSignal:
        """A buy signal; what it sets of product, order type and prices wins over the order settings."""
        return self._signal(
            tick,
            Side.BUY,
            quantity,
            reason,
            product=product,
            order_type=order_type,
            limit_price=limit_price,
            trigger_price=trigger_price,
        )

    def sell(
        self,
        tick: MarketTick,
        quantity: int,
        reason: str,
        *,
        product: Product | None = None,
        order_type: OrderType | None = None,
        limit_price: float | None = None,
        trigger_price: float | None = None,
    ) -> TradingSignal:
        return self._signal(
            tick,
            Side.SELL,
            quantity,
            reason,
            product=product,
            order_type=order_type,
            limit_price=limit_price,
            trigger_price=trigger_price,
        )

    def target(self, tick: MarketTick, direction: int, reason: str) -> TradingSignal | None:
        """The signal that moves this instrument to LONG, FLAT or SHORT (`quantity` shares).

        SHORT means FLAT unless `allow_short`. None when already there, so
        repeating a wish never repeats an order.
        """
        if direction < 0 and not self.allow_short:
            direction = FLAT
        token = tick.instrument_token
        delta = direction * self.quantity - self._positions.get(token, 0)
        if delta > 0:
            return self._signal(tick, Side.BUY, delta, reason)
        if delta < 0:
            return self._signal(tick, Side.SELL, -delta, reason)
        return None

    def go_long(self, tick: MarketTick, reason: str) -> TradingSignal | None:
        return self.target(tick, LONG, reason)

    def go_short(self, tick: MarketTick, reason: str) -> TradingSignal | None:
        """Short if allowed, otherwise flat (exit a long, nothing when already flat)."""
        return self.target(tick, SHORT, reason)

    def go_flat(self, tick: MarketTick, reason: str) -> TradingSignal | None:
        return self.target(tick, FLAT, reason)

    def undo(self, signal: TradingSignal) -> None:
        """Forget a signal that was rejected downstream, so the intended position matches reality."""
        self.forget(signal.instrument_token, signal.side, signal.quantity)

    def forget(self, token: int, side: Side, quantity: int) -> None:
        """Take back `quantity` intended on `side` (an order the broker refused)."""
        self._positions[token] = self._positions.get(token, 0) - side.sign * quantity

    def restore_position(self, token: int, quantity: int) -> None:
        """Set the intended position after a restart (the net of the stored fills and working orders)."""
        if quantity:
            self._positions[token] = quantity
        else:
            self._positions.pop(token, None)

    def new_session(self) -> None:
        """A new trading day: intraday (MIS) positions were squared off by the broker, so flat.

        Delivery (CNC) and carried (NRML) positions outlive the day."""
        if self.orders.product is Product.MIS:
            self._positions.clear()

    def _signal(
        self,
        tick: MarketTick,
        side: Side,
        quantity: int,
        reason: str,
        *,
        product: Product | None = None,
        order_type: OrderType | None = None,
        limit_price: float | None = None,
        trigger_price: float | None = None,
    ) -> TradingSignal:
        if quantity <= 0:
            raise ValueError(f"{self.name}: signal quantity must be positive, got {quantity}")
        token = tick.instrument_token
        orders = self.orders
        if order_type is None:
            order_type = orders.order_type
            limit, trigger = orders.prices(side, tick.last_price, self._tick_sizes.get(token, 0.0))
            limit_price = limit if limit_price is None else limit_price
            trigger_price = trigger if trigger_price is None else trigger_price
        self._positions[token] = self._positions.get(token, 0) + side.sign * quantity
        return TradingSignal(
            strategy_id=self.name,
            instrument_token=token,
            side=side,
            quantity=quantity,
            reference_price=tick.last_price,
            order_type=order_type,
            limit_price=limit_price,
            product=product or orders.product,
            reason=reason,
            signal_ts=tick.exchange_ts,
            trigger_price=trigger_price,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, kind={self.kind!r})"

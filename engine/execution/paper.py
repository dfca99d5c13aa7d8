"""The paper broker: validated signals become simulated orders, filled against later quotes.

It lives in the paper namespace only and publishes only on paper topics, so a
paper order can never reach a real broker. Fills follow the feed's clock:
an order fills on a quote that is strictly later than its signal (and at
least the configured latency later), at the touch price moved against the
order by the configured slippage, taking only the depth the quote shows.
Every fill carries Zerodha-style charges. Open MIS positions are squared off
at the configured cut-off (15:20 IST by default).

A paper order lives only in this process: `close` cancels every working order
when the engine stops, and `cancel_unresolved` cancels, after a restart, the
orders storage still holds as working (a crash left them so). Either way an
OrderCancelled with the reason is published, so storage, the console and the
strategies see them end like any other cancellation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Protocol

from engine.bus.base import Bus
from engine.clock import Clock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    EventType,
    MarketTick,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.execution.matching import Book, PaperOrder, take
from engine.execution.order_ids import OrderIds
from engine.execution.positions import PositionKey, book_fill, closing_order
from engine.execution.working import UnresolvedOrder
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST, MarketCalendar
from engine.service import Service
from engine.settings import FillPrice, PaperSettings
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap

SQUARE_OFF_REASON = "MIS square-off"
STOP_REASON = "engine stopped"
RESTART_REASON = "engine restarted; the paper order did not survive"
ORDER_ID_PREFIX = "P"
_LATENCY_EPSILON = 1e-9  # feed times are floats: 100.2 - 100.0 must count as 0.2 s


class DurableFills(Protocol):
    """Makes a fill (with its order) durable before it is published."""

    async def record(self, order: Event, fill: Event) -> None: ...


class PaperExecution(Service):
    namespace: Namespace

    name = "execution.paper"

    def __init__(
        self,
        bus: Bus,
        settings: PaperSettings,
        charges: ChargeCalculator,
        instruments: InstrumentRegistry,
        clock: Clock,
        calendar: MarketCalendar,
        namespace: Namespace = Namespace.PAPER,
        order_ids: OrderIds | None = None,
    ) -> None:
        if namespace is not Namespace.PAPER:
            raise ValueError(
                f"paper execution runs only in the paper namespace, not {namespace.value!r}: "
                "paper orders must never reach a real broker"
            )
        super().__init__(bus)
        self.namespace = Namespace.PAPER
        self.group = self.name
        self.settings = settings
        self.charges = charges
        self.instruments = instruments
        self.clock = clock
        self.calendar = calendar
        topics = TopicMap(Namespace.PAPER)
        self.topics = topics
        self._placed_topic = topics.orders_placed
        self._filled_topic = topics.orders_filled
        self._failed_topic = topics.orders_failed
        self._cancelled_topic = topics.orders_cancelled
        self._slippage = settings.slippage_bps / 10_000.0
        self._latency_s = settings.latency_ms / 1_000.0
        self._stale_s = settings.stale_quote_s
        self._partial = settings.partial_fills
        self._at_signal = settings.fill_price is FillPrice.SIGNAL_TICK
        self._square_off_time: dtime = settings.square_off_time
        # a replay passes ids that do not depend on the wall clock, so its runs repeat exactly
        self._ids = order_ids if order_ids is not None else OrderIds(ORDER_ID_PREFIX)
        self._pending: dict[int, list[PaperOrder]] = {}  # per instrument, in arrival order
        self._open: dict[str, PaperOrder] = {}
        self._positions: dict[PositionKey, int] = {}
        self._next_square_off = 0.0  # the first tick works out the real cut-off
        self._mis_closed_from = math.inf  # feed-time window in which new MIS orders are refused
        self._mis_closed_until = math.inf
        self._closed_reason = ""  # set by close(): no new order is accepted
        self.durable_fills: DurableFills | None = None  # set by the engine for `[storage] durable_fills`

    # -- wiring ---------------------------------------------------------------
    def wire(self) -> None:
        self.bus.subscribe(
            [self.topics.signals_validated, MARKET_TICKS, CONTROL_COMMANDS], self.group, self._on_event
        )

    async def restore(self, fills: Sequence[OrderFilled]) -> None:
        """Rebuild net positions from this namespace's stored fills (working orders are not kept)."""
        for fill in fills:
            book_fill(self._positions, fill)

    # -- read-only views --------------------------------------------------------
    def positions(self) -> dict[PositionKey, int]:
        """Net quantity per (strategy, instrument, product), open positions only."""
        return {key: qty for key, qty in self._positions.items() if qty}

    def open_orders(self) -> dict[str, int]:
        """Order id -> quantity still to fill, for every working order."""
        return {order_id: order.remaining for order_id, order in self._open.items()}

    # -- dispatch ----------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if type(payload) is MarketTick:
            if payload.exchange_ts >= self._next_square_off:
                await self._square_off_if_due(event, payload)
            orders = self._pending.get(payload.instrument_token)
            if orders is not None:
                await self._match(payload, orders)
            return
        if isinstance(payload, SignalValidated):
            await self._place(event, payload)
        elif isinstance(payload, Command) and payload.action is CommandAction.CANCEL_ORDER:
            await self._cancel_command(event, payload)

    # -- orders ------------------------------------------------------------------
    async def _place(self, event: Event, validated: SignalValidated) -> None:
        signal = validated.signal
        quantity = validated.quantity
        order_id = self._ids.next()
        refusal = self._refusal(signal, quantity)
        if refusal:
            failed = OrderFailed(
                order_id=order_id,
                strategy_id=signal.strategy_id,
                instrument_token=signal.instrument_token,
                side=signal.side,
                quantity=quantity,
                reason=refusal,
            )
            await self.bus.publish(
                self._failed_topic, event.child(failed, source=self.name, key=signal.strategy_id)
            )
            return
        limit = signal.limit_price if signal.order_type is OrderType.LIMIT else None
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id=signal.strategy_id,
            instrument_token=signal.instrument_token,
            side=signal.side,
            quantity=quantity,
            order_type=signal.order_type,
            product=signal.product,
            limit_price=limit,
            placed_ts=self.clock.now(),
        )
        placed_event = event.child(placed, source=self.name, key=signal.strategy_id)
        order = self._track(placed, placed_event, signal.signal_ts or self.clock.now())
        await self.bus.publish(self._placed_topic, placed_event)
        if self._at_signal and signal.reference_price > 0:
            book = Book.at_price(signal.reference_price)
            for qty, price in take(order, book, self._slippage):
                await self._fill(order, qty, price, order.signal_ts)

    def _refusal(self, signal: TradingSignal, quantity: int) -> str:
        """Why the simulated exchange would reject this order; empty if it accepts it."""
        if self._closed_reason:
            return self._closed_reason
        if quantity <= 0:
            return f"quantity must be positive, got {quantity}"
        instrument = self.instruments.get(signal.instrument_token)
        if instrument is None:
            return f"unknown instrument {signal.instrument_token}"
        if not instrument.tradable:
            return f"{instrument.tradingsymbol} is an index and cannot be traded"
        if instrument.lot_size > 1 and quantity % instrument.lot_size:
            return f"quantity {quantity} is not a multiple of the lot size {instrument.lot_size}"
        if signal.order_type in (OrderType.SL, OrderType.SL_M):
            return f"paper trading does not simulate {signal.order_type.value} (stop-loss) orders"
        if signal.product is Product.NRML and not instrument.expiry:
            return "NRML is for derivatives; equity trades MIS or CNC"
        if signal.order_type is OrderType.LIMIT and not (signal.limit_price and signal.limit_price > 0):
            return "a limit order needs a positive limit price"
        if signal.product is Product.CNC and signal.side is Side.SELL:
            free = self._positions.get((signal.strategy_id, signal.instrument_token, Product.CNC), 0)
            free -= sum(
                o.remaining
                for o in self._pending.get(signal.instrument_token, ())
                if o.strategy_id == signal.strategy_id and o.product is Product.CNC and o.side is Side.SELL
            )
            if quantity > free:
                return f"delivery (CNC) cannot sell short: {max(free, 0)} held and not already on sale"
        if signal.product is Product.MIS:
            ts = signal.signal_ts or self.clock.now()
            if self._mis_closed_from <= ts < self._mis_closed_until:
                return (
                    f"MIS orders are not accepted after the "
                    f"{self._square_off_time.strftime('%H:%M')} IST square-off"
                )
        return ""

    def _track(self, placed: OrderPlaced, placed_event: Event, signal_ts: float) -> PaperOrder:
        order = PaperOrder(
            order_id=placed.order_id,
            strategy_id=placed.strategy_id,
            instrument_token=placed.instrument_token,
            side=placed.side,
            quantity=placed.quantity,
            order_type=placed.order_type,
            product=placed.product,
            limit_price=placed.limit_price,
            signal_ts=signal_ts,
            event=placed_event,
        )
        self._open[order.order_id] = order
        self._pending.setdefault(order.instrument_token, []).append(order)
        return order

    def _forget(self, order: PaperOrder) -> None:
        self._open.pop(order.order_id, None)
        orders = self._pending.get(order.instrument_token)
        if orders is None:
            return
        if order in orders:
            orders.remove(order)
        if not orders:
            del self._pending[order.instrument_token]

    # -- fills ---------------------------------------------------------------------
    async def _match(self, tick: MarketTick, orders: list[PaperOrder]) -> None:
        ts = tick.exchange_ts
        if self.clock.now() - ts > self._stale_s:
            return  # a stale quote fills nothing; the orders wait for a fresh one
        latency = self._latency_s - _LATENCY_EPSILON
        asks: Book | None = None
        bids: Book | None = None
        # a fill may cause new orders or cancels (DirectBus runs consumers inline): walk a copy
        for order in tuple(orders):
            if order.remaining <= 0 or ts <= order.signal_ts or ts - order.signal_ts < latency:
                continue
            if order.side is Side.BUY:
                if asks is None:
                    asks = Book.from_depth(tick.asks, tick.last_price, self._partial)
                book = asks
            else:
                if bids is None:
                    bids = Book.from_depth(tick.bids, tick.last_price, self._partial)
                book = bids
            for qty, price in take(order, book, self._slippage):
                await self._fill(order, qty, price, ts)

    async def _fill(self, order: PaperOrder, quantity: int, price: float, fill_ts: float) -> None:
        charges = self.charges.compute(
            order.side, order.product, quantity, price, order_brokerage=order.brokerage_paid
        )
        order.brokerage_paid += charges.brokerage
        order.remaining -= quantity
        order.fills += 1
        fill = OrderFilled(
            order_id=order.order_id,
            trade_id=f"{order.order_id}-{order.fills}",
            strategy_id=order.strategy_id,
            instrument_token=order.instrument_token,
            side=order.side,
            quantity=quantity,
            price=price,
            product=order.product,
            charges=charges,
            remaining_quantity=order.remaining,
            fill_ts=fill_ts,
        )
        book_fill(self._positions, fill)
        if order.remaining <= 0:
            self._forget(order)
        fill_event = order.event.child(fill, source=self.name, key=order.strategy_id)
        if self.durable_fills is not None:
            await self.durable_fills.record(order.event, fill_event)
        await self.bus.publish(self._filled_topic, fill_event)

    # -- cancels -----------------------------------------------------------------------
    async def _cancel_command(self, event: Event, command: Command) -> None:
        order_id = command.target
        if not self._ids.owns(order_id):
            return  # another broker's order
        order = self._open.get(order_id)
        if order is None:
            ok, message = False, f"no working paper order {order_id} (filled, cancelled or unknown)"
        else:
            await self._cancel(order, command.reason or "cancelled on request")
            ok, message = True, f"cancelled {order_id}"
        result = CommandResult(
            command_id=event.id, action=command.action, ok=ok, message=message, service=self.name
        )
        await self.bus.publish(ENGINE_STATUS, event.child(result, source=self.name, key=command.action.value))

    async def cancel(self, order_id: str, reason: str) -> bool:
        order = self._open.get(order_id)
        if order is None:
            return False
        await self._cancel(order, reason)
        return True

    async def cancel_all(self, reason: str) -> int:
        orders = list(self._open.values())
        for order in orders:
            await self._cancel(order, reason)
        return len(orders)

    async def flatten(
        self, reason: str, strategy_id: str | None = None, instrument_token: int | None = None
    ) -> int:
        """Cancel the working orders in scope, then close each open position in it with a MARKET
        order (filled on the next quote like any other), so flattening twice closes once."""

        def in_scope(strategy: str, token: int) -> bool:
            return (strategy_id is None or strategy == strategy_id) and (
                instrument_token is None or token == instrument_token
            )

        for order in [o for o in self._open.values() if in_scope(o.strategy_id, o.instrument_token)]:
            await self._cancel(order, reason)
        placed_count = 0
        for (strategy, token, product), net in list(self._positions.items()):
            if not net or not in_scope(strategy, token):
                continue
            placed = closing_order(self._ids.next(), (strategy, token, product), net, self.clock.now())
            placed_event = make_event(
                placed, namespace=Namespace.PAPER, source=f"{self.name}:flatten", key=strategy
            )
            self._track(placed, placed_event, self.clock.now())
            await self.bus.publish(self._placed_topic, placed_event)
            placed_count += 1
        return placed_count

    async def _cancel(self, order: PaperOrder, reason: str) -> None:
        self._forget(order)
        cancelled = _cancellation(order, order.remaining, reason)
        await self.bus.publish(
            self._cancelled_topic, order.event.child(cancelled, source=self.name, key=order.strategy_id)
        )

    # -- engine stop and restart ----------------------------------------------------------
    async def close(self, reason: str = STOP_REASON) -> int:
        """Cancel every working order (filled in part or not at all) and accept no new one.

        The engine calls this when it stops, after the last queued signal was handled:
        a paper order does not outlive the process. Returns how many were cancelled.
        """
        self._closed_reason = reason
        orders = list(self._open.values())
        for order in orders:
            await self._cancel(order, reason)
        return len(orders)

    async def cancel_unresolved(self, orders: Iterable[UnresolvedOrder], reason: str = RESTART_REASON) -> int:
        """Cancel orders storage holds as working from an earlier run (one that crashed).

        Nothing will ever fill them: the process that simulated them is gone. Each
        cancel is in the order's lineage (its correlation id). Returns how many.
        """
        count = 0
        for stored in orders:
            placed = stored.order
            if not self._ids.owns(placed.order_id) or placed.order_id in self._open:
                continue
            event = Event(
                type=EventType.ORDER_CANCELLED,
                payload=_cancellation(placed, stored.remaining, reason),
                namespace=self.namespace,
                source=self.name,
                key=placed.strategy_id,
                correlation_id=stored.correlation_id,
            )
            await self.bus.publish(self._cancelled_topic, event)
            count += 1
        return count

    # -- MIS square-off ---------------------------------------------------------------
    def _cutoff(self, day: date) -> float:
        return datetime.combine(day, self._square_off_time, IST).timestamp()

    async def _square_off_if_due(self, tick_event: Event, tick: MarketTick) -> None:
        """Runs once per IST day: on the first tick at or after the cut-off."""
        ts = tick.exchange_ts
        day = self.calendar.ist(ts).date()
        cutoff = self._cutoff(day)
        if ts < cutoff:
            self._next_square_off = cutoff
            return
        next_day = day + timedelta(days=1)
        self._next_square_off = self._cutoff(next_day)
        self._mis_closed_from = cutoff
        self._mis_closed_until = datetime.combine(next_day, dtime(0, 0), IST).timestamp()
        await self._square_off(tick_event, ts)

    async def _square_off(self, tick_event: Event, ts: float) -> None:
        for order in [o for o in self._open.values() if o.product is Product.MIS]:
            await self._cancel(order, SQUARE_OFF_REASON)
        for (strategy_id, token, product), net in list(self._positions.items()):
            if product is not Product.MIS or not net:
                continue
            placed = OrderPlaced(
                order_id=self._ids.next(),
                strategy_id=strategy_id,
                instrument_token=token,
                side=Side.SELL if net > 0 else Side.BUY,
                quantity=abs(net),
                order_type=OrderType.MARKET,
                product=Product.MIS,
                placed_ts=self.clock.now(),
            )
            placed_event = tick_event.child(
                placed, source=f"{self.name}:square-off", key=strategy_id, namespace=Namespace.PAPER
            )
            self._track(placed, placed_event, ts)
            await self.bus.publish(self._placed_topic, placed_event)


def _cancellation(order: PaperOrder | OrderPlaced, unfilled: int, reason: str) -> OrderCancelled:
    return OrderCancelled(
        order_id=order.order_id,
        strategy_id=order.strategy_id,
        instrument_token=order.instrument_token,
        unfilled_quantity=unfilled,
        reason=reason,
        side=order.side,
    )

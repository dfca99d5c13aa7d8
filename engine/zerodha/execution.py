"""Live orders at Zerodha: validated signals of the zerodha namespace become Kite orders.

Never twice. Our order id travels as the Kite `tag`. The intent is written to
`live_orders` before the place call; a call that ends ambiguously (a time-out,
a 5xx, a dropped connection) is resolved by looking the tag up in Kite's order
book before anything is retried, and an intent a crash left without Kite's
answer is resolved the same way when the engine starts.

Never missed. Order updates come from the ticker socket (`on_order_update`,
checksum checked); while the socket is down, and once when it is back, the
open orders are read from `GET /orders` instead. Fills are Kite's trades
(`GET /orders/{id}/trades`), each booked once by its trade id.

Events are the paper broker's: OrderPlaced when Kite has the order,
OrderFilled per trade, OrderCancelled, OrderFailed (Kite's reason), on the
zerodha topics, so storage and the portfolio need nothing else. Order calls
queue for the shared rate limiter instead of meeting a 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from engine.bus.base import Bus
from engine.clock import Clock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Payload,
    Product,
    Side,
    SignalValidated,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.execution.positions import PositionKey, book_fill, closing_order
from engine.execution.working import UnresolvedOrder
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.calendar import IST
from engine.service import Service
from engine.settings import ZerodhaSettings
from engine.storage.audit import AuditLog
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, TopicMap
from engine.zerodha.errors import BrokerError, SendBlocked, SessionExpired
from engine.zerodha.order_checks import OrderRefused, check_order, slices
from engine.zerodha.order_ids import LiveOrderIds
from engine.zerodha.order_store import LiveOrder, LiveOrderStore, LiveState
from engine.zerodha.order_updates import checksum_ok, order_tag, state_of
from engine.zerodha.rate_limit import OrderCapReached, RateClass

if TYPE_CHECKING:
    from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)

VARIETY = "regular"
PLACE_ATTEMPTS = 2  # a place Kite shows no trace of after an ambiguous failure is sent once more
STOP_REASON = "engine stopped"
STOP_UPDATES_TIMEOUT_S = 2.0
FLATTEN_STRATEGY = "flatten"  # owner of the orders that close positions no strategy of ours holds
ADOPTED_STRATEGY = "adopted"  # owner of the Kite orders we did not place
ADOPTED_PREFIX = "K"  # an adopted order's id: K + Kite's order id
AUDIT_ACTOR = "engine"


def ambiguous(exc: BrokerError) -> bool:
    """True if Kite may have carried the call out: no answer, a time-out, a 5xx, a garbled reply."""
    if isinstance(exc, SessionExpired | OrderCapReached | SendBlocked):
        return False
    return exc.status is None or exc.status >= 500


def _failure(order: LiveOrder, reason: str) -> OrderFailed:
    return OrderFailed(
        order_id=order.order_id,
        strategy_id=order.strategy_id,
        instrument_token=order.instrument_token,
        side=order.side,
        quantity=order.quantity,
        reason=reason,
    )


def _snapshot(order: LiveOrder) -> tuple[Any, ...]:
    """What an order's row is written again for (Kite's interim statuses alone are not)."""
    return (
        order.state,
        order.filled_quantity,
        order.quantity,
        order.limit_price,
        order.trigger_price,
    )


def kite_ts(value: Any) -> float:
    """A Kite timestamp (the client's naive datetime, or Kite's text), IST, as epoch seconds."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=IST)).timestamp()
    return 0.0


class ZerodhaExecution(Service):
    namespace: Namespace
    name = "execution.zerodha"

    def __init__(
        self,
        bus: Bus,
        kite: KiteRest,
        store: LiveOrderStore,
        instruments: InstrumentRegistry,
        clock: Clock,
        settings: ZerodhaSettings,
        charges: ChargeCalculator,
        *,
        audit: AuditLog | None = None,
        order_ids: LiveOrderIds | None = None,
        socket_up: Callable[[], bool] | None = None,
        may_open: Callable[[], str | None] | None = None,
        may_close: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(bus)
        self.namespace = Namespace.ZERODHA
        self.group = self.name
        self.kite = kite
        self.store = store
        self.instruments = instruments
        self.clock = clock
        self.settings = settings
        self.charges = charges
        self.audit = audit
        self.ids = order_ids or LiveOrderIds()
        self.socket_up = socket_up or (lambda: False)
        # why a new order (may_open) or a closing one from flatten (may_close) must not go out now;
        # asked when the signal arrives and again just before each place call
        self.may_open = may_open or (lambda: None)
        self.may_close = may_close or (lambda: None)
        self._closing: set[str] = set()  # flatten's orders: closing positions passes the kill switch
        self.topics = TopicMap(Namespace.ZERODHA)
        self._secret = settings.api_secret.get_secret_value() if settings.api_secret is not None else ""
        self._orders: dict[str, LiveOrder] = {}
        self._by_broker_id: dict[str, str] = {}
        self._parents: dict[str, Event] = {}  # order id -> its OrderPlaced event (published at Kite's ack)
        self._announced: set[str] = set()  # orders whose OrderPlaced went out
        self._locks: dict[str, asyncio.Lock] = {}
        self._cancel_reasons: dict[str, str] = {}
        self._trades: set[str] = set()
        self._brokerage: dict[str, float] = {}
        self._booked_quantity: dict[str, int] = {}  # order id -> the quantity its stored fills book
        self._positions: dict[PositionKey, int] = {}
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._poll_now = asyncio.Event()
        self._closed_reason = ""
        self.bad_checksums = 0
        self.updates_applied = 0
        self.polls = 0

    # -- wiring and lifecycle ---------------------------------------------------------
    def wire(self) -> None:
        self.bus.subscribe(
            [self.topics.signals_validated, self.topics.orders_filled, CONTROL_COMMANDS],
            self.group,
            self._on_event,
        )

    async def restore(self, fills: Sequence[OrderFilled]) -> None:
        """Trades already booked (never booked again), what each order has booked, and each
        strategy's live position."""
        for fill in fills:
            self._trades.add(fill.trade_id)
            self._booked_quantity[fill.order_id] = self._booked_quantity.get(fill.order_id, 0) + fill.quantity
            self._brokerage[fill.order_id] = self._brokerage.get(fill.order_id, 0.0) + fill.charges.brokerage
            book_fill(self._positions, fill)

    async def start(self) -> None:
        await self.announce_unstored()
        await self.resolve_unfinished()
        self._loops = [
            asyncio.create_task(self._consume_updates(), name="zerodha-order-updates"),
            asyncio.create_task(self._poll_forever(), name="zerodha-order-poll"),
        ]

    async def stop(self) -> None:
        await self.close(STOP_REASON)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self.settings.rest_timeout_s * 2)
        if self._loops:  # the updates already received are applied (and written down) first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._updates.join(), STOP_UPDATES_TIMEOUT_S)
        loops, self._loops = self._loops, []
        for task in loops:
            task.cancel()
        for task in loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self, reason: str = STOP_REASON) -> int:
        """Accept no new order. Live orders stay at Kite (a restart tracks them again): returns 0."""
        self._closed_reason = reason
        return 0

    # -- read-only views ---------------------------------------------------------------
    def open_orders(self) -> dict[str, int]:
        return {oid: o.remaining for oid, o in self._orders.items() if not o.state.final}

    def order(self, order_id: str) -> LiveOrder | None:
        return self._orders.get(order_id)

    def positions(self) -> dict[PositionKey, int]:
        return {key: qty for key, qty in self._positions.items() if qty}

    @property
    def queued(self) -> int:
        """Order calls waiting for the rate limiter now."""
        return self.kite.limiter.waiting[RateClass.ORDERS]

    async def idle(self) -> None:
        """Wait until every send, cancel and update handed in so far is done (for tests and stop)."""
        while self._tasks or not self._updates.empty():
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            else:
                await asyncio.sleep(0.001)
            await self._updates.join()

    # -- bus events ----------------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, SignalValidated):
            await self._on_signal(event, payload)
        elif isinstance(payload, Command) and payload.action is CommandAction.CANCEL_ORDER:
            await self._cancel_command(event, payload)
        elif isinstance(payload, OrderFilled) and event.source != self.name:
            self._booked_elsewhere(payload)

    def _booked_elsewhere(self, fill: OrderFilled) -> None:
        """A Kite trade booked by someone else (reconciliation): never booked here again."""
        if fill.trade_id not in self._trades:
            self._trades.add(fill.trade_id)
            book_fill(self._positions, fill)

    async def _on_signal(self, event: Event, validated: SignalValidated) -> None:
        signal = validated.signal
        instrument = self.instruments.get(signal.instrument_token)
        limit = signal.limit_price if signal.order_type in (OrderType.LIMIT, OrderType.SL) else None
        trigger = signal.trigger_price if signal.order_type in (OrderType.SL, OrderType.SL_M) else None
        try:
            if self._closed_reason:
                raise OrderRefused(self._closed_reason)
            if (blocked := self.may_open()) is not None:
                raise OrderRefused(f"not sent: {blocked}")
            if instrument is None:
                raise OrderRefused(f"unknown instrument {signal.instrument_token}")
            check_order(instrument, validated.quantity, signal.order_type, signal.product, limit, trigger)
            quantities = slices(
                instrument,
                validated.quantity,
                self.settings.freeze_quantities,
                allow=self.settings.slice_above_freeze,
            )
        except OrderRefused as refused:
            failed = OrderFailed(
                order_id=self.ids.next(),
                strategy_id=signal.strategy_id,
                instrument_token=signal.instrument_token,
                side=signal.side,
                quantity=validated.quantity,
                reason=str(refused),
            )
            await self._publish(
                self.topics.orders_failed, event.child(failed, source=self.name, key=signal.strategy_id)
            )
            return
        for quantity in quantities:
            placed = OrderPlaced(
                order_id=self.ids.next(),
                strategy_id=signal.strategy_id,
                instrument_token=signal.instrument_token,
                side=signal.side,
                quantity=quantity,
                order_type=signal.order_type,
                product=signal.product,
                limit_price=limit,
                placed_ts=self.clock.now(),
                trigger_price=trigger,
            )
            await self._submit(instrument, event.child(placed, source=self.name, key=signal.strategy_id))

    # -- placing -------------------------------------------------------------------------
    async def _submit(self, instrument: Instrument, placed_event: Event) -> LiveOrder | None:
        """Write the intent, then send it (in its own task, queued by the rate limiter)."""
        placed = placed_event.payload
        assert isinstance(placed, OrderPlaced)
        order = LiveOrder(
            order_id=placed.order_id,
            strategy_id=placed.strategy_id,
            instrument_token=placed.instrument_token,
            exchange=instrument.exchange,
            tradingsymbol=instrument.tradingsymbol,
            side=placed.side,
            quantity=placed.quantity,
            order_type=placed.order_type,
            product=placed.product,
            limit_price=placed.limit_price,
            trigger_price=placed.trigger_price,
            correlation_id=placed_event.correlation_id,
            placed_event_id=placed_event.id,
        )
        try:
            await self.store.insert(order)
        except Exception as exc:  # not written down: not sent (it could not be resolved after a crash)
            log.exception("live order %s could not be written down; not sent", order.order_id)
            reason = f"not sent: the order could not be written to the database first ({type(exc).__name__})"
            await self._publish(
                self.topics.orders_failed,
                placed_event.child(_failure(order, reason), source=self.name, key=order.strategy_id),
            )
            return None
        self._track(order)
        self._parents[order.order_id] = placed_event
        self._spawn(self._send(order))
        return order

    def _track(self, order: LiveOrder) -> None:
        self._orders[order.order_id] = order
        if order.broker_order_id:
            self._by_broker_id[order.broker_order_id] = order.order_id

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live order task failed", exc_info=task.exception())

    def _place_params(self, order: LiveOrder) -> dict[str, Any]:
        params: dict[str, Any] = {
            "variety": VARIETY,
            "exchange": order.exchange,
            "tradingsymbol": order.tradingsymbol,
            "transaction_type": order.side.value,
            "quantity": order.quantity,
            "product": order.product.value,
            "order_type": order.order_type.value,
            "validity": "DAY",
            "tag": order.order_id,
        }
        if order.limit_price is not None:
            params["price"] = order.limit_price
        if order.trigger_price is not None:
            params["trigger_price"] = order.trigger_price
        if order.order_type in (OrderType.MARKET, OrderType.SL_M):
            params["market_protection"] = self._protection()
        return params

    async def _send(self, order: LiveOrder) -> None:
        for attempt in range(1, PLACE_ATTEMPTS + 1):
            try:
                guard = self.may_close if order.order_id in self._closing else self.may_open
                params = self._place_params(order)
                broker_id = str(await self.kite.call("place_order", guard=guard, **params))
            except BrokerError as exc:
                if not ambiguous(exc):
                    await self._refused(order, exc.message)
                    return
                log.warning(
                    "live order %s: %s; looking it up by its tag before anything else", order.order_id, exc
                )
                found = await self._find_by_tag(order.order_id)
                if found is not None:
                    await self.apply(found)
                    return
                if attempt == PLACE_ATTEMPTS:
                    await self._refused(
                        order,
                        f"Kite gave no clear answer ({exc.message}) and has no order tagged "
                        f"{order.order_id}: not placed",
                    )
                    return
                continue
            await self._acked(order, broker_id)
            return

    async def _find_by_tag(self, tag: str) -> dict[str, Any] | None:
        """Kite's order row carrying our tag, read a few times (a late order shows up a little later)."""
        for attempt in range(self.settings.order_lookup_attempts):
            if attempt:
                await asyncio.sleep(self.settings.order_lookup_delay_s)
            try:
                rows = await self.kite.call("orders")
            except BrokerError as exc:
                log.warning("reading Kite's order book to find %s failed: %s", tag, exc.message)
                continue
            for row in rows or ():
                if isinstance(row, dict) and order_tag(row) == tag:
                    return row
        return None

    async def _acked(self, order: LiveOrder, broker_id: str) -> None:
        async with self._lock(order.order_id):
            await self._announce(order, broker_id)
        reason = self._cancel_reasons.get(order.order_id)
        if reason is not None and not order.state.final:
            await self._cancel_at_kite(order, reason)

    async def _announce(self, order: LiveOrder, broker_id: str) -> None:
        """Kite has the order: publish OrderPlaced (once), then write down Kite's id (call with its
        lock). The id is written after the event: a crash in between is resolved by the tag."""
        if order.broker_order_id:
            return
        order.broker_order_id = broker_id
        self._by_broker_id[broker_id] = order.order_id
        if order.state is LiveState.SENDING:
            order.state = LiveState.PENDING
        if order.order_id not in self._announced:
            self._announced.add(order.order_id)
            parent = self._parents.get(order.order_id)
            if parent is None:  # sent by a run that crashed before Kite answered
                parent = self._placed_event(order)
                self._parents[order.order_id] = parent
            await self._publish(self.topics.orders_placed, parent)
        await self.store.save(order)
        await self._audit("placed", order, f"Kite order {broker_id}")

    async def _refused(self, order: LiveOrder, reason: str) -> None:
        async with self._lock(order.order_id):
            order.state = LiveState.FAILED
            order.status_message = reason
            await self.store.save(order)
            await self._publish(self.topics.orders_failed, self._child(order, _failure(order, reason)))
        await self._audit("place_failed", order, reason)

    # -- updates from Kite ------------------------------------------------------------------
    def on_order_update(self, update: dict[str, Any]) -> None:
        """An order update from the ticker socket (its `data`); handled in arrival order."""
        self._updates.put_nowait(update)

    async def _consume_updates(self) -> None:
        while True:
            update = await self._updates.get()
            try:
                if not checksum_ok(update, self._secret):
                    self.bad_checksums += 1
                    if self.bad_checksums == 1 or self.bad_checksums % 100 == 0:
                        log.warning(
                            "order update with a wrong checksum ignored (%d so far); reading Kite instead",
                            self.bad_checksums,
                        )
                    self._poll_now.set()
                    continue
                await self.apply(update)
            except Exception:
                log.exception("an order update could not be applied; reading Kite instead")
                self._poll_now.set()
            finally:
                self._updates.task_done()

    async def apply(self, row: dict[str, Any]) -> None:
        """Bring one of our orders up to Kite's row (an update or a row of the order book)."""
        order = self._order_for(row)
        if order is None:
            return  # not ours: reconciliation adopts it
        async with self._lock(order.order_id):
            broker_id = str(row.get("order_id") or "")
            if broker_id and not order.broker_order_id:
                await self._announce(order, broker_id)
            if order.state.final:
                return
            self.updates_applied += 1
            before = _snapshot(order)
            status = str(row.get("status") or "")
            state = state_of(status)
            filled = int(row.get("filled_quantity") or 0)
            self._follow_modification(order, row)
            if filled > order.filled_quantity or (state is LiveState.COMPLETE and order.remaining):
                await self._book_trades(order)
            if state is LiveState.COMPLETE and order.remaining:
                state = LiveState.OPEN  # Kite's trades lag its status: booked on the next read
                self._poll_now.set()
            order.broker_status = status
            order.status_message = str(row.get("status_message") or "")
            if state is LiveState.CANCELLED:
                await self._publish_cancelled(order)
            elif state is LiveState.REJECTED:
                reason = order.status_message or "rejected by Kite"
                await self._publish(self.topics.orders_failed, self._child(order, _failure(order, reason)))
            order.state = state
            if _snapshot(order) != before:
                await self.store.save(order)

    def _order_for(self, row: dict[str, Any]) -> LiveOrder | None:
        tag = order_tag(row)
        order = self._orders.get(tag) if tag else None
        if order is None:
            our_id = self._by_broker_id.get(str(row.get("order_id") or ""))
            order = self._orders.get(our_id) if our_id else None
        return order

    @staticmethod
    def _follow_modification(order: LiveOrder, row: dict[str, Any]) -> None:
        quantity = row.get("quantity")
        if isinstance(quantity, int) and quantity > 0:
            order.quantity = quantity
        price = row.get("price")
        if (
            order.order_type in (OrderType.LIMIT, OrderType.SL)
            and isinstance(price, int | float)
            and price > 0
        ):
            order.limit_price = float(price)
        trigger = row.get("trigger_price")
        if order.trigger_price is not None and isinstance(trigger, int | float) and trigger > 0:
            order.trigger_price = float(trigger)

    async def _book_trades(self, order: LiveOrder) -> None:
        """Publish each of the order's Kite trades not booked yet (call with the order's lock)."""
        try:
            trades = await self.kite.call("order_trades", order.broker_order_id)
        except BrokerError as exc:
            log.warning("reading the trades of live order %s failed: %s", order.order_id, exc.message)
            self._poll_now.set()
            return
        for trade in sorted(trades or (), key=lambda t: str(t.get("trade_id"))):
            trade_id = str(trade.get("trade_id") or "")
            quantity = int(trade.get("quantity") or 0)
            if not trade_id or quantity <= 0 or trade_id in self._trades:
                continue
            self._trades.add(trade_id)
            price = float(trade.get("average_price") or 0.0)
            paid = self._brokerage.get(order.order_id, 0.0)
            charges = self.charges.compute(order.side, order.product, quantity, price, order_brokerage=paid)
            self._brokerage[order.order_id] = paid + charges.brokerage
            order.filled_quantity += quantity
            fill = OrderFilled(
                order_id=order.order_id,
                trade_id=trade_id,
                strategy_id=order.strategy_id,
                instrument_token=order.instrument_token,
                side=order.side,
                quantity=quantity,
                price=price,
                product=order.product,
                charges=charges,
                remaining_quantity=order.remaining,
                fill_ts=kite_ts(trade.get("fill_timestamp")) or self.clock.now(),
            )
            book_fill(self._positions, fill)
            await self._publish(self.topics.orders_filled, self._child(order, fill))

    async def _publish_cancelled(self, order: LiveOrder) -> None:
        reason = self._cancel_reasons.pop(order.order_id, "") or order.status_message or "cancelled at Kite"
        cancelled = OrderCancelled(
            order_id=order.order_id,
            strategy_id=order.strategy_id,
            instrument_token=order.instrument_token,
            unfilled_quantity=order.remaining,
            reason=reason,
            side=order.side,
        )
        await self._publish(self.topics.orders_cancelled, self._child(order, cancelled))

    # -- polling, the socket's stand-in ------------------------------------------------------
    async def poll(self) -> int:
        """Read Kite's order book once and apply the rows of our unfinished orders; returns them."""
        self.polls += 1
        try:
            rows = await self.kite.call("orders")
        except BrokerError as exc:
            log.warning("reading Kite's order book failed: %s", exc.message)
            return 0
        applied = 0
        for row in rows or ():
            order = self._order_for(row) if isinstance(row, dict) else None
            if order is not None and not order.state.final:
                await self.apply(row)
                applied += 1
        return applied

    async def _poll_forever(self) -> None:
        was_up = True
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_now.wait(), self.settings.order_poll_s)
            asked = self._poll_now.is_set()
            self._poll_now.clear()
            up = self.socket_up()
            # while the socket is down, and once when it is back (what it missed meanwhile)
            if self._has_open_orders() and (asked or not up or not was_up):
                try:
                    await self.poll()
                except Exception:
                    log.exception("polling Kite's order book failed")
            was_up = up

    def _has_open_orders(self) -> bool:
        return any(not o.state.final and o.state is not LiveState.SENDING for o in self._orders.values())

    # -- after a restart ------------------------------------------------------------------------
    async def resolve_unfinished(self) -> int:
        """Take up the orders an earlier run left unfinished; an intent without Kite's answer is
        looked up by its tag (found: tracked; not there: failed, never re-sent). Returns how many."""
        stored = await self.store.unresolved()
        if not stored:
            return 0
        try:
            rows = await self.kite.call("orders")
        except BrokerError as exc:
            log.error("cannot read Kite's order book to resolve %d live orders: %s", len(stored), exc.message)
            rows = None
        by_tag = {order_tag(r): r for r in rows or () if isinstance(r, dict) and order_tag(r)}
        for order in stored:
            # what its stored fills book, not what the row says: a crash can lose a fill the
            # row counted, and only a quantity short of Kite's makes its trades be read again
            order.filled_quantity = self._booked_quantity.get(order.order_id, 0)
            self._track(order)
            if order.broker_order_id or order.state is not LiveState.SENDING:
                self._announced.add(order.order_id)  # its OrderPlaced went out in the earlier run
            row = by_tag.get(order.order_id)
            if row is not None:
                await self.apply(row)
            elif order.state is LiveState.SENDING and rows is not None:
                await self._refused(
                    order,
                    f"the engine stopped before Kite answered, and Kite has no order tagged {order.order_id}",
                )
        return len(stored)

    async def unstored_intent(self) -> list[UnresolvedOrder]:
        """The orders of an earlier run that storage does not have (sent but unanswered, or
        announced but lost in a crash), as what each stands for in its strategy's position at a
        restart: the whole order while it may work, what filled once it ended. A sent one Kite
        does not have fails at start, and its OrderFailed takes it back."""
        intent = []
        for order in await self.store.unstored():
            quantity = order.filled_quantity if order.state.final else order.quantity
            if quantity:
                placed = msgspec.structs.replace(self._placed_event(order).payload, quantity=quantity)
                assert isinstance(placed, OrderPlaced)
                intent.append(UnresolvedOrder(placed, filled_quantity=0, correlation_id=order.correlation_id))
        return intent

    async def announce_unstored(self) -> int:
        """Publish again each OrderPlaced an earlier run sent whose storage a crash lost (its
        `live_orders` row has Kite's id, the `orders` table has no row), with the event id and
        lineage it had, so its fills and end are booked on it. Returns how many."""
        lost = [order for order in await self.store.unstored() if order.broker_order_id]
        for order in lost:
            self._announced.add(order.order_id)
            await self._publish(self.topics.orders_placed, self._placed_event(order))
        if lost:
            log.warning(
                "%d live orders placed by an earlier run were not stored; announced again: %s",
                len(lost),
                ", ".join(order.order_id for order in lost),
            )
        return len(lost)

    # -- orders we did not place -----------------------------------------------------------------
    async def adopt(self, row: dict[str, Any], strategy_id: str = ADOPTED_STRATEGY) -> LiveOrder | None:
        """Take up a Kite order we have no record of (placed by hand, or by another app): written
        to `live_orders` flagged adopted, announced with an OrderPlaced, then followed like our own
        (its fills booked once, cancelled by `cancel_all`). Reconciliation calls this for unknown
        orders and `apply` for ours, so every trade is booked here, once. None if it is already
        tracked or cannot be read (an unknown instrument, product or order type)."""
        if self._order_for(row) is not None:
            return None
        tag, broker_id = order_tag(row), str(row.get("order_id") or "")
        ours = LiveOrderIds.owns(tag) and await self.store.get(tag) is None
        try:
            instrument = self.instruments.get(int(row["instrument_token"]))
            order = LiveOrder(
                order_id=tag if ours else f"{ADOPTED_PREFIX}{broker_id}",
                strategy_id=strategy_id,
                instrument_token=int(row["instrument_token"]),
                exchange=str(row["exchange"]),
                tradingsymbol=str(row["tradingsymbol"]),
                side=Side(row["transaction_type"]),
                quantity=int(row["quantity"]),
                order_type=OrderType(row["order_type"]),
                product=Product(row["product"]),
                limit_price=float(row["price"]) if row.get("price") else None,
                trigger_price=float(row["trigger_price"]) if row.get("trigger_price") else None,
                state=LiveState.PENDING,
                adopted=True,
            )
        except (KeyError, ValueError, TypeError) as exc:
            log.error("cannot adopt Kite order %s: %s", broker_id, exc)
            return None
        if instrument is None or not broker_id:
            log.error("cannot adopt Kite order %s: unknown instrument or no order id", broker_id)
            return None
        await self.store.insert(order)
        self._track(order)
        async with self._lock(order.order_id):
            await self._announce(order, broker_id)
        await self.apply(row)
        await self._audit("adopted", order, f"Kite order {broker_id} ({row.get('tag') or 'no tag'})")
        return order

    def booked(self, trade_id: str) -> bool:
        """True if this Kite trade was booked (now or in an earlier run)."""
        return trade_id in self._trades

    # -- cancel, modify, flatten --------------------------------------------------------------
    async def cancel(self, order_id: str, reason: str) -> bool:
        order = self._orders.get(order_id)
        if order is None or order.state.final:
            return False
        self._cancel_reasons[order_id] = reason
        if not order.broker_order_id:
            return True  # cancelled as soon as Kite answers the place call
        return await self._cancel_at_kite(order, reason)

    async def _cancel_at_kite(self, order: LiveOrder, reason: str) -> bool:
        try:
            await self.kite.call("cancel_order", variety=VARIETY, order_id=order.broker_order_id)
        except BrokerError as exc:
            if ambiguous(exc):
                self._poll_now.set()  # whether it went through, the order book says
            log.warning("cancelling live order %s failed: %s", order.order_id, exc.message)
            await self._audit("cancel_failed", order, exc.message)
            return False
        await self._audit("cancel", order, reason)
        return True

    async def cancel_all(self, reason: str) -> int:
        """Cancel every unfinished live order at once (the limiter spaces the calls)."""
        working = [oid for oid, o in self._orders.items() if not o.state.final]
        results = await asyncio.gather(*(self.cancel(oid, reason) for oid in working))
        return sum(results)

    async def modify(
        self,
        order_id: str,
        *,
        quantity: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: OrderType | None = None,
    ) -> bool:
        """Change a working order at Kite; raises `OrderRefused` for a change Kite would refuse."""
        order = self._orders.get(order_id)
        if order is None or order.state.final or not order.broker_order_id:
            return False
        instrument = self.instruments.get(order.instrument_token)
        new_type = order_type or order.order_type
        if instrument is not None:
            check_order(
                instrument,
                quantity or order.quantity,
                new_type,
                order.product,
                price if price is not None else order.limit_price,
                trigger_price if trigger_price is not None else order.trigger_price,
            )
        fields: dict[str, Any] = {"quantity": quantity, "price": price, "trigger_price": trigger_price}
        if order_type is not None:
            fields["order_type"] = order_type.value
        if new_type in (OrderType.MARKET, OrderType.SL_M) and order_type is not None:
            fields["market_protection"] = self._protection()
        changes = {k: v for k, v in fields.items() if v is not None}
        try:
            await self.kite.call("modify_order", variety=VARIETY, order_id=order.broker_order_id, **changes)
        except BrokerError as exc:
            if ambiguous(exc):
                self._poll_now.set()
            log.warning("modifying live order %s failed: %s", order_id, exc.message)
            await self._audit("modify_failed", order, exc.message)
            return False
        if order_type is not None:
            order.order_type = order_type
        await self._audit("modified", order, ", ".join(f"{k}={v}" for k, v in changes.items()))
        return True

    async def flatten(
        self, reason: str, strategy_id: str | None = None, instrument_token: int | None = None
    ) -> int:
        """Cancel the unfinished orders in scope, then close the positions in scope with MARKET
        orders: each strategy's own, and (for no strategy filter) what else Kite shows open."""

        def in_scope(strategy: str, token: int) -> bool:
            return (strategy_id is None or strategy == strategy_id) and (
                instrument_token is None or token == instrument_token
            )

        working = [
            o.order_id
            for o in self._orders.values()
            if not o.state.final and in_scope(o.strategy_id, o.instrument_token)
        ]
        await asyncio.gather(*(self.cancel(oid, reason) for oid in working))
        closing: dict[PositionKey, int] = {
            key: -net for key, net in self._positions.items() if net and in_scope(key[0], key[1])
        }
        if strategy_id is None:
            for (token, product), net in (await self._broker_positions()).items():
                if instrument_token is not None and token != instrument_token:
                    continue
                ours = sum(n for (_, t, p), n in self._positions.items() if t == token and p is product)
                if net != ours:
                    closing[(FLATTEN_STRATEGY, token, product)] = ours - net
        placed = 0
        for (strategy, token, product), quantity in closing.items():
            instrument = self.instruments.get(token)
            if instrument is None or not quantity:
                log.error("cannot flatten %s %d: unknown instrument", strategy, token)
                continue
            # `quantity` is what to buy (+) or sell (-) to be flat: a position of -quantity
            order = closing_order(self.ids.next(), (strategy, token, product), -quantity, self.clock.now())
            event = make_event(
                order, namespace=Namespace.ZERODHA, source=f"{self.name}:flatten", key=strategy
            )
            self._closing.add(order.order_id)
            live = await self._submit(instrument, event)
            if live is not None:
                await self._audit("flatten", live, reason)
                placed += 1
        return placed

    async def _broker_positions(self) -> dict[tuple[int, Product], int]:
        try:
            data = await self.kite.call("positions")
        except BrokerError as exc:
            log.error("reading Kite's positions to flatten failed: %s", exc.message)
            return {}
        net: dict[tuple[int, Product], int] = {}
        for row in (data or {}).get("net", ()):
            try:
                key = (int(row["instrument_token"]), Product(row["product"]))
            except (KeyError, ValueError, TypeError):
                continue
            net[key] = net.get(key, 0) + int(row.get("quantity") or 0)
        return net

    async def _cancel_command(self, event: Event, command: Command) -> None:
        order_id = command.target
        if not LiveOrderIds.owns(order_id):
            return  # another broker's order
        ok = await self.cancel(order_id, command.reason or "cancelled on request")
        message = f"cancel of {order_id} sent to Kite" if ok else f"no working live order {order_id}"
        result = CommandResult(
            command_id=event.id, action=command.action, ok=ok, message=message, service=self.name
        )
        await self.bus.publish(ENGINE_STATUS, event.child(result, source=self.name, key=command.action.value))

    # -- helpers ---------------------------------------------------------------------------------
    def _protection(self) -> int | float:
        """`market_protection` as Kite documents it: -1 (automatic) or a percentage, whole if it is."""
        value = self.settings.market_protection
        return int(value) if value.is_integer() else value

    def _lock(self, order_id: str) -> asyncio.Lock:
        lock = self._locks.get(order_id)
        if lock is None:
            lock = self._locks[order_id] = asyncio.Lock()
        return lock

    def _child(self, order: LiveOrder, payload: Payload) -> Event:
        parent = self._parents.get(order.order_id)
        if parent is not None:
            return parent.child(payload, source=self.name, key=order.strategy_id)
        restored = make_event(payload, namespace=Namespace.ZERODHA, source=self.name, key=order.strategy_id)
        if not order.correlation_id:
            return restored
        # an order taken up after a restart: its events stay in the lineage of the signal that made it
        return msgspec.structs.replace(
            restored, correlation_id=order.correlation_id, causation_id=order.placed_event_id
        )

    def _placed_event(self, order: LiveOrder) -> Event:
        """The OrderPlaced an earlier run meant to publish, with the id and lineage it wrote down."""
        placed = OrderPlaced(
            order_id=order.order_id,
            strategy_id=order.strategy_id,
            instrument_token=order.instrument_token,
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type,
            product=order.product,
            limit_price=order.limit_price,
            placed_ts=order.created_ts,
            trigger_price=order.trigger_price,
        )
        event = make_event(placed, namespace=Namespace.ZERODHA, source=self.name, key=order.strategy_id)
        if not order.placed_event_id:
            return event
        return msgspec.structs.replace(
            event, id=order.placed_event_id, correlation_id=order.correlation_id or order.placed_event_id
        )

    async def _publish(self, topic: str, event: Event) -> None:
        await self.bus.publish(topic, event)

    async def _audit(self, action: str, order: LiveOrder, detail: str) -> None:
        if self.audit is None:
            return
        actor = f"strategy:{order.strategy_id}" if action in ("placed", "place_failed") else AUDIT_ACTOR
        try:
            await self.audit.record(actor, action, subject=order.order_id, detail=detail)
        except Exception:
            log.exception("could not audit %s of %s", action, order.order_id)

"""Reconciliation: Kite's orders, trades and positions against ours, on start, after every ticker
reconnect and every `zerodha.reconcile_interval_s`.

What it finds, it acts on, on the zerodha topics, so storage, the portfolio and risk see
it like any other order event:
- a Kite trade we never booked: OrderFilled with Kite's trade id (storage, portfolio and
  risk all count a trade id once; this service also skips the ones it has seen on the bus). A
  trade of an order the live execution is working is its to book (and a warning if it is still
  not booked at the next run);
- a Kite order that is not ours: adopted under the strategy "adopted" (OrderPlaced, a flagged
  row in the live order store, the audit log), and its trades booked. With the live execution
  running, it adopts them (and follows them from then on), and the orders it works are handed
  to it to bring up to Kite's rows: their trades are booked there, once;
- an order we hold as working that Kite cancelled or rejected: OrderCancelled / OrderFailed
  with Kite's message; one Kite does not know at all, two runs in a row: OrderCancelled;
- a day position that still differs from Kite's after all that: an alarm (the health check
  fails) and each strategy trading there is held by the zerodha risk manager until a person
  acknowledges (ACKNOWLEDGE_MISMATCH, audited). An acknowledged difference is accepted as it
  is; it raises the alarm again only if it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.bus.base import Bus
from engine.dedup import RecentIds
from engine.events import (
    PAYLOAD_TYPES,
    Command,
    CommandAction,
    CommandResult,
    Event,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    Payload,
    Product,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.risk.loss_latch import IST_OFFSET_S
from engine.service import Service
from engine.state import StateStore
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from engine.tasks import cancel_and_wait
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, TopicMap
from engine.zerodha.broker_book import BrokerBook, BrokerOrder, BrokerPosition, fetch_broker_book
from engine.zerodha.errors import BrokerError
from engine.zerodha.reconcile_plan import (
    ADOPTED_STRATEGY,
    OurBook,
    PositionKey,
    PositionMismatch,
    ReconcilePlan,
    adopted_id,
    order_type_of,
    plan_reconciliation,
)
from engine.zerodha.reconcile_store import load_our_book, record_adopted
from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)

ACTOR = "engine:reconcile"
NOT_AT_KITE = "not in Kite's order book (expired, or never reached Kite)"
ACCEPTED_STATE_KEY = "reconcile:zerodha:accepted"
RECONNECT_POLL_S = 1.0


class AdoptedOrder(Protocol):
    @property
    def order_id(self) -> str: ...


class LiveExecution(Protocol):
    """The live execution, as far as reconciliation hands it work: the orders it works are its to
    bring up to Kite's rows (their trades booked there, once), and it adopts the orders we did not
    place, so that it follows them from then on."""

    def open_orders(self) -> dict[str, int]: ...

    async def apply(self, row: dict[str, Any]) -> None: ...

    async def adopt(self, row: dict[str, Any]) -> AdoptedOrder | None: ...

    def booked(self, trade_id: str) -> bool: ...


class StrategyHolder(Protocol):
    """The zerodha risk manager, as far as reconciliation needs it."""

    @property
    def holds(self) -> Mapping[str, str]: ...

    async def hold_strategy(self, strategy_id: str, reason: str) -> bool: ...

    async def release_strategy(self, strategy_id: str = "") -> list[str]: ...


@dataclass(slots=True)
class ReconcileReport:
    """One run: what it found and did."""

    reason: str
    ts: float
    fills_booked: int = 0
    adopted: list[str] = field(default_factory=list)  # our ids for them
    handed_over: int = 0  # orders the live execution brought up to Kite's rows
    ended: list[str] = field(default_factory=list)  # our order ids
    mismatches: list[PositionMismatch] = field(default_factory=list)  # new, not accepted
    held: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return f"reconciliation failed: {self.error}"
        parts = [f"{self.fills_booked} missed fills booked"] if self.fills_booked else []
        if self.adopted:
            parts.append(f"{len(self.adopted)} unknown orders adopted")
        if self.ended:
            parts.append(f"{len(self.ended)} orders ended")
        if self.mismatches:
            parts.append("position mismatch: " + "; ".join(m.describe() for m in self.mismatches))
        return ", ".join(parts) or "in agreement with Kite"


def ist_day_start(ts: float) -> float:
    """Midnight IST before `ts`."""
    return ((ts + IST_OFFSET_S) // 86_400) * 86_400 - IST_OFFSET_S


class Reconciler(Service):
    name = "reconcile.zerodha"
    namespace = Namespace.ZERODHA

    def __init__(
        self,
        bus: Bus,
        db: Database,
        kite: KiteRest,
        holder: StrategyHolder,
        state_store: StateStore,
        charges: ChargeCalculator,
        *,
        interval_s: float,
        audit: AuditLog | None = None,
        strategies_trading: Callable[[], Mapping[int, Collection[str]]] | None = None,
        reconnects: Callable[[], int] | None = None,
        symbol: Callable[[int], str] = str,
        execution: LiveExecution | None = None,
    ) -> None:
        super().__init__(bus)
        self.db = db
        self.kite = kite
        self.holder = holder
        self.state_store = state_store
        self.charges = charges
        self.interval_s = interval_s
        self.audit = audit if audit is not None else AuditLog(db)
        self.topics = TopicMap(Namespace.ZERODHA)
        self._strategies_trading = strategies_trading
        self._reconnects = reconnects
        self._symbol = symbol
        self.execution = execution
        self._deferred: set[str] = set()  # trade ids left to the live execution at the last run
        self._seen_trades = RecentIds()  # trade ids already on the bus: never booked twice
        self._missing_once: set[str] = set()  # working orders Kite did not know at the last run
        self._accepted: dict[str, int] = {}  # "token:product" -> acknowledged (broker - ours)
        self.alarms: dict[PositionKey, PositionMismatch] = {}  # unacknowledged mismatches
        self.adopted: list[str] = []  # Kite order ids adopted by this process
        self.broker_positions: tuple[BrokerPosition, ...] = ()  # Kite's, as of the last run ...
        self.broker_positions_ts = 0.0  # ... that read them (0: none has yet)
        self.last: ReconcileReport | None = None
        self.runs = 0
        self.reconnects_seen = 0  # ticker connections opened, as of the last look
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def wire(self) -> None:
        self.bus.subscribe([self.topics.orders_filled, CONTROL_COMMANDS], self.name, self._on_event)

    async def start(self) -> None:
        self._accepted = {
            str(k): int(v) for k, v in ((await self.state_store.get_state(ACCEPTED_STATE_KEY)) or {}).items()
        }
        self._task = asyncio.create_task(self._run(), name="reconcile-zerodha")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    @property
    def running(self) -> bool:
        """A reconciliation is under way."""
        return self._lock.locked()

    def request(self) -> None:
        """Reconcile as soon as possible (a reconnect, a login)."""
        self._wake.set()

    async def _run(self) -> None:
        self.reconnects_seen = self._reconnects() if self._reconnects is not None else 0
        await self.reconcile("start")
        next_due = time.monotonic() + self.interval_s
        while True:
            wait = max(0.0, min(next_due - time.monotonic(), RECONNECT_POLL_S))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            reason = ""
            if self._wake.is_set():
                self._wake.clear()
                reason = "requested"
            if self._reconnects is not None and self._reconnects() > self.reconnects_seen:
                self.reconnects_seen = self._reconnects()
                reason = "ticker reconnected"
            if not reason and time.monotonic() >= next_due:
                reason = "periodic"
            if reason:
                await self.reconcile(reason)
                next_due = time.monotonic() + self.interval_s

    # -- the bus -------------------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, OrderFilled):
            self._seen_trades.seen(payload.trade_id)
        elif isinstance(payload, Command) and payload.action is CommandAction.ACKNOWLEDGE_MISMATCH:
            await self._on_acknowledge(event, payload)

    async def _on_acknowledge(self, event: Event, command: Command) -> None:
        ok, message = await self.acknowledge(command.target.strip(), actor=command.issued_by or "operator")
        result = CommandResult(
            command_id=event.id, action=command.action, ok=ok, message=message, service=self.name
        )
        await self.bus.publish(
            ENGINE_STATUS, event.child(result, source=self.name, key=self.name, namespace=Namespace.SHARED)
        )

    async def acknowledge(self, strategy_id: str, *, actor: str) -> tuple[bool, str]:
        """A person has seen the mismatch: its strategies trade again, the difference is accepted."""
        held = dict(self.holder.holds)
        if strategy_id and strategy_id not in held:
            names = ", ".join(sorted(held)) or "none"
            return False, f"zerodha: strategy {strategy_id!r} is not held; held: {names}"
        if not held and not self.alarms:
            return True, "zerodha: no position mismatch to acknowledge; no strategy is held"
        released = await self.holder.release_strategy(strategy_id)
        cleared = [
            key
            for key, mismatch in self.alarms.items()
            if not strategy_id or strategy_id in mismatch.strategies or not mismatch.strategies
        ]
        for key in cleared:
            mismatch = self.alarms.pop(key)
            self._accepted[_key_text(key)] = mismatch.broker - mismatch.ours
        await self.state_store.put_state(ACCEPTED_STATE_KEY, dict(self._accepted))
        what = ", ".join(released) or "no strategy"
        detail = "; ".join(m.describe() for m in self.alarms.values()) if not cleared else ""
        await self._audit(actor, "mismatch_acknowledged", subject=strategy_id or "all", detail=detail)
        log.warning("position mismatch acknowledged by %s: %s released", actor, what)
        return True, f"zerodha: position mismatch acknowledged; {what} released"

    # -- one run -------------------------------------------------------------------------
    async def reconcile(self, reason: str) -> ReconcileReport:
        """Compare Kite's book with ours and act on the differences; a failure is reported, not raised."""
        async with self._lock:
            report = ReconcileReport(reason=reason, ts=time.time())
            try:
                book = await fetch_broker_book(self.kite)
                await self._apply(book, report)
            except BrokerError as exc:
                report.error = exc.message
                log.warning("reconciliation (%s) could not run: %s", reason, exc.message)
            except Exception as exc:  # the database, or a bug: the next run tries again
                report.error = f"{type(exc).__name__}: {exc}"
                log.exception("reconciliation (%s) failed", reason)
            self.runs += 1
            self.last = report
            if report.adopted or report.fills_booked or report.ended or report.mismatches:
                log.warning("reconciliation (%s): %s", reason, report.describe())
            return report

    async def _apply(self, book: BrokerBook, report: ReconcileReport) -> None:
        day_start = ist_day_start(book.fetched_ts)
        ours = await load_our_book(self.db, book, day_start_ts=day_start)
        on_the_way = {t.trade_id for t in book.trades if t.trade_id in self._seen_trades}
        trading = self._strategies_trading() if self._strategies_trading is not None else {}
        working = set(self.execution.open_orders()) if self.execution is not None else set()
        plan = plan_reconciliation(
            book,
            ours,
            day_start_ts=day_start,
            on_the_way=on_the_way,
            live_working=working,
            strategies_trading=trading,
            symbol=self._symbol,
        )
        self._deferred = set(plan.deferred)
        self.broker_positions = book.positions
        self.broker_positions_ts = book.fetched_ts
        report.unreadable = plan.unreadable
        correlations = {order_id: o.correlation_id for order_id, o in ours.orders.items()}
        strategies = {order_id: o.strategy_id for order_id, o in ours.orders.items()}
        if self.execution is not None:
            await self._hand_over(self.execution, book, plan, working, ours, report)
            stuck = [t for t in plan.deferred if t in self._deferred and not self.execution.booked(t)]
            report.unreadable.extend(f"Kite trade {t} not booked by the live execution yet" for t in stuck)
        else:
            await self._adopt(plan, correlations, strategies, report)
        await self._book_fills(plan, correlations, strategies, report)
        await self._end_orders(plan, report)
        await self._raise_mismatches(plan, report)
        for text in report.unreadable:
            log.warning("reconciliation: %s", text)

    async def _hand_over(
        self,
        execution: LiveExecution,
        book: BrokerBook,
        plan: ReconcilePlan,
        working: set[str],
        ours: OurBook,
        report: ReconcileReport,
    ) -> None:
        """The live execution adopts the unknown orders and brings the ones it works up to Kite's rows."""
        for order in plan.adopt:
            adopted = await execution.adopt(dict(order.raw))
            if adopted is not None:
                self.adopted.append(adopted.order_id)
                report.adopted.append(adopted.order_id)
        adopted_ids = {adopted_id(order) for order in plan.adopt}
        plan.fills = [item for item in plan.fills if item.order_id not in adopted_ids]  # its to book
        for order in book.orders:
            if ours.our_id(order) in working:
                await execution.apply(dict(order.raw))
                report.handed_over += 1

    async def _adopt(
        self,
        plan: ReconcilePlan,
        correlations: dict[str, str],
        strategies: dict[str, str],
        report: ReconcileReport,
    ) -> None:
        for order in plan.adopt:
            our_id = adopted_id(order)
            placed = OrderPlaced(
                order_id=our_id,
                strategy_id=ADOPTED_STRATEGY,
                instrument_token=order.instrument_token,
                side=order.side,
                quantity=order.quantity,
                order_type=order_type_of(order),
                product=Product(order.product),
                limit_price=order.price or None,
                placed_ts=order.placed_ts,
            )
            event = make_event(placed, namespace=Namespace.ZERODHA, source=self.name, key=ADOPTED_STRATEGY)
            await record_adopted(
                self.db, order, our_id, strategy_id=ADOPTED_STRATEGY, correlation_id=event.id
            )
            await self.bus.publish(self.topics.orders_placed, event)
            correlations[our_id] = event.correlation_id
            strategies[our_id] = ADOPTED_STRATEGY
            self.adopted.append(our_id)
            report.adopted.append(our_id)
            await self._audit(ACTOR, "adopted", subject=our_id, detail=_describe_order(order))

    async def _book_fills(
        self,
        plan: ReconcilePlan,
        correlations: dict[str, str],
        strategies: dict[str, str],
        report: ReconcileReport,
    ) -> None:
        for item in plan.fills:
            trade = item.trade
            if self.execution is not None and self.execution.booked(trade.trade_id):
                continue  # booked by the live execution (just now, or meanwhile)
            if self._seen_trades.seen(trade.trade_id):
                continue  # booked meanwhile by the order updates
            product = Product(trade.product)
            fill = OrderFilled(
                order_id=item.order_id,
                trade_id=trade.trade_id,
                strategy_id=strategies[item.order_id],
                instrument_token=trade.instrument_token,
                side=trade.side,
                quantity=trade.quantity,
                price=trade.price,
                product=product,
                charges=self.charges.compute(trade.side, product, trade.quantity, trade.price),
                remaining_quantity=item.remaining_quantity,
                fill_ts=trade.fill_ts,
            )
            await self._publish(fill, correlations.get(item.order_id, ""), fill.strategy_id)
            report.fills_booked += 1
            detail = f"trade {trade.trade_id}: {trade.side.value} {trade.quantity} @ {trade.price:g}"
            await self._audit(ACTOR, "fill_booked", subject=item.order_id, detail=detail)

    async def _end_orders(self, plan: ReconcilePlan, report: ReconcileReport) -> None:
        missing_now = {order.order_id for order in plan.missing}
        for order in plan.missing:
            if order.order_id not in self._missing_once:
                continue  # it may have been placed after Kite's book was read: look again next run
            ended = OrderCancelled(
                order_id=order.order_id,
                strategy_id=order.strategy_id,
                instrument_token=order.instrument_token,
                unfilled_quantity=max(order.quantity - order.filled_quantity, 0),
                reason=NOT_AT_KITE,
            )
            await self._publish(ended, order.correlation_id, order.strategy_id)
            report.ended.append(order.order_id)
            missing_now.discard(order.order_id)
            await self._audit(ACTOR, "order_ended", subject=order.order_id, detail=NOT_AT_KITE)
        self._missing_once = missing_now
        for end in plan.ends:
            order, broker = end.order, end.broker
            payload: OrderFailed | OrderCancelled
            if broker.status == "REJECTED":
                payload = OrderFailed(
                    order_id=order.order_id,
                    strategy_id=order.strategy_id,
                    instrument_token=order.instrument_token,
                    side=broker.side,
                    quantity=order.quantity,
                    reason=broker.status_message or "rejected by Kite",
                )
            else:
                payload = OrderCancelled(
                    order_id=order.order_id,
                    strategy_id=order.strategy_id,
                    instrument_token=order.instrument_token,
                    unfilled_quantity=max(broker.quantity - broker.filled_quantity, 0),
                    reason=broker.status_message or "cancelled at Kite",
                    side=broker.side,
                )
            await self._publish(payload, order.correlation_id, order.strategy_id)
            report.ended.append(order.order_id)
            await self._audit(
                ACTOR, "order_ended", subject=order.order_id, detail=f"{broker.status}: {payload.reason}"
            )

    async def _raise_mismatches(self, plan: ReconcilePlan, report: ReconcileReport) -> None:
        for mismatch in plan.mismatches:
            key = (mismatch.instrument_token, mismatch.product)
            if self._accepted.get(_key_text(key)) == mismatch.broker - mismatch.ours:
                continue
            new = key not in self.alarms
            self.alarms[key] = mismatch
            if not new:
                continue
            report.mismatches.append(mismatch)
            log.error("live position mismatch: %s; holding %s", mismatch.describe(), mismatch.strategies)
            await self._audit(
                ACTOR, "position_mismatch", subject=mismatch.tradingsymbol, detail=mismatch.describe()
            )
            for strategy_id in mismatch.strategies:
                if await self.holder.hold_strategy(strategy_id, mismatch.describe()):
                    report.held.append(strategy_id)
                    await self._audit(ACTOR, "halted", subject=strategy_id, detail=mismatch.describe())

    # -- helpers -------------------------------------------------------------------------
    async def _publish(self, payload: Payload, correlation_id: str, key: str) -> None:
        event = make_event(payload, namespace=Namespace.ZERODHA, source=self.name, key=key)
        if correlation_id:  # in the order's lineage, so its trace shows what reconciliation did
            event.correlation_id = correlation_id
        await self.bus.publish(self.topics.for_event_type(PAYLOAD_TYPES[type(payload)]), event)

    async def _audit(self, actor: str, action: str, *, subject: str, detail: str) -> None:
        try:
            await self.audit.record(actor, action, subject=subject, detail=detail)
        except Exception as exc:  # the database may be down: the log still has it
            log.error(
                "audit %s %s %s not stored (%s): %s", actor, action, subject, type(exc).__name__, detail
            )


def _key_text(key: PositionKey) -> str:
    return f"{key[0]}:{key[1]}"


def _describe_order(order: BrokerOrder) -> str:
    tag = f" tag {order.tag}" if order.tag else " no tag"
    return (
        f"{order.side.value} {order.quantity} {order.exchange}:{order.tradingsymbol} {order.order_type} "
        f"{order.product} @ {order.price:g}, {order.status}{tag}"
    )

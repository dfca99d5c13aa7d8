"""What the console shows, folded from bus events: plain Python, no Textual.

The bridge feeds every event in at full speed (cheap, bounded work per event).
`UiState` routes each event to the pane models it changes (`viewmodels/`):
ticks, signals, decisions, orders and fills, P&L, the engine's status, health,
strategies and the log. Each pane model has a `revision` that moves when it
changes; the app reads the panes at a steady rate and repaints only those
whose revision moved since its last look.

Every console asks for a day snapshot when it opens; ids of events it has applied are
remembered, so the snapshot's recent events count once. A console that starts (or attaches)
while the engine runs also holds live events back until the answer (`hold`), folds the
snapshot's recent events and P&L curves in, then the held events: it shows what a console that
ran from the engine's start shows. A console on an engine in its own process sees everything
from the start and has nothing to hold.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from engine.dedup import RecentIds
from engine.events import (
    Command,
    CommandAction,
    CommandReply,
    CommandResult,
    DaySnapshot,
    DeadLetter,
    EngineState,
    EngineStatus,
    Event,
    EventType,
    FillView,
    MarketTick,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderTrace,
    PnlSnapshot,
    SignalRejected,
    SignalValidated,
    TradingSignal,
)
from engine.health.reconciliation import RECONCILIATION_CHECK
from engine.health.registry import CheckStatus
from engine.instruments import InstrumentRegistry
from engine.recent_events import NOT_KEPT
from viewmodels.engine_status import EnginePane, HealthPane, StrategyPane, login_prompt, status_changes
from viewmodels.event_log import LogPane
from viewmodels.market import TickPane
from viewmodels.portfolio import PnlPane
from viewmodels.rows import Lineage, LogLevel, Notice, OrderRow
from viewmodels.trading import DecisionPane, LineageIndex, OrderPane, SignalPane

MAX_NOTICES = 20
SNAPSHOT_REQUESTS = 8  # day snapshots asked for and not yet answered, remembered
MAX_ISSUED_COMMANDS = 200
MAX_TRACES = 50  # order traces asked for (and their answers), remembered
HOLD_S = 5.0  # live events are held back at most this long waiting for a day snapshot ...
HOLD_MAX = 10_000  # ... and at most this many
APPLIED_IDS = 20_000  # ids of events a day snapshot may bring back, remembered: well past MAX_RECENT
APPLIED_MAX_AGE_S = 7 * 86_400.0  # bounded by count, not age: a quiet day's events stay known


class UiState:
    """The console's model: one pane model per pane. `apply(event)` is the only writer of the panes."""

    def __init__(
        self, instruments: InstrumentRegistry, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.instruments = instruments
        self._symbols: dict[int, str] = {i.instrument_token: i.tradingsymbol for i in instruments}
        self.session_ts = 0.0  # latest feed or engine session time; the console's notion of "now"
        self.ticks = TickPane(instruments, self.symbol)
        self.signals = SignalPane(self.symbol)
        self.decisions = DecisionPane(self.symbol)
        self.orders = OrderPane(self.symbol)
        self.lineages = LineageIndex()
        self.pnl = PnlPane(self.symbol)
        self.engine = EnginePane()
        self.health = HealthPane()
        self.strategies = StrategyPane(self.symbol, self.pnl.of_strategy)
        self.log = LogPane()
        self.notices: deque[Notice] = deque(maxlen=MAX_NOTICES)  # answers to own commands; login prompts
        self.issued_commands: dict[str, CommandAction] = {}
        self.trading_day = ""  # set by the day snapshot
        self._snapshot_requests: deque[str] = deque(maxlen=SNAPSHOT_REQUESTS)
        self.traces: dict[str, OrderTrace] = {}  # order id -> the engine's answer to this console's request
        self._trace_requests: dict[str, str] = {}  # request id -> order id
        self._applied = RecentIds(APPLIED_IDS, APPLIED_MAX_AGE_S)
        self._clock = clock
        self._held: list[Event] | None = None  # live events waiting for a day snapshot (None: not waiting)
        self._held_since = 0.0
        self._hold_request = ""

    def symbol(self, token: int) -> str:
        return self._symbols.get(token) or str(token)

    # ------------------------------------------------------------------
    # ingestion
    # ------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one event in. Ticks take the short path; everything else dispatches by payload type."""
        payload = event.payload
        if type(payload) is MarketTick:
            self.ticks.apply(event, payload)
            if payload.exchange_ts > self.session_ts:
                self.session_ts = payload.exchange_ts
            return
        if self._held is not None and type(payload) is not DaySnapshot:
            self._hold(event)
            return
        self._apply_once(event)

    def _apply_once(self, event: Event) -> None:
        kind = type(event.payload)
        if kind not in NOT_KEPT and self._applied.seen(event.id):
            return  # a day snapshot's recent event this console had seen live, or the other way round
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, event)

    def _hold(self, event: Event) -> None:
        assert self._held is not None
        self._held.append(event)
        if len(self._held) >= HOLD_MAX or self._clock() - self._held_since >= HOLD_S:
            self.release_held()

    def release_held(self, request_id: str | None = None) -> None:
        """Stop waiting for a day snapshot and apply what was held (only if still waiting for
        `request_id`, when given: the bridge's timer for an older request does nothing)."""
        if self._held is None or (request_id is not None and request_id != self._hold_request):
            return
        held, self._held = self._held, None
        newest = self.status.status_ts if self.status is not None else 0.0
        for event in held:
            payload = event.payload
            if type(payload) is EngineStatus and payload.status_ts < newest:
                continue  # older than the status the day snapshot brought
            self._apply_once(event)

    @property
    def holding(self) -> int:
        """How many live events wait for a day snapshot (0 when not waiting)."""
        return len(self._held) if self._held is not None else 0

    def _on_signal(self, event: Event) -> None:
        signal = event.payload
        assert isinstance(signal, TradingSignal)
        lineage = self.lineages.growing(event.correlation_id)
        lineage.signal = event
        tick = self.ticks.recent(event.causation_id)
        if tick is not None:
            lineage.tick = tick
        self.signals.add(event, signal, self.session_ts)

    def _on_decision(self, event: Event) -> None:
        decision = event.payload
        assert isinstance(decision, SignalValidated | SignalRejected)
        self.lineages.growing(event.correlation_id).decision = event
        self.decisions.add(event, decision, self.session_ts)
        if isinstance(decision, SignalRejected):
            signal = decision.signal
            symbol = self.symbol(signal.instrument_token)
            self._log(
                LogLevel.WARNING,
                f"[{event.namespace.value}] rejected {signal.strategy_id} {signal.side.value} "
                f"{signal.quantity} {symbol}: {decision.rule}: {decision.reason}",
            )

    def _on_order_placed(self, event: Event) -> None:
        order = event.payload
        assert isinstance(order, OrderPlaced)
        self.lineages.growing(event.correlation_id).orders.append(event)
        self.orders.placed(event, order, self.session_ts)

    def _on_fill(self, event: Event) -> None:
        fill = event.payload
        assert isinstance(fill, OrderFilled)
        if self.orders.from_storage(fill.trade_id):
            return  # the day snapshot already brought it (and its order's totals) from storage
        row = self.orders.filled(event, fill, self.session_ts)
        self.lineages.growing(row.correlation_id).outcomes.append(event)

    def _on_order_failed(self, event: Event) -> None:
        failed = event.payload
        assert isinstance(failed, OrderFailed)
        row = self.orders.failed(event, failed, self.session_ts)
        self.lineages.growing(row.correlation_id).outcomes.append(event)
        self._log(
            LogLevel.ERROR, f"[{event.namespace.value}] order {failed.order_id} failed: {failed.reason}"
        )

    def _on_order_cancelled(self, event: Event) -> None:
        cancelled = event.payload
        assert isinstance(cancelled, OrderCancelled)
        row = self.orders.get(cancelled.order_id)
        if row is not None:
            self.lineages.growing(row.correlation_id).outcomes.append(event)
            self.orders.cancelled(row, cancelled)
        self._log(
            LogLevel.INFO,
            f"[{event.namespace.value}] order {cancelled.order_id} cancelled "
            f"({cancelled.unfilled_quantity} unfilled): {cancelled.reason}",
        )

    def _on_pnl(self, event: Event) -> None:
        snapshot = event.payload
        assert isinstance(snapshot, PnlSnapshot)
        self.pnl.apply(snapshot, self.session_ts)
        self._rebuild_strategies()

    def _on_status(self, event: Event) -> None:
        status = event.payload
        assert isinstance(status, EngineStatus)
        self._set_status(status)

    def _set_status(self, status: EngineStatus) -> None:
        previous = self.engine.status
        self.engine.set(status)
        if status.session_ts > self.session_ts:
            self.session_ts = status.session_ts
        self.health.set(status.health)
        self.pnl.set_broker_positions(status.broker_positions, status.broker_positions_ts)
        confirmed = self.strategies.confirm(status.strategies)
        if confirmed or previous is None or previous.strategies != status.strategies:
            self._rebuild_strategies()
        if previous is not None:
            for level, text in status_changes(previous, status):
                self._log(level, text)
        if previous is not None and previous.live and not status.live:  # said in red, not only logged
            self.notices.append(
                Notice(f"LIVE orders OFF: {status.live_detail or 'the engine stopped'}", LogLevel.ERROR)
            )
        prompt = login_prompt(status.broker_session)
        if prompt and (previous is None or login_prompt(previous.broker_session) != prompt):
            self.notices.append(Notice(prompt, LogLevel.WARNING))

    def _on_command(self, event: Event) -> None:
        command = event.payload
        assert isinstance(command, Command)
        who = command.issued_by or event.source
        target = f" {command.target}" if command.target else ""
        self._log(LogLevel.INFO, f"command {command.action.value}{target} from {who}")

    def _on_command_result(self, event: Event) -> None:
        result = event.payload
        assert isinstance(result, CommandResult)
        level = LogLevel.INFO if result.ok else LogLevel.ERROR
        self._log(level, f"{result.action.value}: {'ok' if result.ok else 'FAILED'}: {result.message}")
        if result.command_id in self.issued_commands:
            self.notices.append(Notice(result.message, level))
        if not result.ok and result.action in (CommandAction.STRATEGY_ENABLE, CommandAction.STRATEGY_DISABLE):
            self.strategies.pending.clear()
            self._rebuild_strategies()

    def _on_command_reply(self, event: Event) -> None:
        """The engine's one reply to a command; its results were shown as they came, so only the
        services that did not answer are news."""
        reply = event.payload
        assert isinstance(reply, CommandReply)
        if not reply.missing:
            return
        text = f"{reply.action.value}: no answer from {', '.join(reply.missing)} within {reply.timeout_s:g} s"
        self._log(LogLevel.ERROR, text)
        if reply.command_id in self.issued_commands:
            self.notices.append(Notice(text, LogLevel.ERROR))
        if reply.action in (CommandAction.STRATEGY_ENABLE, CommandAction.STRATEGY_DISABLE):
            self.strategies.pending.clear()  # what is shown is the engine's state, not the request
            self._rebuild_strategies()

    def _on_dead_letter(self, event: Event) -> None:
        letter = event.payload
        assert isinstance(letter, DeadLetter)
        self._log(
            LogLevel.ERROR,
            f"dead letter from {letter.group} on {letter.topic} "
            f"after {letter.attempts} attempts: {letter.error}",
        )

    # -- the day so far ---------------------------------------------------------------
    def expect_day_snapshot(self, request_id: str, *, hold: bool = False) -> None:
        """The console asked for a day snapshot; only answers to its own requests are folded in.
        With `hold`, live events other than ticks are held back until the answer (or HOLD_S)."""
        self._snapshot_requests.append(request_id)
        if hold:
            self.hold_live()
            self._hold_request = request_id

    def hold_live(self) -> None:
        """Hold live events other than ticks back until a day snapshot is folded in (HOLD_S at most):
        a console joining a running engine, from its first event."""
        if self._held is None:
            self._held = []
            self._held_since = self._clock()
            self._hold_request = ""

    def _on_day_snapshot(self, event: Event) -> None:
        """Seed the panes with the day so far. What live events already showed wins: the
        snapshot only adds orders, fills and portfolios not seen yet, older than the live ones."""
        snapshot = event.payload
        assert isinstance(snapshot, DaySnapshot)
        if snapshot.request_id not in self._snapshot_requests:
            return
        self._snapshot_requests.remove(snapshot.request_id)
        self.trading_day = snapshot.trading_day
        # a console with no status yet has seen none of the engine's: its log tells their changes
        self._seed_recent(snapshot.recent, told_from=snapshot.status if self.status is None else None)
        if self.status is None or snapshot.status.status_ts > self.status.status_ts:
            self._set_status(snapshot.status)
        self.pnl.seed_curves(snapshot.equity)
        if self.pnl.seed(snapshot.portfolios, self.session_ts):
            self._rebuild_strategies()
        self.orders.seed_orders(snapshot.orders)
        self._seed_fills(snapshot.fills)
        shown = f"the last {len(snapshot.orders)} of " if len(snapshot.orders) < snapshot.orders_today else ""
        fills = f"the last {len(snapshot.fills)} of " if len(snapshot.fills) < snapshot.fills_today else ""
        self._log(
            LogLevel.INFO,
            f"today ({snapshot.trading_day}) from storage: {shown}{snapshot.orders_today} orders, "
            f"{fills}{snapshot.fills_today} fills, {len(snapshot.portfolios)} portfolios",
        )
        self.release_held()

    def _seed_recent(self, events: tuple[Event, ...], *, told_from: EngineStatus | None) -> None:
        """The engine's recent events this console has not applied, as if they had come live;
        its P&L snapshots are the portfolios its curves folded last (the curves come whole).
        With `told_from` (the snapshot's status; a console that has seen no status), the log tells
        the recent statuses' changes, up to that one; otherwise it has seen them."""
        rebuild = False
        previous: EngineStatus | None = None
        for event in events:
            payload = event.payload
            if type(payload) is PnlSnapshot:
                rebuild = self.pnl.seed_latest(payload) or rebuild
            elif type(payload) is EngineStatus:
                if told_from is not None:
                    self._log_changes(previous, payload)
                    previous = payload
            else:
                self._apply_once(event)
        if told_from is not None:
            self._log_changes(previous, told_from)
        if rebuild:
            self._rebuild_strategies()

    def _log_changes(self, previous: EngineStatus | None, status: EngineStatus) -> None:
        if previous is not None:
            for level, text in status_changes(previous, status):
                self._log(level, text)

    def _seed_fills(self, views: tuple[FillView, ...]) -> None:
        shown = self.orders.shown_trades()
        events = [_stored_fill_event(view) for view in views if view.fill.trade_id not in shown]
        if not events:
            return
        for event in events:
            self.lineages.growing(event.correlation_id).outcomes.insert(0, event)
        self.orders.seed_fills(events, self.session_ts)

    # -- order traces from storage ------------------------------------------------------
    def expect_order_trace(self, request_id: str, order_id: str) -> None:
        """The console asked for an order's stored story; the answer lands in `traces`."""
        self._trace_requests[request_id] = order_id
        self.traces.pop(order_id, None)
        while len(self._trace_requests) > MAX_TRACES:
            del self._trace_requests[next(iter(self._trace_requests))]

    def _on_order_trace(self, event: Event) -> None:
        trace = event.payload
        assert isinstance(trace, OrderTrace)
        order_id = self._trace_requests.pop(trace.request_id, None)
        if order_id is None:
            return  # another console's
        self.traces[order_id] = trace
        while len(self.traces) > MAX_TRACES:
            del self.traces[next(iter(self.traces))]

    # ------------------------------------------------------------------
    # what the console asked for
    # ------------------------------------------------------------------
    def request_toggle(self, name: str, enable: bool, command_id: str, action: CommandAction) -> None:
        """Record a toggle the console asked for, shown as pending until the engine confirms it."""
        self.strategies.pending[name] = enable
        self.record_command(command_id, action)
        self._rebuild_strategies()

    def record_command(self, command_id: str, action: CommandAction) -> None:
        self.issued_commands[command_id] = action
        if len(self.issued_commands) > MAX_ISSUED_COMMANDS:
            del self.issued_commands[next(iter(self.issued_commands))]

    # ------------------------------------------------------------------
    # derived views
    # ------------------------------------------------------------------
    def _log(self, level: LogLevel, text: str) -> None:
        self.log.add(level, text, self.session_ts)

    def _rebuild_strategies(self) -> None:
        self.strategies.rebuild(self.status.strategies if self.status is not None else ())

    def lineage_for_order(self, order_id: str) -> tuple[OrderRow | None, Lineage | None, list[Event]]:
        """The order, the lineage of its correlation id, and its fills (matched by order id)."""
        row = self.orders.get(order_id)
        if row is None:
            return None, None, []
        return row, self.lineages.get(row.correlation_id), self.orders.fills_of(order_id)

    @property
    def status(self) -> EngineStatus | None:
        """The engine's latest status (None before the first one)."""
        return self.engine.status

    @property
    def engine_state(self) -> EngineState | None:
        """The engine's state as its latest status says (None before the first one)."""
        return self.status.state if self.status is not None else None

    @property
    def halted(self) -> bool:
        return self.engine_state is EngineState.HALTED

    @property
    def latched(self) -> bool:
        """A daily-loss latch is set (shown whatever else the engine is: a halt does not lift it)."""
        return self.status is not None and bool(self.status.loss_latches)

    @property
    def mismatch(self) -> str:
        """The live position mismatch waiting for a person, in words ("" when there is none)."""
        if self.status is None:
            return ""
        for check in self.status.health:
            if check.name == RECONCILIATION_CHECK and check.status == CheckStatus.FAIL.value:
                return check.message
        return ""

    @property
    def feed_paused(self) -> bool:
        return self.status is not None and self.status.feed_paused


def _stored_fill_event(view: FillView) -> Event:
    """A stored fill as the event it was, for the order's trace and fills."""
    fill = view.fill
    return Event(
        type=EventType.ORDER_FILLED,
        payload=fill,
        namespace=view.namespace,
        source="storage",
        key=fill.strategy_id,
        id=view.event_id,
        correlation_id=view.correlation_id,
    )


_HANDLERS = {
    TradingSignal: UiState._on_signal,
    SignalValidated: UiState._on_decision,
    SignalRejected: UiState._on_decision,
    OrderPlaced: UiState._on_order_placed,
    OrderFilled: UiState._on_fill,
    OrderFailed: UiState._on_order_failed,
    OrderCancelled: UiState._on_order_cancelled,
    PnlSnapshot: UiState._on_pnl,
    EngineStatus: UiState._on_status,
    DaySnapshot: UiState._on_day_snapshot,
    Command: UiState._on_command,
    CommandResult: UiState._on_command_result,
    CommandReply: UiState._on_command_reply,
    DeadLetter: UiState._on_dead_letter,
    OrderTrace: UiState._on_order_trace,
}

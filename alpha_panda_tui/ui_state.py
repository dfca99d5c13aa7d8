"""What the console shows, folded from bus events: plain Python, no Textual.

The bridge feeds every event in at full speed (cheap, bounded work per event);
the app reads it at a steady rate and repaints only the panes whose version
counter moved since its last look.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    DaySnapshot,
    DeadLetter,
    EngineState,
    EngineStatus,
    Event,
    EventType,
    HealthCheckView,
    MarketTick,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderView,
    PnlSnapshot,
    Side,
    SignalRejected,
    SignalValidated,
    TradingSignal,
)
from engine.instruments import InstrumentRegistry
from viewmodels.rows import (
    SPARK_INTERVAL_S,
    DecisionRow,
    FillRow,
    Lineage,
    LogLevel,
    LogLine,
    Notice,
    OrderRow,
    OrderStatus,
    PositionRow,
    SignalRow,
    StrategyRow,
    TickRow,
)

RECENT_TICKS = 4_096  # ticks remembered by event id, to show a signal's causing tick
MAX_SIGNALS = 200
MAX_DECISIONS = 200
MAX_ORDERS = 500
MAX_FILLS = 500
MAX_LOG = 500
MAX_LINEAGES = 2_000
PNL_POINTS = 720
PNL_INTERVAL_S = 1.0  # feed seconds between P&L curve samples
MAX_NOTICES = 20
SNAPSHOT_REQUESTS = 8  # day snapshots asked for and not yet answered, remembered


STORED_ORDER_STATUS = {
    "PLACED": OrderStatus.OPEN,
    "PARTIAL": OrderStatus.PARTIAL,
    "FILLED": OrderStatus.FILLED,
    "FAILED": OrderStatus.FAILED,
    "CANCELLED": OrderStatus.CANCELLED,
}


class UiState:
    """The console's model. `apply(event)` is the only writer."""

    def __init__(self, instruments: InstrumentRegistry) -> None:
        self.instruments = instruments
        self._symbols: dict[int, str] = {i.instrument_token: i.tradingsymbol for i in instruments}
        self._display_order: dict[int, int] = {i.instrument_token: n for n, i in enumerate(instruments)}
        # market
        self.ticks: dict[int, TickRow] = {}
        self.tick_rows: list[TickRow] = []  # in instrument-registry order
        self.tick_version = 0
        self.ticks_seen = 0
        self._recent_ticks: dict[str, Event] = {}
        self._recent_ring: list[str | None] = [None] * RECENT_TICKS
        self._recent_pos = 0
        self.session_ts = 0.0  # latest feed or engine session time; the console's notion of "now"
        # trading
        self.signals: deque[SignalRow] = deque(maxlen=MAX_SIGNALS)
        self.signal_version = 0
        self.decisions: deque[DecisionRow] = deque(maxlen=MAX_DECISIONS)
        self.decision_version = 0
        self.orders: OrderedDict[str, OrderRow] = OrderedDict()
        self.fills: deque[FillRow] = deque(maxlen=MAX_FILLS)
        self.order_version = 0
        self.fills_by_order: dict[str, list[Event]] = {}
        self.lineages: OrderedDict[str, Lineage] = OrderedDict()
        # portfolio
        self.portfolios: dict[str, PnlSnapshot] = {}
        self.pnl_version = 0
        self.pnl_series: deque[tuple[float, float]] = deque(maxlen=PNL_POINTS)  # (ts, total net P&L)
        self.strategy_pnl_series: dict[str, deque[tuple[float, float]]] = {}
        # engine
        self.status: EngineStatus | None = None
        self.status_version = 0
        self.health: tuple[HealthCheckView, ...] = ()
        self.health_version = 0
        self.strategies: list[StrategyRow] = []
        self.strategy_version = 0
        self.pending_toggles: dict[str, bool] = {}
        # log and notices
        self.log: deque[LogLine] = deque(maxlen=MAX_LOG)
        self.log_version = 0
        self._log_seq = 0
        self.notices: deque[Notice] = deque(maxlen=MAX_NOTICES)
        self.issued_commands: dict[str, CommandAction] = {}
        # the day so far, from the engine's storage
        self.trading_day = ""
        self._snapshot_requests: deque[str] = deque(maxlen=SNAPSHOT_REQUESTS)
        self._stored_trades: set[str] = set()  # fills the day snapshot brought, not to be counted again

    # ------------------------------------------------------------------
    # ingestion
    # ------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one event in. Ticks take the short path; everything else dispatches by payload type."""
        payload = event.payload
        if type(payload) is MarketTick:
            self._apply_tick(event, payload)
            return
        handler = _HANDLERS.get(type(payload))
        if handler is not None:
            handler(self, event)

    def _apply_tick(self, event: Event, tick: MarketTick) -> None:
        self.ticks_seen += 1
        token = tick.instrument_token
        row = self.ticks.get(token)
        if row is None:
            row = TickRow(token, self._symbols.get(token) or str(token))
            self.ticks[token] = row
            self.tick_rows.append(row)
            last = len(self._display_order)
            self.tick_rows.sort(key=lambda r: (self._display_order.get(r.token, last), r.token))
        price = tick.last_price
        previous = row.last_price
        row.direction = (1 if price > previous else -1 if price < previous else 0) if previous else 0
        row.last_price = price
        row.change_pct = tick.change
        row.volume = tick.volume
        bids = tick.bids
        asks = tick.asks
        row.bid = bids[0].price if bids else 0.0
        row.ask = asks[0].price if asks else 0.0
        ts = tick.exchange_ts
        row.exchange_ts = ts
        if ts - row.spark_ts >= SPARK_INTERVAL_S:
            row.spark.append(price)
            row.spark_ts = ts
        row.version += 1
        self.tick_version += 1
        if ts > self.session_ts:
            self.session_ts = ts
        # remember the tick by id in a fixed ring, so a signal can show what caused it
        ring = self._recent_ring
        pos = self._recent_pos
        old = ring[pos]
        recent = self._recent_ticks
        if old is not None:
            recent.pop(old, None)
        ring[pos] = event.id
        recent[event.id] = event
        self._recent_pos = (pos + 1) % RECENT_TICKS

    def _lineage(self, correlation_id: str) -> Lineage:
        lineage = self.lineages.get(correlation_id)
        if lineage is None:
            lineage = Lineage(correlation_id)
            self.lineages[correlation_id] = lineage
            if len(self.lineages) > MAX_LINEAGES:
                self.lineages.popitem(last=False)
        lineage.version += 1
        return lineage

    def symbol(self, token: int) -> str:
        return self._symbols.get(token) or str(token)

    def _on_signal(self, event: Event) -> None:
        signal = event.payload
        assert isinstance(signal, TradingSignal)
        lineage = self._lineage(event.correlation_id)
        lineage.signal = event
        lineage.tick = self._recent_ticks.get(event.causation_id, lineage.tick)
        self.signal_version += 1
        self.signals.append(
            SignalRow(
                event_id=event.id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                strategy_id=signal.strategy_id,
                symbol=self.symbol(signal.instrument_token),
                side=signal.side,
                quantity=signal.quantity,
                price=signal.limit_price if signal.limit_price is not None else signal.reference_price,
                reason=signal.reason,
                ts=signal.signal_ts or self.session_ts,
            )
        )

    def _on_decision(self, event: Event) -> None:
        payload = event.payload
        assert isinstance(payload, SignalValidated | SignalRejected)
        lineage = self._lineage(event.correlation_id)
        lineage.decision = event
        signal = payload.signal
        accepted = isinstance(payload, SignalValidated)
        if isinstance(payload, SignalValidated):
            quantity = payload.quantity
            rule = ""
            reason = f"ok ({len(payload.rules_passed)} rules)"
        else:
            quantity = signal.quantity
            rule = payload.rule
            reason = payload.reason
        symbol = self.symbol(signal.instrument_token)
        self.decision_version += 1
        self.decisions.append(
            DecisionRow(
                event_id=event.id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                accepted=accepted,
                strategy_id=signal.strategy_id,
                symbol=symbol,
                side=signal.side,
                quantity=quantity,
                rule=rule,
                reason=reason,
                ts=signal.signal_ts or self.session_ts,
            )
        )
        if not accepted:
            self._log(
                LogLevel.WARNING,
                f"[{event.namespace.value}] rejected {signal.strategy_id} {signal.side.value} "
                f"{signal.quantity} {symbol}: {rule}: {reason}",
            )

    def _on_order_placed(self, event: Event) -> None:
        order = event.payload
        assert isinstance(order, OrderPlaced)
        self._lineage(event.correlation_id).orders.append(event)
        existing = self.orders.get(order.order_id)
        if existing is not None:  # a fill overtook its order (attached late): keep what the fill told us
            existing.correlation_id = event.correlation_id
            existing.placed_ts = order.placed_ts or existing.placed_ts
            existing.version += 1
        else:
            self.orders[order.order_id] = OrderRow(
                order_id=order.order_id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                strategy_id=order.strategy_id,
                token=order.instrument_token,
                symbol=self.symbol(order.instrument_token),
                side=order.side,
                quantity=order.quantity,
                order_type=order.order_type.value,
                limit_price=order.limit_price,
                placed_ts=order.placed_ts or self.session_ts,
            )
            self._trim_orders()
        self.order_version += 1

    def _order_row(
        self, event: Event, order_id: str, strategy_id: str, token: int, side: Side, qty: int
    ) -> OrderRow:
        row = self.orders.get(order_id)
        if row is None:
            row = OrderRow(
                order_id=order_id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                strategy_id=strategy_id,
                token=token,
                symbol=self.symbol(token),
                side=side,
                quantity=qty,
                order_type="",
                limit_price=None,
                placed_ts=self.session_ts,
            )
            self.orders[order_id] = row
            self._trim_orders()
        return row

    def _trim_orders(self) -> None:
        while len(self.orders) > MAX_ORDERS:
            order_id, _ = self.orders.popitem(last=False)
            self.fills_by_order.pop(order_id, None)

    def _on_fill(self, event: Event) -> None:
        fill = event.payload
        assert isinstance(fill, OrderFilled)
        if fill.trade_id in self._stored_trades:
            return  # the day snapshot already brought it (and its order's totals) from storage
        row = self._order_row(
            event, fill.order_id, fill.strategy_id, fill.instrument_token, fill.side, fill.quantity
        )
        self._lineage(row.correlation_id).outcomes.append(event)
        self.fills_by_order.setdefault(fill.order_id, []).append(event)
        total = row.filled_quantity + fill.quantity
        row.average_price = (row.average_price * row.filled_quantity + fill.price * fill.quantity) / total
        row.filled_quantity = total
        row.charges += fill.charges.total
        row.status = OrderStatus.FILLED if fill.remaining_quantity <= 0 else OrderStatus.PARTIAL
        row.version += 1
        self.fills.append(
            FillRow(
                trade_id=fill.trade_id,
                order_id=fill.order_id,
                namespace=event.namespace,
                strategy_id=fill.strategy_id,
                symbol=row.symbol,
                side=fill.side,
                quantity=fill.quantity,
                price=fill.price,
                charges=fill.charges.total,
                ts=fill.fill_ts or self.session_ts,
            )
        )
        self.order_version += 1

    def _on_order_failed(self, event: Event) -> None:
        failed = event.payload
        assert isinstance(failed, OrderFailed)
        row = self._order_row(
            event, failed.order_id, failed.strategy_id, failed.instrument_token, failed.side, failed.quantity
        )
        self._lineage(row.correlation_id).outcomes.append(event)
        row.status = OrderStatus.FAILED
        row.detail = failed.reason
        row.version += 1
        self.order_version += 1
        self._log(
            LogLevel.ERROR, f"[{event.namespace.value}] order {failed.order_id} failed: {failed.reason}"
        )

    def _on_order_cancelled(self, event: Event) -> None:
        cancelled = event.payload
        assert isinstance(cancelled, OrderCancelled)
        row = self.orders.get(cancelled.order_id)
        if row is not None:
            self._lineage(row.correlation_id).outcomes.append(event)
            row.status = OrderStatus.CANCELLED
            row.detail = cancelled.reason
            row.version += 1
            self.order_version += 1
        self._log(
            LogLevel.INFO,
            f"[{event.namespace.value}] order {cancelled.order_id} cancelled "
            f"({cancelled.unfilled_quantity} unfilled): {cancelled.reason}",
        )

    def _on_pnl(self, event: Event) -> None:
        snapshot = event.payload
        assert isinstance(snapshot, PnlSnapshot)
        self.portfolios[snapshot.portfolio_id] = snapshot
        self.pnl_version += 1
        ts = snapshot.snapshot_ts or self.session_ts
        _sample(self.pnl_series, ts, self.total_pnl())
        series = self.strategy_pnl_series.get(snapshot.strategy_id)
        if series is None:
            series = self.strategy_pnl_series[snapshot.strategy_id] = deque(maxlen=PNL_POINTS)
        _sample(series, ts, self.strategy_pnl(snapshot.strategy_id))
        self._rebuild_strategies()

    def _on_status(self, event: Event) -> None:
        status = event.payload
        assert isinstance(status, EngineStatus)
        self._set_status(status)

    def _set_status(self, status: EngineStatus) -> None:
        previous = self.status
        self.status = status
        self.status_version += 1
        if status.session_ts > self.session_ts:
            self.session_ts = status.session_ts
        if status.health != self.health:
            self.health = status.health
            self.health_version += 1
        confirmed = [s.name for s in status.strategies if self.pending_toggles.get(s.name) is s.enabled]
        for name in confirmed:
            del self.pending_toggles[name]
        if confirmed or previous is None or previous.strategies != status.strategies:
            self._rebuild_strategies()
        if previous is not None:
            if status.state is EngineState.HALTED and previous.state is not EngineState.HALTED:
                self._log(LogLevel.ERROR, f"engine HALTED: {status.halted_reason or 'no reason given'}")
            elif status.state is not previous.state:
                self._log(LogLevel.INFO, f"engine {status.state.value}")
            if status.feed_paused != previous.feed_paused:
                self._log(LogLevel.INFO, "feed paused" if status.feed_paused else "feed resumed")
            if status.dead_letters > previous.dead_letters:
                self._log(
                    LogLevel.ERROR,
                    f"{status.dead_letters - previous.dead_letters} new dead letter(s); "
                    f"{status.dead_letters} in total",
                )
            for latch in set(status.loss_latches) - set(previous.loss_latches):
                self._log(LogLevel.ERROR, f"daily-loss latch tripped: {latch}")

    # -- the day so far ---------------------------------------------------------------
    def expect_day_snapshot(self, request_id: str) -> None:
        """The console asked for a day snapshot; only answers to its own requests are folded in."""
        self._snapshot_requests.append(request_id)

    def _on_day_snapshot(self, event: Event) -> None:
        """Seed the panes with the day so far. What live events already showed wins: the
        snapshot only adds orders, fills and portfolios not seen yet, older than the live ones."""
        snapshot = event.payload
        assert isinstance(snapshot, DaySnapshot)
        if snapshot.request_id not in self._snapshot_requests:
            return
        self._snapshot_requests.remove(snapshot.request_id)
        self.trading_day = snapshot.trading_day
        if self.status is None or snapshot.status.status_ts > self.status.status_ts:
            self._set_status(snapshot.status)
        self._seed_portfolios(snapshot.portfolios)
        self._seed_orders(snapshot.orders)
        self._seed_fills(snapshot)
        shown = f"the last {len(snapshot.orders)} of " if len(snapshot.orders) < snapshot.orders_today else ""
        fills = f"the last {len(snapshot.fills)} of " if len(snapshot.fills) < snapshot.fills_today else ""
        self._log(
            LogLevel.INFO,
            f"today ({snapshot.trading_day}) from storage: {shown}{snapshot.orders_today} orders, "
            f"{fills}{snapshot.fills_today} fills, {len(snapshot.portfolios)} portfolios",
        )

    def _seed_portfolios(self, portfolios: tuple[PnlSnapshot, ...]) -> None:
        added = [p for p in portfolios if p.portfolio_id not in self.portfolios]
        if not added:
            return
        for pnl in added:
            self.portfolios[pnl.portfolio_id] = pnl
            ts = pnl.snapshot_ts or self.session_ts
            series = self.strategy_pnl_series.setdefault(pnl.strategy_id, deque(maxlen=PNL_POINTS))
            _sample(series, ts, self.strategy_pnl(pnl.strategy_id))
            _sample(self.pnl_series, ts, self.total_pnl())
        self.pnl_version += 1
        self._rebuild_strategies()

    def _seed_orders(self, views: tuple[OrderView, ...]) -> None:
        older: list[tuple[str, OrderRow]] = []
        for view in views:
            existing = self.orders.get(view.order_id)
            if existing is None:
                older.append((view.order_id, self._order_from_view(view)))
            elif not existing.order_type:  # made from a live fill that overtook its order: complete it
                stored = self._order_from_view(view)
                existing.correlation_id = stored.correlation_id
                existing.order_type = stored.order_type
                existing.limit_price = stored.limit_price
                existing.placed_ts = stored.placed_ts
                existing.version += 1
        if not older:
            return
        self.orders = OrderedDict(older + list(self.orders.items()))
        self._trim_orders()
        self.order_version += 1

    def _order_from_view(self, view: OrderView) -> OrderRow:
        return OrderRow(
            order_id=view.order_id,
            correlation_id=view.correlation_id,
            namespace=view.namespace,
            strategy_id=view.strategy_id,
            token=view.instrument_token,
            symbol=self.symbol(view.instrument_token),
            side=view.side,
            quantity=view.quantity,
            order_type=view.order_type.value,
            limit_price=view.limit_price,
            placed_ts=view.placed_ts,
            status=STORED_ORDER_STATUS.get(view.status, OrderStatus.OPEN),
            filled_quantity=view.filled_quantity,
            average_price=view.average_price,
            charges=view.charges,
            detail=view.status_reason,
        )

    def _seed_fills(self, snapshot: DaySnapshot) -> None:
        known = {f.trade_id for f in self.fills}
        older: list[FillRow] = []
        for view in snapshot.fills:
            fill = view.fill
            if fill.trade_id in known:
                continue
            self._stored_trades.add(fill.trade_id)
            event = Event(
                type=EventType.ORDER_FILLED,
                payload=fill,
                namespace=view.namespace,
                source="storage",
                key=fill.strategy_id,
                id=view.event_id,
                correlation_id=view.correlation_id,
            )
            self.fills_by_order.setdefault(fill.order_id, []).insert(0, event)
            self._lineage(view.correlation_id).outcomes.insert(0, event)
            older.append(
                FillRow(
                    trade_id=fill.trade_id,
                    order_id=fill.order_id,
                    namespace=view.namespace,
                    strategy_id=fill.strategy_id,
                    symbol=self.symbol(fill.instrument_token),
                    side=fill.side,
                    quantity=fill.quantity,
                    price=fill.price,
                    charges=fill.charges.total,
                    ts=fill.fill_ts or self.session_ts,
                )
            )
        if older:
            self.fills = deque(older + list(self.fills), maxlen=MAX_FILLS)
            self.order_version += 1

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
            self.pending_toggles.clear()
            self._rebuild_strategies()

    def _on_dead_letter(self, event: Event) -> None:
        letter = event.payload
        assert isinstance(letter, DeadLetter)
        self._log(
            LogLevel.ERROR,
            f"dead letter from {letter.group} on {letter.topic} "
            f"after {letter.attempts} attempts: {letter.error}",
        )

    # ------------------------------------------------------------------
    # derived views
    # ------------------------------------------------------------------
    def _log(self, level: LogLevel, text: str) -> None:
        self._log_seq += 1
        self.log.append(LogLine(self._log_seq, self.session_ts, level, text))
        self.log_version += 1

    def total_pnl(self) -> float:
        """Net P&L of every portfolio: realized + unrealized - charges (= equity - starting cash)."""
        return sum(p.realized_pnl + p.unrealized_pnl - p.charges for p in self.portfolios.values())

    def total_equity(self) -> float:
        return sum(p.equity for p in self.portfolios.values())

    def strategy_pnl(self, strategy_id: str) -> float:
        """Net P&L of a strategy across its portfolios: realized + unrealized - charges."""
        return sum(
            p.realized_pnl + p.unrealized_pnl - p.charges
            for p in self.portfolios.values()
            if p.strategy_id == strategy_id
        )

    def _rebuild_strategies(self) -> None:
        statuses = self.status.strategies if self.status is not None else ()
        rows: list[StrategyRow] = []
        for index, strategy in enumerate(statuses, start=1):
            row = StrategyRow(
                index=index,
                status=strategy,
                pending=self.pending_toggles.get(strategy.name),
                pnl=self.strategy_pnl(strategy.name),
                symbols=tuple(self.symbol(t) for t in strategy.instruments),
            )
            old = self.strategies[index - 1] if index <= len(self.strategies) else None
            if old is not None and (old.status, old.pending, old.pnl) == (row.status, row.pending, row.pnl):
                row.version = old.version
            else:
                row.version = (old.version if old is not None else 0) + 1
            rows.append(row)
        if rows != self.strategies:
            self.strategies = rows
            self.strategy_version += 1

    def strategy(self, name: str) -> StrategyRow | None:
        for row in self.strategies:
            if row.status.name == name:
                return row
        return None

    def request_toggle(self, name: str, enable: bool, command_id: str, action: CommandAction) -> None:
        """Record a toggle the console asked for, shown as pending until the engine confirms it."""
        self.pending_toggles[name] = enable
        self.record_command(command_id, action)
        self._rebuild_strategies()

    def record_command(self, command_id: str, action: CommandAction) -> None:
        self.issued_commands[command_id] = action
        if len(self.issued_commands) > 200:
            del self.issued_commands[next(iter(self.issued_commands))]

    def lineage_for_order(self, order_id: str) -> tuple[OrderRow | None, Lineage | None, list[Event]]:
        """The order, the lineage of its correlation id, and its fills (matched by order id)."""
        row = self.orders.get(order_id)
        if row is None:
            return None, None, []
        return row, self.lineages.get(row.correlation_id), list(self.fills_by_order.get(order_id, ()))

    def position_rows(self) -> list[PositionRow]:
        """One row per open or traded position, then one total row per portfolio."""
        rows: list[PositionRow] = []
        for snapshot in sorted(self.portfolios.values(), key=lambda s: s.portfolio_id):
            for pos in snapshot.positions:
                rows.append(
                    PositionRow(
                        key=f"{snapshot.portfolio_id}:{pos.instrument_token}",
                        portfolio_id=snapshot.portfolio_id,
                        symbol=self.symbol(pos.instrument_token),
                        quantity=pos.quantity,
                        average_price=pos.average_price,
                        last_price=pos.last_price,
                        realized_pnl=pos.realized_pnl,
                        unrealized_pnl=pos.unrealized_pnl,
                        charges=0.0,
                        is_total=False,
                        version=self.pnl_version,
                    )
                )
            rows.append(
                PositionRow(
                    key=f"{snapshot.portfolio_id}:total",
                    portfolio_id=snapshot.portfolio_id,
                    symbol="",
                    quantity=0,
                    average_price=0.0,
                    last_price=snapshot.equity,
                    realized_pnl=snapshot.realized_pnl,
                    unrealized_pnl=snapshot.unrealized_pnl,
                    charges=snapshot.charges,
                    is_total=True,
                    version=self.pnl_version,
                )
            )
        return rows

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
    def feed_paused(self) -> bool:
        return self.status is not None and self.status.feed_paused


def _sample(series: deque[tuple[float, float]], ts: float, value: float) -> None:
    """Append a point, or overwrite the last one if it is less than an interval old."""
    if series and ts - series[-1][0] < PNL_INTERVAL_S:
        series[-1] = (series[-1][0], value)
    else:
        series.append((ts, value))


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
    DeadLetter: UiState._on_dead_letter,
}

"""The models of the signal, risk, order and fill panes, and the lineage index behind the order trace."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence

from engine.events import (
    Event,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderView,
    Side,
    SignalRejected,
    SignalValidated,
    TradingSignal,
)
from viewmodels.revision import Revised, changes
from viewmodels.rows import DecisionRow, FillRow, Lineage, OrderRow, OrderStatus, SignalRow

MAX_SIGNALS = 200
MAX_DECISIONS = 200
MAX_ORDERS = 500
MAX_FILLS = 500
MAX_LINEAGES = 2_000

STORED_ORDER_STATUS = {
    "PLACED": OrderStatus.OPEN,
    "PARTIAL": OrderStatus.PARTIAL,
    "FILLED": OrderStatus.FILLED,
    "FAILED": OrderStatus.FAILED,
    "CANCELLED": OrderStatus.CANCELLED,
}

Symbol = Callable[[int], str]


class SignalPane(Revised):
    """The latest signals, oldest first."""

    def __init__(self, symbol: Symbol) -> None:
        super().__init__()
        self._symbol = symbol
        self.rows: deque[SignalRow] = deque(maxlen=MAX_SIGNALS)

    @changes
    def add(self, event: Event, signal: TradingSignal, now: float) -> None:
        self.rows.append(
            SignalRow(
                event_id=event.id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                strategy_id=signal.strategy_id,
                symbol=self._symbol(signal.instrument_token),
                side=signal.side,
                quantity=signal.quantity,
                price=signal.limit_price if signal.limit_price is not None else signal.reference_price,
                reason=signal.reason,
                ts=signal.signal_ts or now,
            )
        )


class DecisionPane(Revised):
    """The latest risk decisions, oldest first."""

    def __init__(self, symbol: Symbol) -> None:
        super().__init__()
        self._symbol = symbol
        self.rows: deque[DecisionRow] = deque(maxlen=MAX_DECISIONS)

    @changes
    def add(self, event: Event, decision: SignalValidated | SignalRejected, now: float) -> None:
        signal = decision.signal
        if isinstance(decision, SignalValidated):
            quantity, rule, reason = decision.quantity, "", f"ok ({len(decision.rules_passed)} rules)"
        else:
            quantity, rule, reason = signal.quantity, decision.rule, decision.reason
        self.rows.append(
            DecisionRow(
                event_id=event.id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                accepted=isinstance(decision, SignalValidated),
                strategy_id=signal.strategy_id,
                symbol=self._symbol(signal.instrument_token),
                side=signal.side,
                quantity=quantity,
                rule=rule,
                reason=reason,
                ts=signal.signal_ts or now,
            )
        )


class OrderPane(Revised):
    """Orders (oldest first, by id) and their fills: the orders and fills panes repaint together."""

    def __init__(self, symbol: Symbol) -> None:
        super().__init__()
        self._symbol = symbol
        self.by_id: OrderedDict[str, OrderRow] = OrderedDict()
        self.fills: deque[FillRow] = deque(maxlen=MAX_FILLS)
        self.fills_by_order: dict[str, list[Event]] = {}
        self._stored_trades: set[str] = set()  # fills the day snapshot brought, not to be counted again

    def get(self, order_id: str) -> OrderRow | None:
        return self.by_id.get(order_id)

    def fills_of(self, order_id: str) -> list[Event]:
        return list(self.fills_by_order.get(order_id, ()))

    def from_storage(self, trade_id: str) -> bool:
        """The day snapshot already brought this fill (and its order's totals)."""
        return trade_id in self._stored_trades

    # -- live events ---------------------------------------------------------------------
    @changes
    def placed(self, event: Event, order: OrderPlaced, now: float) -> None:
        existing = self.by_id.get(order.order_id)
        if existing is not None:  # a fill overtook its order (attached late): keep what the fill told us
            existing.correlation_id = event.correlation_id
            existing.placed_ts = order.placed_ts or existing.placed_ts
            existing.version += 1
            return
        self.by_id[order.order_id] = OrderRow(
            order_id=order.order_id,
            correlation_id=event.correlation_id,
            namespace=event.namespace,
            strategy_id=order.strategy_id,
            token=order.instrument_token,
            symbol=self._symbol(order.instrument_token),
            side=order.side,
            quantity=order.quantity,
            order_type=order.order_type.value,
            limit_price=order.limit_price,
            placed_ts=order.placed_ts or now,
        )
        self._trim()

    @changes
    def filled(self, event: Event, fill: OrderFilled, now: float) -> OrderRow:
        row = self._row(
            event, fill.order_id, fill.strategy_id, fill.instrument_token, fill.side, fill.quantity, now
        )
        self.fills_by_order.setdefault(fill.order_id, []).append(event)
        total = row.filled_quantity + fill.quantity
        row.average_price = (row.average_price * row.filled_quantity + fill.price * fill.quantity) / total
        row.filled_quantity = total
        row.charges += fill.charges.total
        row.status = OrderStatus.FILLED if fill.remaining_quantity <= 0 else OrderStatus.PARTIAL
        row.version += 1
        self.fills.append(self._fill_row(fill, event, row.symbol, now))
        return row

    @changes
    def failed(self, event: Event, failed: OrderFailed, now: float) -> OrderRow:
        row = self._row(
            event,
            failed.order_id,
            failed.strategy_id,
            failed.instrument_token,
            failed.side,
            failed.quantity,
            now,
        )
        row.status = OrderStatus.FAILED
        row.detail = failed.reason
        row.version += 1
        return row

    @changes
    def cancelled(self, row: OrderRow, cancelled: OrderCancelled) -> None:
        row.status = OrderStatus.CANCELLED
        row.detail = cancelled.reason
        row.version += 1

    # -- the day so far, from storage --------------------------------------------------------
    @changes
    def seed_orders(self, views: Sequence[OrderView]) -> bool:
        """Add stored orders not seen live, older than the live ones; complete a row a live fill made."""
        older: list[tuple[str, OrderRow]] = []
        for view in views:
            existing = self.by_id.get(view.order_id)
            if existing is None:
                older.append((view.order_id, self._from_view(view)))
            elif not existing.order_type:  # made from a live fill that overtook its order: complete it
                stored = self._from_view(view)
                existing.correlation_id = stored.correlation_id
                existing.order_type = stored.order_type
                existing.limit_price = stored.limit_price
                existing.placed_ts = stored.placed_ts
                existing.version += 1
        if not older:
            return False
        self.by_id = OrderedDict(older + list(self.by_id.items()))
        self._trim()
        return True

    def shown_trades(self) -> set[str]:
        return {f.trade_id for f in self.fills}

    @changes
    def seed_fills(self, events: Iterable[Event], now: float) -> None:
        """Stored fills not seen live (events of OrderFilled), oldest first, shown before the live ones."""
        older: list[FillRow] = []
        for event in events:
            fill = event.payload
            assert isinstance(fill, OrderFilled)
            self._stored_trades.add(fill.trade_id)
            self.fills_by_order.setdefault(fill.order_id, []).insert(0, event)
            older.append(self._fill_row(fill, event, self._symbol(fill.instrument_token), now))
        self.fills = deque(older + list(self.fills), maxlen=MAX_FILLS)

    # -- rows -----------------------------------------------------------------------------------
    def _row(
        self, event: Event, order_id: str, strategy_id: str, token: int, side: Side, qty: int, now: float
    ) -> OrderRow:
        """The order's row; made from what an outcome tells when the order itself was not seen."""
        row = self.by_id.get(order_id)
        if row is None:
            row = OrderRow(
                order_id=order_id,
                correlation_id=event.correlation_id,
                namespace=event.namespace,
                strategy_id=strategy_id,
                token=token,
                symbol=self._symbol(token),
                side=side,
                quantity=qty,
                order_type="",
                limit_price=None,
                placed_ts=now,
            )
            self.by_id[order_id] = row
            self._trim()
        return row

    def _trim(self) -> None:
        while len(self.by_id) > MAX_ORDERS:
            order_id, _ = self.by_id.popitem(last=False)
            self.fills_by_order.pop(order_id, None)

    @staticmethod
    def _fill_row(fill: OrderFilled, event: Event, symbol: str, now: float) -> FillRow:
        return FillRow(
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            namespace=event.namespace,
            strategy_id=fill.strategy_id,
            symbol=symbol,
            side=fill.side,
            quantity=fill.quantity,
            price=fill.price,
            charges=fill.charges.total,
            ts=fill.fill_ts or now,
        )

    def _from_view(self, view: OrderView) -> OrderRow:
        return OrderRow(
            order_id=view.order_id,
            correlation_id=view.correlation_id,
            namespace=view.namespace,
            strategy_id=view.strategy_id,
            token=view.instrument_token,
            symbol=self._symbol(view.instrument_token),
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


class LineageIndex:
    """Everything seen per correlation id (tick -> signal -> decision -> orders -> outcomes), the newest
    MAX_LINEAGES; each lineage's own version moves when it grows."""

    def __init__(self) -> None:
        self._by_id: OrderedDict[str, Lineage] = OrderedDict()

    def get(self, correlation_id: str) -> Lineage | None:
        return self._by_id.get(correlation_id)

    def growing(self, correlation_id: str) -> Lineage:
        """The lineage, made if new, with its version moved: the caller is about to add to it."""
        lineage = self._by_id.get(correlation_id)
        if lineage is None:
            lineage = Lineage(correlation_id)
            self._by_id[correlation_id] = lineage
            if len(self._by_id) > MAX_LINEAGES:
                self._by_id.popitem(last=False)
        lineage.version += 1
        return lineage

    def __len__(self) -> int:
        return len(self._by_id)

"""The lineage of one order: tick -> signal -> risk decision -> order -> fills, joined by correlation id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Static

from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.ui_state import UiState
from engine.events import (
    Event,
    MarketTick,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    SignalRejected,
    SignalValidated,
    TradingSignal,
)
from viewmodels.keys import Scope
from viewmodels.rows import Lineage, OrderRow, OrderStatus
from widgets.bindings import bindings
from widgets.format import ist_hms_ms, money, price, volume
from widgets.header_bar import HeaderBar
from widgets.key_footer import KeyFooter

NOT_SEEN = "not seen by the console (it attached later, or the event left its recent window)"


@dataclass(frozen=True, slots=True)
class TraceStage:
    kind: str  # tick, signal, risk, order, fill, failed, cancelled
    title: str
    text: str
    event: Event | None  # None when the console never saw this stage
    ok: bool = True


def _tick_text(tick: MarketTick, symbol: str) -> str:
    bid = tick.bids[0].price if tick.bids else 0.0
    ask = tick.asks[0].price if tick.asks else 0.0
    return (
        f"{symbol}  LTP {price(tick.last_price)}  bid {price(bid)}  ask {price(ask)}  "
        f"vol {volume(tick.volume)}  feed time {ist_hms_ms(tick.exchange_ts)}"
    )


def _signal_text(signal: TradingSignal, symbol: str) -> str:
    limit = f" limit {price(signal.limit_price)}" if signal.limit_price is not None else ""
    reason = f"\nreason: {signal.reason}" if signal.reason else ""
    return (
        f"{signal.strategy_id}: {signal.side.value} {signal.quantity} {symbol} {signal.order_type.value}"
        f"{limit} {signal.product.value}  ref {price(signal.reference_price)}  "
        f"confidence {signal.confidence:.2f}{reason}"
    )


def _fill_text(fill: OrderFilled) -> str:
    c = fill.charges
    return (
        f"{fill.trade_id}: {fill.side.value} {fill.quantity} @ {price(fill.price)}  "
        f"remaining {fill.remaining_quantity}  at {ist_hms_ms(fill.fill_ts)}\n"
        f"charges {money(c.total)} = brokerage {money(c.brokerage)} + STT {money(c.stt)} + "
        f"exchange {money(c.exchange)} + SEBI {money(c.sebi)} + GST {money(c.gst)} + "
        f"stamp {money(c.stamp_duty)}"
    )


def build_trace(
    order: OrderRow, lineage: Lineage | None, fills: Sequence[Event], state: UiState
) -> list[TraceStage]:
    """The stages of an order's life in order, with a placeholder for any the console did not see."""
    seen = lineage if lineage is not None else Lineage(order.correlation_id)
    return [
        _tick_stage(seen.tick, state),
        _signal_stage(seen.signal, state),
        _risk_stage(seen.decision),
        _order_stage(order, seen.orders),
        *_outcome_stages(order, fills, seen.outcomes),
    ]


def _tick_stage(tick: Event | None, state: UiState) -> TraceStage:
    if tick is None or not isinstance(tick.payload, MarketTick):
        return TraceStage("tick", "TICK", NOT_SEEN, None)
    text = _tick_text(tick.payload, state.symbol(tick.payload.instrument_token))
    return TraceStage("tick", "TICK", text, tick)


def _signal_stage(signal: Event | None, state: UiState) -> TraceStage:
    if signal is None or not isinstance(signal.payload, TradingSignal):
        return TraceStage("signal", "SIGNAL", NOT_SEEN, None)
    text = _signal_text(signal.payload, state.symbol(signal.payload.instrument_token))
    return TraceStage("signal", "SIGNAL", text, signal)


def _risk_stage(decision: Event | None) -> TraceStage:
    payload = decision.payload if decision is not None else None
    if isinstance(payload, SignalValidated):
        passed = ", ".join(payload.rules_passed) or "none listed"
        text = f"ACCEPTED, quantity {payload.quantity}\nrules passed: {passed}"
        return TraceStage("risk", "RISK", text, decision)
    if isinstance(payload, SignalRejected):
        text = f"REJECTED by {payload.rule}: {payload.reason}"
        return TraceStage("risk", "RISK", text, decision, ok=False)
    return TraceStage("risk", "RISK", NOT_SEEN, None)


def _order_stage(order: OrderRow, placements: Sequence[Event]) -> TraceStage:
    """This order's placement among the lineage's (one signal may place more than one order)."""
    for event in placements:
        p = event.payload
        if isinstance(p, OrderPlaced) and p.order_id == order.order_id:
            limit = f" @ {price(p.limit_price)}" if p.limit_price is not None else ""
            text = (
                f"{p.order_id}: {p.order_type.value}{limit} {p.product.value} {p.side.value} {p.quantity} "
                f"{order.symbol}  [{order.namespace.value}]  placed {ist_hms_ms(p.placed_ts)}"
            )
            return TraceStage("order", "ORDER", text, event)
    return TraceStage("order", "ORDER", f"{order.order_id}: placement {NOT_SEEN}", None)


def _outcome_stages(order: OrderRow, fills: Sequence[Event], outcomes: Sequence[Event]) -> list[TraceStage]:
    """The order's fills, then its failure or cancellation; what the order row says if none was seen."""
    ends = [
        e
        for e in outcomes
        if isinstance(e.payload, OrderFailed | OrderCancelled) and e.payload.order_id == order.order_id
    ]
    if not fills and not ends:
        return [_unseen_outcome(order)]
    return [stage for event in (*fills, *ends) if (stage := _outcome_stage(event)) is not None]


def _outcome_stage(event: Event) -> TraceStage | None:
    payload = event.payload
    if isinstance(payload, OrderFilled):
        return TraceStage("fill", "FILL", _fill_text(payload), event)
    if isinstance(payload, OrderFailed):
        return TraceStage("failed", "FAILED", payload.reason, event, ok=False)
    if isinstance(payload, OrderCancelled):
        text = f"{payload.unfilled_quantity} unfilled: {payload.reason}"
        return TraceStage("cancelled", "CANCELLED", text, event, ok=False)
    return None


def _unseen_outcome(order: OrderRow) -> TraceStage:
    """What the order row (from live events or storage) says when the console saw no outcome event."""
    if order.status is OrderStatus.FAILED:
        return TraceStage("failed", "FAILED", order.detail or "failed", None, ok=False)
    if order.status is OrderStatus.CANCELLED:
        return TraceStage("cancelled", "CANCELLED", order.detail or "cancelled", None, ok=False)
    if order.filled_quantity:
        text = f"{order.filled_quantity}/{order.quantity} filled; the fills {NOT_SEEN}"
        return TraceStage("fill", "FILL", text, None)
    return TraceStage("fill", "FILL", "no fill yet", None)


def gap_text(previous: Event | None, current: Event | None) -> str:
    """The time between two stages as the bus saw them."""
    if previous is None or current is None:
        return ""
    return f"+{(current.ts - previous.ts) * 1000:.2f} ms"


def heading(order: OrderRow) -> str:
    return (
        f"Order {order.order_id}: {order.strategy_id} {order.side.value} {order.quantity} {order.symbol}"
        f"  {order.status.value}  filled {order.filled_quantity}/{order.quantity}"
        + (f" @ {price(order.average_price)}" if order.filled_quantity else "")
    )


class OrderTraceScreen(LiveScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.DETAIL))

    def __init__(self, order_id: str) -> None:
        super().__init__(classes="detail-screen")
        self.order_id = order_id
        self._seen: object = None
        self._header_seen: object = None

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Label(f"Order {self.order_id}", id="trace-title", classes="screen-title")
        yield VerticalScroll(id="trace-body")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#trace-body").focus()

    def sync(self, state: UiState, *, force: bool = False) -> None:
        header_version = (state.engine.revision, int(state.session_ts))
        if header_version != self._header_seen:
            self._header_seen = header_version
            self.query_one(HeaderBar).show_status(state.status, state.session_ts)
        order, lineage, fills = state.lineage_for_order(self.order_id)
        version = (
            order.version if order else None,
            lineage.version if lineage else None,
            len(fills),
        )
        if version == self._seen:
            return
        self._seen = version
        body = self.query_one("#trace-body", VerticalScroll)
        body.remove_children()
        if order is None:
            self.query_one("#trace-title", Label).update(f"Order {self.order_id}")
            body.mount(Static("The console no longer holds this order.", classes="trace-missing"))
            return
        self.query_one("#trace-title", Label).update(heading(order))
        previous: Event | None = None
        rows: list[Widget] = []
        for n, stage in enumerate(build_trace(order, lineage, fills, state)):
            if n:
                rows.append(Label(f"↓ {gap_text(previous, stage.event)}", classes="trace-gap"))
            kind = Label(stage.title, classes=f"stage-kind -{stage.kind}" + ("" if stage.ok else " -bad"))
            text = Static(
                stage.text, classes="stage-text" + ("" if stage.event else " -missing"), markup=False
            )
            rows.append(Horizontal(kind, text, classes="stage"))
            previous = stage.event or previous
        body.mount_all(rows)

    def action_back(self) -> None:
        self.dismiss(None)

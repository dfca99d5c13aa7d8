"""The lineage of one order: tick -> signal -> risk decision -> order -> fills, joined by correlation id.

What the console saw live comes first; on opening, the screen also asks the engine for the order's
stored story, which fills in whatever the console did not see (an order from before it started or
attached, or one whose events left its recent window).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Static

from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.ui_state import UiState
from engine.events import (
    Event,
    MarketTick,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderTrace,
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

log = logging.getLogger(__name__)

NOT_SEEN = "not seen by the console (it attached later, or the event left its recent window)"
NOT_STORED = "not stored (the engine's event log keeps no ticks)"
LOADING = "Part of this order's story was not seen by the console: asking the engine's storage..."
FROM_STORAGE = "Filled in from the engine's storage: the console did not see all of this order live."


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
    order: OrderRow,
    lineage: Lineage | None,
    fills: Sequence[Event],
    state: UiState,
    *,
    no_tick: str = NOT_SEEN,
) -> list[TraceStage]:
    """The stages of an order's life in order, with a placeholder for any the console did not see."""
    seen = lineage if lineage is not None else Lineage(order.correlation_id)
    return [
        _tick_stage(seen.tick, state, no_tick),
        _signal_stage(seen.signal, state),
        _risk_stage(seen.decision),
        _order_stage(order, seen.orders),
        *_outcome_stages(order, fills, seen.outcomes),
    ]


def _tick_stage(tick: Event | None, state: UiState, missing: str) -> TraceStage:
    if tick is None or not isinstance(tick.payload, MarketTick):
        return TraceStage("tick", "TICK", missing, None)
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


def incomplete(order: OrderRow | None, lineage: Lineage | None, fills: Sequence[Event]) -> bool:
    """The console lacks part of the story after the tick (which storage has no more of either)."""
    if order is None or lineage is None or lineage.signal is None or lineage.decision is None:
        return True
    return _placement(lineage.orders, order.order_id) is None or (order.filled_quantity > 0 and not fills)


@dataclass(frozen=True, slots=True)
class Story:
    order: OrderRow | None
    lineage: Lineage | None
    fills: list[Event]
    note: str  # where the story comes from, when not all from what the console saw


def story(
    order_id: str,
    seen: tuple[OrderRow | None, Lineage | None, list[Event]],
    stored: OrderTrace | None,
    state: UiState,
) -> Story:
    """What the console saw of an order, completed from the engine's stored story when it lacks a part."""
    order, lineage, fills = seen
    if not incomplete(order, lineage, fills):
        return Story(order, lineage, fills, "")
    if stored is None:
        return Story(order, lineage, fills, LOADING)
    if not stored.found:
        return Story(order, lineage, fills, f"Not in the engine's storage: {stored.detail}")
    events = stored.events
    mine = [e for e in events if getattr(e.payload, "order_id", None) == order_id]
    live = lineage if lineage is not None else Lineage(events[0].correlation_id if events else "")
    merged = Lineage(
        live.correlation_id or (events[0].correlation_id if events else ""),
        tick=live.tick,
        signal=live.signal or _first(events, TradingSignal),
        decision=live.decision or _first(events, SignalValidated, SignalRejected),
        orders=_union(live.orders, [e for e in mine if isinstance(e.payload, OrderPlaced)]),
        outcomes=_union(
            live.outcomes, [e for e in mine if isinstance(e.payload, OrderFailed | OrderCancelled)]
        ),
    )
    all_fills = _union(fills, [e for e in mine if isinstance(e.payload, OrderFilled)])
    all_fills.sort(key=lambda e: e.payload.fill_ts if isinstance(e.payload, OrderFilled) else e.ts)
    if order is None:
        order = _stored_order(order_id, merged, all_fills, state)
    return Story(order, merged, all_fills, FROM_STORAGE)


def _placement(placements: Sequence[Event], order_id: str) -> Event | None:
    """The order's placement among its lineage's (one signal may place more than one order)."""
    return next(
        (e for e in placements if isinstance(e.payload, OrderPlaced) and e.payload.order_id == order_id), None
    )


def _first(events: Sequence[Event], *kinds: type) -> Event | None:
    return next((e for e in events if isinstance(e.payload, kinds)), None)


def _union(seen: Sequence[Event], stored: Sequence[Event]) -> list[Event]:
    ids = {e.id for e in seen}
    return [*seen, *(e for e in stored if e.id not in ids)]


def _stored_order(order_id: str, lineage: Lineage, fills: Sequence[Event], state: UiState) -> OrderRow | None:
    """The order as its stored events tell it, for an order the console no longer (or never) held."""
    placed = _placement(lineage.orders, order_id)
    if placed is None or not isinstance(placed.payload, OrderPlaced):
        return None
    p = placed.payload
    filled = [e.payload for e in fills if isinstance(e.payload, OrderFilled)]
    quantity = sum(f.quantity for f in filled)
    ends = [e.payload for e in lineage.outcomes if getattr(e.payload, "order_id", None) == order_id]
    status = OrderStatus.OPEN
    if quantity:
        status = OrderStatus.FILLED if quantity >= p.quantity else OrderStatus.PARTIAL
    detail = ""
    for end in ends:
        if isinstance(end, OrderFailed):
            status, detail = OrderStatus.FAILED, end.reason
        elif isinstance(end, OrderCancelled):
            status, detail = OrderStatus.CANCELLED, end.reason
    return OrderRow(
        order_id=order_id,
        correlation_id=lineage.correlation_id,
        namespace=placed.namespace,
        strategy_id=p.strategy_id,
        token=p.instrument_token,
        symbol=state.symbol(p.instrument_token),
        side=p.side,
        quantity=p.quantity,
        order_type=p.order_type.value,
        limit_price=p.limit_price,
        placed_ts=p.placed_ts,
        status=status,
        filled_quantity=quantity,
        average_price=sum(f.quantity * f.price for f in filled) / quantity if quantity else 0.0,
        charges=sum(f.charges.total for f in filled),
        detail=detail,
    )


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
        self._ask_failed = ""  # why the stored story could not be asked for

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Label(f"Order {self.order_id}", id="trace-title", classes="screen-title")
        yield VerticalScroll(id="trace-body")
        yield KeyFooter()

    async def on_mount(self) -> None:
        self.query_one("#trace-body").focus()
        bridge = getattr(self.app, "bridge", None)
        if isinstance(bridge, UiBridge):
            try:
                await bridge.request_order_trace(self.order_id)
            except (OSError, RuntimeError) as exc:  # a console whose link to the engine is down
                log.warning("could not ask for the stored story of %s: %s", self.order_id, exc)
                self._ask_failed = f"Could not ask the engine for the stored story ({exc}); reopen to retry."
                self._seen = None

    def sync(self, state: UiState, *, force: bool = False) -> None:
        header_version = (state.engine.revision, int(state.session_ts))
        if header_version != self._header_seen:
            self._header_seen = header_version
            self.query_one(HeaderBar).show_status(state.status, state.session_ts)
        seen = state.lineage_for_order(self.order_id)
        stored = state.traces.get(self.order_id)
        order, lineage, fills = seen
        version = (
            order.version if order else None,
            lineage.version if lineage else None,
            len(fills),
            id(stored),
        )
        if version == self._seen:
            return
        self._seen = version
        told = story(self.order_id, seen, stored, state)
        if told.note == LOADING and self._ask_failed:
            told = Story(told.order, told.lineage, told.fills, self._ask_failed)
        order, lineage, fills = told.order, told.lineage, told.fills
        body = self.query_one("#trace-body", VerticalScroll)
        body.remove_children()
        rows: list[Widget] = []
        if told.note:
            rows.append(Static(told.note, classes="trace-source", markup=False))
        if order is None:
            self.query_one("#trace-title", Label).update(f"Order {self.order_id}")
            rows.append(Static("The console no longer holds this order.", classes="trace-missing"))
            body.mount_all(rows)
            return
        self.query_one("#trace-title", Label).update(heading(order))
        previous: Event | None = None
        no_tick = (
            NOT_STORED
            if told.note == FROM_STORAGE and lineage is not None and lineage.tick is None
            else NOT_SEEN
        )
        for n, stage in enumerate(build_trace(order, lineage, fills, state, no_tick=no_tick)):
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

"""The trading day so far, for a console that starts (or attaches) mid-day.

A console publishes a `DaySnapshotRequest` on control.commands; this service
answers on engine.status with a `DaySnapshot`: today's orders and fills from
storage (today = the IST day of the engine's clock; the newest N of each, so a
busy day cannot stall a console's start), every portfolio's current P&L and
positions, and the engine's status (kill switch and latches); and, when asked,
the engine's recent non-tick events and the P&L curves so far (engine.recent_events).
The console seeds its state from it; live events it has already seen win over the snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import msgspec

from engine.bus.base import Bus
from engine.clock import Clock
from engine.events import (
    DaySnapshot,
    DaySnapshotRequest,
    EngineStatus,
    EquityPoint,
    Event,
    FillView,
    Namespace,
    OrderView,
    PnlSnapshot,
)
from engine.portfolio.manager import PortfolioManager
from engine.portfolio.portfolio import Portfolio
from engine.recent_events import RecentEvents
from engine.risk.loss_latch import IST_OFFSET_S, ist_day, ist_day_iso
from engine.service import Service
from engine.storage.database import Database
from engine.storage.repository import fills_between, order_fill_totals, orders_between
from engine.topics import ENGINE_STATUS, console_topics

log = logging.getLogger(__name__)

MAX_ROWS = 2_000  # a request may ask for fewer; never more
# under Kafka's default 1 MB message limit with room for the envelope; a busy day with full
# curves and 500 recent events comes to ~1 MB, so the oldest of something gives way
MAX_SNAPSHOT_BYTES = 900_000
DAY_S = 86_400
GROUP = "day_snapshot"


def ist_day_bounds(ts: float) -> tuple[float, float]:
    """[start, end) in epoch seconds of the IST calendar day holding `ts`."""
    start = ist_day(ts) * DAY_S - IST_OFFSET_S
    return float(start), float(start + DAY_S)


async def build_day_snapshot(
    *,
    request_id: str,
    db: Database | None,
    namespaces: Sequence[Namespace],
    portfolios: Mapping[Namespace, PortfolioManager],
    clock: Clock,
    status: EngineStatus,
    max_orders: int = 500,
    max_fills: int = 500,
    recent: Sequence[Event] = (),
    equity: Sequence[EquityPoint] = (),
) -> DaySnapshot:
    now = clock.now()
    start, end = ist_day_bounds(now)
    max_orders = max(0, min(max_orders, MAX_ROWS))
    max_fills = max(0, min(max_fills, MAX_ROWS))
    orders: list[OrderView] = []
    fills: list[FillView] = []
    orders_today = fills_today = 0
    if db is not None:
        for ns in namespaces:
            records, count = await orders_between(db, ns, start, end, max_orders)
            orders_today += count
            totals = await order_fill_totals(db, ns, [r.order_id for r in records])
            for r in records:
                filled = totals.get(r.order_id)
                average = filled.notional / filled.quantity if filled and filled.quantity else 0.0
                orders.append(
                    OrderView(
                        order_id=r.order_id,
                        namespace=r.namespace,
                        strategy_id=r.strategy_id,
                        instrument_token=r.instrument_token,
                        side=r.side,
                        quantity=r.quantity,
                        order_type=r.order_type,
                        limit_price=r.limit_price,
                        status=r.status.value,
                        status_reason=r.status_reason,
                        filled_quantity=r.filled_quantity,
                        average_price=average,
                        charges=filled.charges if filled else 0.0,
                        placed_ts=r.placed_ts,
                        correlation_id=r.correlation_id,
                    )
                )
            stored, count = await fills_between(db, ns, start, end, max_fills)
            fills_today += count
            fills.extend(
                FillView(namespace=ns, event_id=s.event_id, correlation_id=s.correlation_id, fill=s.fill)
                for s in stored
            )
    # several namespaces: keep the newest overall, oldest first
    orders = sorted(orders, key=lambda o: o.placed_ts)[-max_orders:] if max_orders else []
    fills = sorted(fills, key=lambda f: f.fill.fill_ts)[-max_fills:] if max_fills else []
    books = [
        pnl_of(portfolio, now)
        for ns in namespaces
        if (manager := portfolios.get(ns)) is not None
        for portfolio in manager.portfolios.values()
    ]
    return DaySnapshot(
        request_id=request_id,
        trading_day=ist_day_iso(ist_day(now)),
        status=status,
        portfolios=tuple(books),
        orders=tuple(orders),
        fills=tuple(fills),
        orders_today=orders_today,
        fills_today=fills_today,
        recent=tuple(recent),
        equity=tuple(equity),
    )


def fit(snapshot: DaySnapshot, max_bytes: int = MAX_SNAPSHOT_BYTES) -> DaySnapshot:
    """The snapshot, its largest part halved (the newest half kept) until it encodes to `max_bytes`:
    recent events (each portfolio's latest P&L snapshot stays), orders, fills or curve points."""
    encode = msgspec.json.encode
    while len(encode(snapshot)) > max_bytes:
        kept = tuple(e for e in snapshot.recent if not isinstance(e.payload, PnlSnapshot))
        latest = tuple(e for e in snapshot.recent if isinstance(e.payload, PnlSnapshot))
        parts = {
            "recent": kept,
            "orders": snapshot.orders,
            "fills": snapshot.fills,
            "equity": snapshot.equity,
        }
        name, items = max(parts.items(), key=lambda part: len(encode(part[1])))
        if len(items) <= 1:
            break  # nothing left to halve: what remains is the status and portfolios
        newest = items[len(items) // 2 :]
        if name == "recent":
            snapshot = msgspec.structs.replace(snapshot, recent=(*newest, *latest))
        else:
            snapshot = msgspec.structs.replace(snapshot, **{name: newest})
    return snapshot


def pnl_of(portfolio: Portfolio, ts: float) -> PnlSnapshot:
    """A portfolio's P&L now, as its own snapshots report it (without adding to its equity curve)."""
    return PnlSnapshot(
        portfolio_id=portfolio.portfolio_id,
        strategy_id=portfolio.strategy_id,
        realized_pnl=portfolio.realized_pnl,
        unrealized_pnl=portfolio.unrealized_pnl,
        charges=portfolio.charges,
        cash=portfolio.cash,
        equity=portfolio.equity,
        positions=tuple(p.view() for p in portfolio.positions.values() if p.quantity),
        snapshot_ts=ts,
    )


class DaySnapshotService(Service):
    """Answers each DaySnapshotRequest with a DaySnapshot on engine.status; keeps the recent events
    and P&L curves it sends from what a console sees (ticks aside), in the same stream as the requests."""

    name = GROUP

    def __init__(
        self,
        bus: Bus,
        *,
        db: Database | None,
        namespaces: Sequence[Namespace],
        portfolios: Mapping[Namespace, PortfolioManager],
        clock: Clock,
        status: Callable[[], EngineStatus],
        recent: RecentEvents | None = None,
    ) -> None:
        super().__init__(bus)
        self.recent = recent if recent is not None else RecentEvents()
        self.db = db
        self.namespaces = tuple(namespaces)
        self.portfolios = portfolios
        self.clock = clock
        self._status = status

    def wire(self) -> None:
        self.bus.subscribe(console_topics(self.namespaces, ticks=False), GROUP, self._on_event)

    async def build(
        self, request_id: str, max_orders: int = 500, max_fills: int = 500, recent_events: int = 0
    ) -> DaySnapshot:
        # taken before storage is read (which yields): exactly the events published before the request
        recent = self.recent.recent(recent_events)
        equity = self.recent.equity()
        return await build_day_snapshot(
            request_id=request_id,
            db=self.db,
            namespaces=self.namespaces,
            portfolios=self.portfolios,
            clock=self.clock,
            status=self._status(),
            max_orders=max_orders,
            max_fills=max_fills,
            recent=recent,
            equity=equity,
        )

    async def _on_event(self, event: Event) -> None:
        request = event.payload
        if not isinstance(request, DaySnapshotRequest):
            self.recent.fold(event)
            return
        built = await self.build(event.id, request.max_orders, request.max_fills, request.recent_events)
        snapshot = fit(built)
        log.info(
            "day snapshot for %s: %d of %d orders, %d of %d fills, %d portfolios, "
            "%d recent events, %d P&L points",
            snapshot.trading_day,
            len(snapshot.orders),
            snapshot.orders_today,
            len(snapshot.fills),
            snapshot.fills_today,
            len(snapshot.portfolios),
            len(snapshot.recent),
            len(snapshot.equity),
        )
        await self.bus.publish(
            ENGINE_STATUS, event.child(snapshot, source=self.name, key=GROUP, namespace=Namespace.SHARED)
        )

"""Reads from storage (and the small engine-state key/value writes)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, Table, func, select

from engine.events import (
    Charges,
    Event,
    MalformedEvent,
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Product,
    Side,
)
from engine.execution.working import UnresolvedOrder
from engine.storage import models
from engine.storage.database import Database
from engine.storage.event_codec import decode_body
from engine.storage.models import OPEN_ORDER_STATUSES

log = logging.getLogger(__name__)


class DbStateStore:
    """`engine.state.StateStore` on the `engine_state` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_state(self, key: str) -> dict[str, Any] | None:
        table = models.engine_state
        async with self.db.engine.connect() as conn:
            value = (await conn.execute(select(table.c.value).where(table.c.key == key))).scalar()
        return dict(value) if value is not None else None

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        table = models.engine_state
        now = time.time()
        stmt = self.db.insert(table).values(key=key, value=dict(value), updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key], set_={"value": stmt.excluded.value, "updated_at": now}
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(stmt)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_id: str
    namespace: Namespace
    strategy_id: str
    instrument_token: int
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    limit_price: float | None
    status: models.OrderStatus
    status_reason: str
    filled_quantity: int
    placed_ts: float
    updated_ts: float
    correlation_id: str


async def load_fills(db: Database, namespace: Namespace) -> list[OrderFilled]:
    """Every stored fill of a namespace, in the order the pipeline handled them: what a restart
    rebuilds positions from.

    Storage order, not `fill_ts`: a simulated session clock restarts its day on every launch,
    so feed times of two runs interleave, while the insert order is the order the portfolio
    saw (per strategy even on a partitioned bus, as fills are keyed by strategy).
    """
    table = models.fills
    stmt = select(table).where(table.c.namespace == namespace.value).order_by(table.c.id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [_fill_from_row(row) for row in rows]


async def load_unresolved_orders(db: Database, namespace: Namespace) -> list[UnresolvedOrder]:
    """Every stored order of a namespace still PLACED or PARTIAL, oldest first, with the sum of
    its stored fills (counted from the fills, not from the order row's own column)."""
    orders, fills = models.orders, models.fills
    filled = (
        select(func.coalesce(func.sum(fills.c.quantity), 0))
        .where(fills.c.namespace == orders.c.namespace, fills.c.order_id == orders.c.order_id)
        .correlate(orders)
        .scalar_subquery()
        .label("stored_fills")
    )
    stmt = (
        select(orders, filled)
        .where(
            orders.c.namespace == namespace.value,
            orders.c.status.in_([s.value for s in OPEN_ORDER_STATUSES]),
        )
        .order_by(orders.c.id)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [
        UnresolvedOrder(
            order=OrderPlaced(
                order_id=row["order_id"],
                strategy_id=row["strategy_id"],
                instrument_token=row["instrument_token"],
                side=Side(row["side"]),
                quantity=row["quantity"],
                order_type=OrderType(row["order_type"]),
                product=Product(row["product"]),
                limit_price=_price_or_none(row["limit_price"]),
                placed_ts=row["placed_ts"],
            ),
            filled_quantity=int(row["stored_fills"]),
            correlation_id=row["correlation_id"],
        )
        for row in rows
    ]


async def fill_count(db: Database, namespace: Namespace) -> int:
    table = models.fills
    stmt = select(func.count()).select_from(table).where(table.c.namespace == namespace.value)
    async with db.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def recent_orders(db: Database, namespace: Namespace, limit: int = 50) -> list[OrderRecord]:
    """The newest orders first."""
    table = models.orders
    stmt = (
        select(table)
        .where(table.c.namespace == namespace.value)
        .order_by(table.c.placed_ts.desc(), table.c.id.desc())
        .limit(limit)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [_order_record(row) for row in rows]


async def find_order(db: Database, order_id: str) -> OrderRecord | None:
    """The stored order with this id (the newest, should two namespaces share an id), or None."""
    table = models.orders
    stmt = select(table).where(table.c.order_id == order_id).order_by(table.c.placed_ts.desc()).limit(1)
    async with db.engine.connect() as conn:
        row = (await conn.execute(stmt)).mappings().first()
    return _order_record(row) if row is not None else None


async def trace(db: Database, correlation_id: str) -> list[Event]:
    """The stored lineage of one correlation id (signal -> risk -> order -> fills), oldest first."""
    table = models.event_log
    stmt = (
        select(table.c.event_id, table.c.causation_id, table.c.ts, table.c.body)
        .where(table.c.correlation_id == correlation_id)
        .order_by(table.c.ts, table.c.event_id)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    events: list[Event] = []
    for event_id, causation_id, ts, body in rows:
        try:
            lineage = {"event_id": event_id, "correlation_id": correlation_id, "causation_id": causation_id}
            events.append(decode_body(bytes(body), ts=ts, **lineage))
        except MalformedEvent as exc:
            log.warning("event_log row %s is not a readable event: %s", event_id, exc)
    return events


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A stored fill with the envelope fields it was published with."""

    fill: OrderFilled
    event_id: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class OrderFillTotals:
    quantity: int
    notional: float  # sum of quantity * price
    charges: float


@dataclass(frozen=True, slots=True)
class ChargesLedger:
    """Every stored fill's charges summed exactly, to reconcile with a contract note: `total` is
    the sum of the stored per-fill totals, and equals the sum of the parts to the paisa."""

    fills: int
    turnover: Decimal  # sum of quantity * price
    brokerage: Decimal
    stt: Decimal
    exchange: Decimal
    sebi: Decimal
    gst: Decimal
    stamp_duty: Decimal
    total: Decimal

    @property
    def parts_total(self) -> Decimal:
        return self.brokerage + self.stt + self.exchange + self.sebi + self.gst + self.stamp_duty


async def _newest_between(
    db: Database,
    table: Table,
    ts_column: str,
    namespace: Namespace,
    start_ts: float,
    end_ts: float,
    limit: int,
) -> tuple[list[RowMapping], int]:
    """The newest `limit` rows of a namespace with `ts_column` in [start_ts, end_ts), oldest first, and
    how many there are."""
    ts = table.c[ts_column]
    where = (table.c.namespace == namespace.value) & (ts >= start_ts) & (ts < end_ts)
    newest = select(table).where(where).order_by(ts.desc(), table.c.id.desc()).limit(limit)
    async with db.engine.connect() as conn:
        total = int((await conn.execute(select(func.count()).select_from(table).where(where))).scalar_one())
        rows = (await conn.execute(newest)).mappings().all()
    return list(reversed(rows)), total


async def orders_between(
    db: Database, namespace: Namespace, start_ts: float, end_ts: float, limit: int
) -> tuple[list[OrderRecord], int]:
    """The newest `limit` orders placed in [start_ts, end_ts), oldest first, and how many there are."""
    rows, total = await _newest_between(db, models.orders, "placed_ts", namespace, start_ts, end_ts, limit)
    return [_order_record(row) for row in rows], total


async def fills_between(
    db: Database, namespace: Namespace, start_ts: float, end_ts: float, limit: int
) -> tuple[list[StoredFill], int]:
    """The newest `limit` fills with fill_ts in [start_ts, end_ts), oldest first, and how many there are."""
    rows, total = await _newest_between(db, models.fills, "fill_ts", namespace, start_ts, end_ts, limit)
    return [
        StoredFill(fill=_fill_from_row(row), event_id=row["event_id"], correlation_id=row["correlation_id"])
        for row in rows
    ], total


async def order_fill_totals(
    db: Database, namespace: Namespace, order_ids: list[str]
) -> dict[str, OrderFillTotals]:
    """Filled quantity, notional and charges per order, over every stored fill of those orders."""
    if not order_ids:
        return {}
    table = models.fills
    stmt = (
        select(
            table.c.order_id,
            func.sum(table.c.quantity),
            func.sum(table.c.quantity * table.c.price),
            func.sum(table.c.charges_total),
        )
        .where((table.c.namespace == namespace.value) & table.c.order_id.in_(order_ids))
        .group_by(table.c.order_id)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return {
        order_id: OrderFillTotals(int(quantity or 0), float(notional or 0.0), float(charges or 0.0))
        for order_id, quantity, notional, charges in rows
    }


_LEDGER_PARTS = ("brokerage", "stt", "exchange", "sebi", "gst", "stamp_duty", "charges_total")


async def charges_ledger(
    db: Database, namespace: Namespace, start_ts: float | None = None, end_ts: float | None = None
) -> ChargesLedger:
    """The charges of every stored fill of a namespace (with fill_ts in [start_ts, end_ts) when
    given), summed in Decimals: exact on both databases (SQLite's SUM would add REALs)."""
    table = models.fills
    where = table.c.namespace == namespace.value
    if start_ts is not None:
        where &= table.c.fill_ts >= start_ts
    if end_ts is not None:
        where &= table.c.fill_ts < end_ts
    columns = [table.c.quantity, table.c.price, *(table.c[name] for name in _LEDGER_PARTS)]
    sums = dict.fromkeys(_LEDGER_PARTS, Decimal(0))
    turnover = Decimal(0)
    count = 0
    async with db.engine.connect() as conn:
        result = await conn.stream(select(*columns).where(where).order_by(table.c.id))
        async for row in result.mappings():
            count += 1
            turnover += row["quantity"] * row["price"]
            for name in _LEDGER_PARTS:
                sums[name] += row[name]
    return ChargesLedger(
        fills=count,
        turnover=turnover,
        brokerage=sums["brokerage"],
        stt=sums["stt"],
        exchange=sums["exchange"],
        sebi=sums["sebi"],
        gst=sums["gst"],
        stamp_duty=sums["stamp_duty"],
        total=sums["charges_total"],
    )


def _price_or_none(price: Decimal | None) -> float | None:
    return None if price is None else float(price)


def _order_record(row: Any) -> OrderRecord:
    return OrderRecord(
        order_id=row["order_id"],
        namespace=Namespace(row["namespace"]),
        strategy_id=row["strategy_id"],
        instrument_token=row["instrument_token"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        order_type=OrderType(row["order_type"]),
        product=Product(row["product"]),
        limit_price=_price_or_none(row["limit_price"]),
        status=models.OrderStatus(row["status"]),
        status_reason=row["status_reason"],
        filled_quantity=row["filled_quantity"],
        placed_ts=row["placed_ts"],
        updated_ts=row["updated_ts"],
        correlation_id=row["correlation_id"],
    )


def _fill_from_row(row: Any) -> OrderFilled:
    return OrderFilled(
        order_id=row["order_id"],
        trade_id=row["trade_id"],
        strategy_id=row["strategy_id"],
        instrument_token=row["instrument_token"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        price=float(row["price"]),
        product=Product(row["product"]),
        charges=Charges(
            brokerage=float(row["brokerage"]),
            stt=float(row["stt"]),
            exchange=float(row["exchange"]),
            sebi=float(row["sebi"]),
            gst=float(row["gst"]),
            stamp_duty=float(row["stamp_duty"]),
        ),
        remaining_quantity=row["remaining_quantity"],
        fill_ts=row["fill_ts"],
    )

"""Turning events into table rows, and writing one batch of them in one transaction.

Every insert is `ON CONFLICT DO NOTHING` on the row's natural unique key, and an
order's status only moves forward out of an open state, so writing the same
batch twice (a redelivery, or a retry after a commit whose answer was lost)
changes nothing.

Amounts and prices become the exact Decimals of `engine.money` here: each charge rounded to
paise, and a fill's stored total the exact sum of its stored parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import Table, Update, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from engine.events import (
    Event,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    PnlSnapshot,
    SignalRejected,
    SignalValidated,
)
from engine.money import price_or_none, to_paise, to_price
from engine.storage import models
from engine.storage.database import Database
from engine.storage.event_codec import encode_body
from engine.storage.models import OPEN_ORDER_STATUSES, OrderStatus

Row = dict[str, Any]


@dataclass(slots=True)
class RowBatch:
    orders: list[Row] = field(default_factory=list)
    fills: list[Row] = field(default_factory=list)
    risk_decisions: list[Row] = field(default_factory=list)
    pnl_snapshots: list[Row] = field(default_factory=list)
    event_log: list[Row] = field(default_factory=list)
    order_updates: list[Row] = field(default_factory=list)

    def add(self, event: Event) -> None:
        """Add the rows for one event (all or none); raises if the event cannot become rows."""
        payload = event.payload
        ns = event.namespace.value
        rows: list[tuple[list[Row], Row]] = []
        if isinstance(payload, OrderPlaced):
            rows.append((self.orders, _order_row(event, payload)))
        elif isinstance(payload, OrderFilled):
            status = OrderStatus.PARTIAL if payload.remaining_quantity > 0 else OrderStatus.FILLED
            rows.append((self.fills, _fill_row(event, payload)))
            rows.append((self.order_updates, _order_update(ns, payload.order_id, status, "", event.ts)))
        elif isinstance(payload, OrderFailed):
            failed = _order_update(ns, payload.order_id, OrderStatus.FAILED, payload.reason, event.ts)
            rows.append((self.order_updates, failed))
        elif isinstance(payload, OrderCancelled):
            cancelled = _order_update(ns, payload.order_id, OrderStatus.CANCELLED, payload.reason, event.ts)
            rows.append((self.order_updates, cancelled))
        elif isinstance(payload, SignalValidated | SignalRejected):
            rows.append((self.risk_decisions, _risk_row(event, payload)))
        elif isinstance(payload, PnlSnapshot):
            rows.append((self.pnl_snapshots, _pnl_row(event, payload)))
        rows.append((self.event_log, _event_log_row(event)))
        for table_rows, row in rows:
            table_rows.append(row)


def _order_row(event: Event, p: OrderPlaced) -> Row:
    return {
        "order_id": p.order_id,
        "namespace": event.namespace.value,
        "strategy_id": p.strategy_id,
        "instrument_token": p.instrument_token,
        "side": p.side.value,
        "quantity": p.quantity,
        "order_type": p.order_type.value,
        "product": p.product.value,
        "limit_price": price_or_none(p.limit_price),
        "status": OrderStatus.PLACED.value,
        "status_reason": "",
        "filled_quantity": 0,
        "placed_ts": p.placed_ts or event.ts,
        "updated_ts": event.ts,
        "correlation_id": event.correlation_id,
    }


def _fill_row(event: Event, p: OrderFilled) -> Row:
    c = p.charges
    parts = {
        "brokerage": to_paise(c.brokerage),
        "stt": to_paise(c.stt),
        "exchange": to_paise(c.exchange),
        "sebi": to_paise(c.sebi),
        "gst": to_paise(c.gst),
        "stamp_duty": to_paise(c.stamp_duty),
    }
    return {
        "trade_id": p.trade_id,
        "order_id": p.order_id,
        "namespace": event.namespace.value,
        "strategy_id": p.strategy_id,
        "instrument_token": p.instrument_token,
        "side": p.side.value,
        "quantity": p.quantity,
        "price": to_price(p.price),
        "product": p.product.value,
        **parts,
        "charges_total": sum(parts.values(), start=to_paise(0.0)),
        "remaining_quantity": p.remaining_quantity,
        "fill_ts": p.fill_ts or event.ts,
        "correlation_id": event.correlation_id,
        "event_id": event.id,
    }


def _order_update(namespace: str, order_id: str, status: OrderStatus, reason: str, ts: float) -> Row:
    return {
        "b_namespace": namespace,
        "b_order_id": order_id,
        "b_status": status.value,
        "b_reason": reason,
        "b_ts": ts,
    }


def _risk_row(event: Event, p: SignalValidated | SignalRejected) -> Row:
    accepted = isinstance(p, SignalValidated)
    signal = p.signal
    return {
        "event_id": event.id,
        "namespace": event.namespace.value,
        "strategy_id": signal.strategy_id,
        "instrument_token": signal.instrument_token,
        "side": signal.side.value,
        "quantity": p.quantity if isinstance(p, SignalValidated) else signal.quantity,
        "accepted": accepted,
        "rule": "" if isinstance(p, SignalValidated) else p.rule,
        "reason": "" if isinstance(p, SignalValidated) else p.reason,
        "ts": event.ts,
        "correlation_id": event.correlation_id,
    }


def _pnl_row(event: Event, p: PnlSnapshot) -> Row:
    return {
        "event_id": event.id,
        "namespace": event.namespace.value,
        "portfolio_id": p.portfolio_id,
        "strategy_id": p.strategy_id,
        "realized_pnl": to_paise(p.realized_pnl),
        "unrealized_pnl": to_paise(p.unrealized_pnl),
        "charges": to_paise(p.charges),
        "cash": to_paise(p.cash),
        "equity": to_paise(p.equity),
        "positions": [msgspec.structs.asdict(pos) for pos in p.positions],
        "snapshot_ts": p.snapshot_ts or event.ts,
    }


def _event_log_row(event: Event) -> Row:
    return {
        "event_id": event.id,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "ts": event.ts,
        "body": encode_body(event),
    }


def _order_update_statement() -> Update:
    orders, fills = models.orders, models.fills
    # or_ of equalities, not IN: an expanding IN parameter cannot run as executemany
    is_open = or_(*(orders.c.status == s.value for s in OPEN_ORDER_STATUSES))
    filled = (
        select(func.coalesce(func.sum(fills.c.quantity), 0))
        .where(fills.c.namespace == orders.c.namespace, fills.c.order_id == orders.c.order_id)
        .correlate(orders)
        .scalar_subquery()
    )
    return (
        update(orders)
        .where(orders.c.namespace == bindparam("b_namespace"), orders.c.order_id == bindparam("b_order_id"))
        .values(
            status=case((is_open, bindparam("b_status")), else_=orders.c.status),
            status_reason=case((is_open, bindparam("b_reason")), else_=orders.c.status_reason),
            filled_quantity=filled,
            updated_ts=bindparam("b_ts"),
        )
    )


_ORDER_UPDATE = _order_update_statement()


async def write_batch(db: Database, batch: RowBatch) -> None:
    """Write a batch in one transaction (all of it, or none of it)."""
    async with db.engine.begin() as conn:
        await _insert_new(conn, db, models.orders, ("namespace", "order_id"), batch.orders)
        await _insert_new(conn, db, models.fills, ("namespace", "trade_id"), batch.fills)
        await _insert_new(conn, db, models.risk_decisions, ("event_id",), batch.risk_decisions)
        await _insert_new(conn, db, models.pnl_snapshots, ("event_id",), batch.pnl_snapshots)
        await _insert_new(conn, db, models.event_log, ("correlation_id", "event_id"), batch.event_log)
        if batch.order_updates:
            # after the fills, so each order's filled quantity counts this batch's fills
            await conn.execute(_ORDER_UPDATE, batch.order_updates)


async def _insert_new(
    conn: AsyncConnection, db: Database, table: Table, keys: tuple[str, ...], rows: list[Row]
) -> None:
    if rows:
        stmt = db.insert(table).on_conflict_do_nothing(index_elements=list(keys))
        await conn.execute(stmt, rows)

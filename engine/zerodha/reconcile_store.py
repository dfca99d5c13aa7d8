"""Our side of reconciliation, from the database: the zerodha namespace's orders and fills and the
live order store (`live_orders`), read for the orders and trades Kite's book names."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import case, func, select

from engine.events import Namespace, Side
from engine.storage import models
from engine.storage.database import Database
from engine.storage.models import OPEN_ORDER_STATUSES, OrderStatus
from engine.zerodha.broker_book import BrokerBook, BrokerOrder
from engine.zerodha.reconcile_plan import OurBook, OurOrder

NS = Namespace.ZERODHA.value
CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


async def load_our_book(db: Database, book: BrokerBook, *, day_start_ts: float) -> OurBook:
    ours = OurBook()
    orders, fills, live = models.orders, models.fills, models.live_orders
    kite_ids = [o.order_id for o in book.orders]
    names = sorted({o.tag for o in book.orders if o.tag} | set(kite_ids))
    filled = (
        select(func.coalesce(func.sum(fills.c.quantity), 0))
        .where(fills.c.namespace == orders.c.namespace, fills.c.order_id == orders.c.order_id)
        .correlate(orders)
        .scalar_subquery()
        .label("stored_fills")
    )
    working = orders.c.status.in_([s.value for s in OPEN_ORDER_STATUSES])
    async with db.engine.connect() as conn:
        for stmt_where in [working, *(orders.c.order_id.in_(chunk) for chunk in _chunks(names))]:
            stmt = select(orders, filled).where(orders.c.namespace == NS, stmt_where)
            for row in (await conn.execute(stmt)).mappings():
                ours.orders[row["order_id"]] = OurOrder(
                    order_id=row["order_id"],
                    strategy_id=row["strategy_id"],
                    instrument_token=row["instrument_token"],
                    quantity=row["quantity"],
                    product=row["product"],
                    status=OrderStatus(row["status"]),
                    filled_quantity=int(row["stored_fills"]),
                    correlation_id=row["correlation_id"],
                )
        for chunk in _chunks(names):
            where = live.c.broker_order_id.in_(chunk) | live.c.order_id.in_(chunk)
            stmt = select(live.c.order_id, live.c.broker_order_id).where(where)
            for order_id, broker_order_id in (await conn.execute(stmt)).all():
                ours.live_ids.add(order_id)
                if broker_order_id:
                    ours.broker_ids[broker_order_id] = order_id
        for chunk in _chunks([t.trade_id for t in book.trades]):
            stmt = select(fills.c.trade_id).where(fills.c.namespace == NS, fills.c.trade_id.in_(chunk))
            ours.trade_ids.update((await conn.execute(stmt)).scalars())
        signed = case((fills.c.side == Side.BUY.value, fills.c.quantity), else_=-fills.c.quantity)
        stmt = (
            select(fills.c.instrument_token, fills.c.product, fills.c.strategy_id, func.sum(signed))
            .where(fills.c.namespace == NS, fills.c.fill_ts >= day_start_ts)
            .group_by(fills.c.instrument_token, fills.c.product, fills.c.strategy_id)
        )
        for token, product, strategy_id, quantity in (await conn.execute(stmt)).all():
            key = (int(token), str(product))
            ours.day_positions[key] = ours.day_positions.get(key, 0) + int(quantity or 0)
            ours.day_strategies.setdefault(key, set()).add(strategy_id)
    return ours


def live_state(broker_status: str) -> str:
    """The live order store's state for a Kite status (the live execution's LiveState values)."""
    if broker_status in ("COMPLETE", "CANCELLED", "REJECTED"):
        return broker_status
    return "OPEN" if broker_status in ("OPEN", "TRIGGER PENDING") else "PENDING"


async def record_adopted(
    db: Database, order: BrokerOrder, order_id: str, *, strategy_id: str, correlation_id: str
) -> None:
    """The adopted order in the live order store, flagged."""
    live = models.live_orders
    now = time.time()
    stmt = db.insert(live).values(
        order_id=order_id,
        broker_order_id=order.order_id,
        strategy_id=strategy_id,
        instrument_token=order.instrument_token,
        exchange=order.exchange,
        tradingsymbol=order.tradingsymbol,
        side=order.side.value,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        order_type=order.order_type,
        product=order.product,
        limit_price=Decimal(str(order.price)) if order.price else None,
        trigger_price=None,
        status=live_state(order.status),
        broker_status=order.status,
        status_message=order.status_message,
        adopted=True,
        correlation_id=correlation_id,
        created_ts=order.placed_ts or now,
        updated_ts=now,
    )
    async with db.engine.begin() as conn:
        await conn.execute(stmt.on_conflict_do_nothing(index_elements=[live.c.order_id]))

"""Live orders in the `live_orders` table: the intent is written before Kite is called, then every
state the broker reports. After a crash, the rows not yet final are what must be resolved."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update

from engine.events import Namespace, OrderType, Product, Side
from engine.money import to_price
from engine.storage import models
from engine.storage.database import Database


class LiveState(StrEnum):
    SENDING = "SENDING"  # written, the place call not yet answered
    PENDING = "PENDING"  # at Kite, not yet working at the exchange (the interim statuses)
    OPEN = "OPEN"  # working: open or waiting for its trigger
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"  # Kite or the exchange refused it after accepting the call
    FAILED = "FAILED"  # never became an order at Kite

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({LiveState.COMPLETE, LiveState.CANCELLED, LiveState.REJECTED, LiveState.FAILED})


@dataclass(slots=True)
class LiveOrder:
    order_id: str  # our id, sent as the Kite tag
    strategy_id: str
    instrument_token: int
    exchange: str
    tradingsymbol: str
    side: Side
    quantity: int
    order_type: OrderType
    product: Product
    limit_price: float | None = None
    trigger_price: float | None = None
    broker_order_id: str = ""
    state: LiveState = LiveState.SENDING
    broker_status: str = ""
    status_message: str = ""
    filled_quantity: int = 0  # booked from Kite's trades
    adopted: bool = False
    correlation_id: str = ""
    placed_event_id: str = ""
    created_ts: float = field(default_factory=time.time)
    updated_ts: float = 0.0

    @property
    def remaining(self) -> int:
        return max(self.quantity - self.filled_quantity, 0)


def _price(value: float | None) -> Decimal | None:
    return None if value is None else to_price(value)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


class LiveOrderStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, order: LiveOrder) -> None:
        order.updated_ts = order.created_ts
        async with self.db.engine.begin() as conn:
            await conn.execute(self.db.insert(models.live_orders).values(**_row(order)))

    async def save(self, order: LiveOrder) -> None:
        """Write the order's broker state (id, status, fills) as it is now."""
        order.updated_ts = time.time()
        table = models.live_orders
        values = {
            "broker_order_id": order.broker_order_id,
            "status": order.state.value,
            "broker_status": order.broker_status,
            "status_message": order.status_message,
            "filled_quantity": order.filled_quantity,
            "quantity": order.quantity,
            "limit_price": _price(order.limit_price),
            "trigger_price": _price(order.trigger_price),
            "order_type": order.order_type.value,
            "updated_ts": order.updated_ts,
        }
        async with self.db.engine.begin() as conn:
            await conn.execute(update(table).where(table.c.order_id == order.order_id).values(**values))

    async def unresolved(self) -> list[LiveOrder]:
        """Orders not yet final (sending, pending or open), oldest first."""
        table = models.live_orders
        final = [state.value for state in FINAL_STATES]
        query = select(table).where(table.c.status.not_in(final)).order_by(table.c.created_ts)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_order(row) for row in rows]

    async def unstored(self) -> list[LiveOrder]:
        """Orders with no row in the `orders` table, FAILED ones (never at Kite) aside: intents a
        crash left unanswered, and orders Kite took whose OrderPlaced storage lost in a crash (this
        table is written directly, the events a moment later). Oldest first."""
        table, orders = models.live_orders, models.orders
        stored = select(orders.c.order_id).where(
            orders.c.namespace == Namespace.ZERODHA.value, orders.c.order_id == table.c.order_id
        )
        query = (
            select(table)
            .where(table.c.status != LiveState.FAILED.value, ~stored.exists())
            .order_by(table.c.created_ts)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_order(row) for row in rows]

    async def get(self, order_id: str) -> LiveOrder | None:
        table = models.live_orders
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(select(table).where(table.c.order_id == order_id))).mappings().first()
        return _order(row) if row is not None else None


def _row(order: LiveOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "broker_order_id": order.broker_order_id,
        "strategy_id": order.strategy_id,
        "instrument_token": order.instrument_token,
        "exchange": order.exchange,
        "tradingsymbol": order.tradingsymbol,
        "side": order.side.value,
        "quantity": order.quantity,
        "filled_quantity": order.filled_quantity,
        "order_type": order.order_type.value,
        "product": order.product.value,
        "limit_price": _price(order.limit_price),
        "trigger_price": _price(order.trigger_price),
        "status": order.state.value,
        "broker_status": order.broker_status,
        "status_message": order.status_message,
        "adopted": order.adopted,
        "correlation_id": order.correlation_id,
        "placed_event_id": order.placed_event_id,
        "created_ts": order.created_ts,
        "updated_ts": order.updated_ts,
    }


def _order(row: Any) -> LiveOrder:
    return LiveOrder(
        order_id=row["order_id"],
        strategy_id=row["strategy_id"],
        instrument_token=row["instrument_token"],
        exchange=row["exchange"],
        tradingsymbol=row["tradingsymbol"],
        side=Side(row["side"]),
        quantity=row["quantity"],
        order_type=OrderType(row["order_type"]),
        product=Product(row["product"]),
        limit_price=_float(row["limit_price"]),
        trigger_price=_float(row["trigger_price"]),
        broker_order_id=row["broker_order_id"],
        state=LiveState(row["status"]),
        broker_status=row["broker_status"],
        status_message=row["status_message"],
        filled_quantity=row["filled_quantity"],
        adopted=bool(row["adopted"]),
        correlation_id=row["correlation_id"],
        placed_event_id=row["placed_event_id"],
        created_ts=row["created_ts"],
        updated_ts=row["updated_ts"],
    )

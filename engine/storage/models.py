"""Database tables. Times are epoch seconds (UTC) as on the events; every write is keyed
by a natural unique id (order id, trade id, event id) so a redelivered event never
adds a second row. Amounts and prices are exact `NUMERIC` (`Decimal` in Python), rounded
by the rule in `engine.money`."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Dialect,
    Double,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.money import AMOUNT_PLACES, AMOUNT_PRECISION, PRICE_PLACES, PRICE_PRECISION
from engine.storage.event_codec import decode_id, encode_id


class OrderStatus(StrEnum):
    PLACED = "PLACED"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


OPEN_ORDER_STATUSES: tuple[OrderStatus, ...] = (OrderStatus.PLACED, OrderStatus.PARTIAL)

# unbounded: an over-long strategy name or broker id must never make a fill unwritable
ID = String()
NAME = String()
# SQLite autoincrements only a column declared exactly INTEGER PRIMARY KEY
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")
# rupees to paise, and prices to 4 dp; on SQLite a NUMERIC column holds a REAL, exact at these
# scales up to 15 significant digits, and SQLAlchemy hands back Decimals on both databases
AMOUNT = Numeric(AMOUNT_PRECISION, AMOUNT_PLACES, asdecimal=True)
PRICE = Numeric(PRICE_PRECISION, PRICE_PLACES, asdecimal=True)


class Base(DeclarativeBase):
    type_annotation_map = {float: Double(), int: BigInteger(), dict[str, Any]: JSON()}


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("namespace", "order_id", name="uq_orders_namespace_order_id"),
        Index("ix_orders_namespace_placed_ts", "namespace", "placed_ts"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ID)
    namespace: Mapped[str] = mapped_column(String(16))
    strategy_id: Mapped[str] = mapped_column(NAME)
    instrument_token: Mapped[int]
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    order_type: Mapped[str] = mapped_column(String(16))
    product: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str] = mapped_column(Text, default="")
    filled_quantity: Mapped[int] = mapped_column(default=0)
    placed_ts: Mapped[float]
    updated_ts: Mapped[float]
    correlation_id: Mapped[str] = mapped_column(ID)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("namespace", "trade_id", name="uq_fills_namespace_trade_id"),
        Index("ix_fills_namespace_fill_ts", "namespace", "fill_ts"),
        Index("ix_fills_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    trade_id: Mapped[str] = mapped_column(ID)
    order_id: Mapped[str] = mapped_column(ID)
    namespace: Mapped[str] = mapped_column(String(16))
    strategy_id: Mapped[str] = mapped_column(NAME)
    instrument_token: Mapped[int]
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    price: Mapped[Decimal] = mapped_column(PRICE)
    product: Mapped[str] = mapped_column(String(8))
    brokerage: Mapped[Decimal] = mapped_column(AMOUNT)
    stt: Mapped[Decimal] = mapped_column(AMOUNT)
    exchange: Mapped[Decimal] = mapped_column(AMOUNT)
    sebi: Mapped[Decimal] = mapped_column(AMOUNT)
    gst: Mapped[Decimal] = mapped_column(AMOUNT)
    stamp_duty: Mapped[Decimal] = mapped_column(AMOUNT)
    charges_total: Mapped[Decimal] = mapped_column(AMOUNT)
    remaining_quantity: Mapped[int]
    fill_ts: Mapped[float]
    correlation_id: Mapped[str] = mapped_column(ID)
    event_id: Mapped[str] = mapped_column(ID)


class RiskDecisionRow(Base):
    __tablename__ = "risk_decisions"
    __table_args__ = (Index("ix_risk_decisions_namespace_ts", "namespace", "ts"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID, unique=True)
    namespace: Mapped[str] = mapped_column(String(16))
    strategy_id: Mapped[str] = mapped_column(NAME)
    instrument_token: Mapped[int]
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    accepted: Mapped[bool]
    rule: Mapped[str] = mapped_column(NAME, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    ts: Mapped[float]
    correlation_id: Mapped[str] = mapped_column(ID)


class PnlSnapshotRow(Base):
    __tablename__ = "pnl_snapshots"
    __table_args__ = (Index("ix_pnl_snapshots_portfolio_ts", "portfolio_id", "snapshot_ts"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ID, unique=True)
    namespace: Mapped[str] = mapped_column(String(16))
    portfolio_id: Mapped[str] = mapped_column(NAME)
    strategy_id: Mapped[str] = mapped_column(NAME)
    realized_pnl: Mapped[Decimal] = mapped_column(AMOUNT)
    unrealized_pnl: Mapped[Decimal] = mapped_column(AMOUNT)
    charges: Mapped[Decimal] = mapped_column(AMOUNT)
    cash: Mapped[Decimal] = mapped_column(AMOUNT)
    equity: Mapped[Decimal] = mapped_column(AMOUNT)
    positions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    snapshot_ts: Mapped[float]


class EngineStateRow(Base):
    __tablename__ = "engine_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[float]


class CompactId(TypeDecorator[str]):
    """An event id stored as 16 bytes when UUID-shaped (see `event_codec.encode_id`); a str in Python."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return encode_id(value) if value is not None else None

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return decode_id(bytes(value)) if value is not None else None


class EventLogRow(Base):
    """Every stored non-tick event, the order-trace lineage: the lineage in columns, the rest in
    a compact body (`event_codec.encode_body`). Keyed by (correlation id, event id), so one
    order's whole lineage is one range of the key and needs no second index (on SQLite the
    key is the table: WITHOUT ROWID)."""

    __tablename__ = "event_log"
    __table_args__ = {"sqlite_with_rowid": False}

    correlation_id: Mapped[str] = mapped_column(CompactId, primary_key=True)
    event_id: Mapped[str] = mapped_column(CompactId, primary_key=True)
    causation_id: Mapped[str] = mapped_column(CompactId)
    ts: Mapped[float]
    body: Mapped[bytes] = mapped_column(LargeBinary)


class LiveOrderRow(Base):
    """A live order's intent and its broker state. Written before the place call, so a crash
    between sending and the broker's answer leaves a row to resolve by its tag."""

    __tablename__ = "live_orders"
    __table_args__ = (
        Index("ix_live_orders_broker_order_id", "broker_order_id"),
        Index("ix_live_orders_status", "status"),
    )

    order_id: Mapped[str] = mapped_column(String(20), primary_key=True)  # == the Kite tag
    broker_order_id: Mapped[str] = mapped_column(ID, default="")
    strategy_id: Mapped[str] = mapped_column(NAME)
    instrument_token: Mapped[int]
    exchange: Mapped[str] = mapped_column(String(8))
    tradingsymbol: Mapped[str] = mapped_column(NAME)
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int]
    filled_quantity: Mapped[int] = mapped_column(default=0)
    order_type: Mapped[str] = mapped_column(String(8))
    product: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(PRICE)
    trigger_price: Mapped[Decimal | None] = mapped_column(PRICE)
    status: Mapped[str] = mapped_column(String(16))
    broker_status: Mapped[str] = mapped_column(NAME, default="")
    status_message: Mapped[str] = mapped_column(Text, default="")
    adopted: Mapped[bool] = mapped_column(default=False)
    correlation_id: Mapped[str] = mapped_column(ID, default="")
    placed_event_id: Mapped[str] = mapped_column(ID, default="")
    created_ts: Mapped[float]
    updated_ts: Mapped[float]


class AuditRow(Base):
    """Who or what did which live action, when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)

    id: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    ts: Mapped[float]
    actor: Mapped[str] = mapped_column(NAME)
    action: Mapped[str] = mapped_column(NAME)
    namespace: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class SchemaVersionRow(Base):
    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    description: Mapped[str] = mapped_column(Text)
    applied_at: Mapped[float]


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


orders = _table(OrderRow)
fills = _table(FillRow)
risk_decisions = _table(RiskDecisionRow)
pnl_snapshots = _table(PnlSnapshotRow)
engine_state = _table(EngineStateRow)
event_log = _table(EventLogRow)
live_orders = _table(LiveOrderRow)
audit_log = _table(AuditRow)
schema_version = _table(SchemaVersionRow)

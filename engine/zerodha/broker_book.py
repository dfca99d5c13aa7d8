"""Kite's side of the account, read in one go: the day's orders, trades and positions.

Rows are parsed into small typed records so reconciliation never handles raw dicts. The
`kiteconnect` client hands timestamps over as naive datetimes in IST (or as text when it
could not parse them); both become epoch seconds here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.events import Side
from engine.market.calendar import IST
from engine.zerodha.errors import BrokerError
from engine.zerodha.rest import KiteRest

# a Kite order in one of these will never change again
FINAL_STATUSES = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    order_id: str  # Kite's
    tag: str  # ours when we placed it ("" when none)
    status: str
    status_message: str
    instrument_token: int
    exchange: str
    tradingsymbol: str
    side: Side
    quantity: int
    filled_quantity: int
    order_type: str
    product: str
    price: float
    average_price: float
    placed_ts: float
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the row as Kite sent it

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class BrokerTrade:
    trade_id: str
    order_id: str  # Kite's
    instrument_token: int
    side: Side
    quantity: int
    price: float
    product: str
    fill_ts: float


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    instrument_token: int
    exchange: str
    tradingsymbol: str
    product: str
    quantity: int  # signed: long > 0
    average_price: float
    last_price: float
    realised: float
    unrealised: float
    pnl: float


@dataclass(frozen=True, slots=True)
class BrokerBook:
    orders: tuple[BrokerOrder, ...]
    trades: tuple[BrokerTrade, ...]
    positions: tuple[BrokerPosition, ...]  # Kite's "day" positions: today's trades only
    fetched_ts: float

    def orders_by_id(self) -> dict[str, BrokerOrder]:
        return {order.order_id: order for order in self.orders}


class BrokerBookError(BrokerError):
    """Kite answered with rows this code cannot read."""


async def fetch_broker_book(kite: KiteRest) -> BrokerBook:
    """Orders, then trades, then positions: a trade of an order that completes between the calls
    is then in the trades (and the position) even if the order row still showed it open."""
    fetched = time.time()
    orders = await kite.call("orders")
    trades = await kite.call("trades")
    positions = await kite.call("positions")
    try:
        return BrokerBook(
            orders=tuple(parse_order(row) for row in orders or ()),
            trades=tuple(parse_trade(row) for row in trades or ()),
            positions=tuple(parse_position(row) for row in (positions or {}).get("day") or ()),
            fetched_ts=fetched,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BrokerBookError(f"Kite's order book could not be read: {type(exc).__name__}: {exc}") from exc


def parse_order(row: Mapping[str, Any]) -> BrokerOrder:
    return BrokerOrder(
        order_id=str(row["order_id"]),
        tag=str(row.get("tag") or ""),
        status=str(row["status"]),
        status_message=str(row.get("status_message") or ""),
        instrument_token=int(row["instrument_token"]),
        exchange=str(row.get("exchange") or ""),
        tradingsymbol=str(row.get("tradingsymbol") or ""),
        side=Side(row["transaction_type"]),
        quantity=int(row["quantity"]),
        filled_quantity=int(row.get("filled_quantity") or 0),
        order_type=str(row["order_type"]),
        product=str(row["product"]),
        price=float(row.get("price") or 0.0),
        average_price=float(row.get("average_price") or 0.0),
        placed_ts=kite_epoch(row.get("order_timestamp")),
        raw=dict(row),
    )


def parse_trade(row: Mapping[str, Any]) -> BrokerTrade:
    return BrokerTrade(
        trade_id=str(row["trade_id"]),
        order_id=str(row["order_id"]),
        instrument_token=int(row["instrument_token"]),
        side=Side(row["transaction_type"]),
        quantity=int(row["quantity"]),
        price=float(row["average_price"]),
        product=str(row["product"]),
        fill_ts=kite_epoch(row.get("fill_timestamp") or row.get("exchange_timestamp")),
    )


def parse_position(row: Mapping[str, Any]) -> BrokerPosition:
    return BrokerPosition(
        instrument_token=int(row["instrument_token"]),
        exchange=str(row.get("exchange") or ""),
        tradingsymbol=str(row.get("tradingsymbol") or ""),
        product=str(row["product"]),
        quantity=int(row["quantity"]),
        average_price=float(row.get("average_price") or 0.0),
        last_price=float(row.get("last_price") or 0.0),
        realised=float(row.get("realised") or 0.0),
        unrealised=float(row.get("unrealised") or 0.0),
        pnl=float(row.get("pnl") or 0.0),
    )


def kite_epoch(value: Any) -> float:
    """Kite's "YYYY-MM-DD HH:MM:SS" (IST), as text or as the client's naive datetime; 0 when absent."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, str):
        value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    if not isinstance(value, datetime):
        raise ValueError(f"not a Kite timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=IST)
    return float(value.timestamp())

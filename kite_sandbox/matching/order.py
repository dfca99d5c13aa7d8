"""One order at the sandbox broker, and its row as Kite's order book shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.instruments import Instrument


class Status(StrEnum):
    PUT_ORDER_REQ_RECEIVED = "PUT ORDER REQ RECEIVED"
    VALIDATION_PENDING = "VALIDATION PENDING"
    OPEN_PENDING = "OPEN PENDING"
    OPEN = "OPEN"
    TRIGGER_PENDING = "TRIGGER PENDING"
    MODIFY_VALIDATION_PENDING = "MODIFY VALIDATION PENDING"
    MODIFY_PENDING = "MODIFY PENDING"
    MODIFIED = "MODIFIED"
    CANCEL_PENDING = "CANCEL PENDING"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


FINAL = frozenset({Status.COMPLETE, Status.CANCELLED, Status.REJECTED})
WORKING = frozenset({Status.OPEN, Status.TRIGGER_PENDING})


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A place (or a modify's merged) request, checked field by field."""

    variety: str
    instrument: Instrument
    transaction_type: str  # BUY / SELL
    quantity: int
    product: str  # CNC / MIS / NRML
    order_type: str  # MARKET / LIMIT / SL / SL-M
    validity: str  # DAY / IOC
    price: float  # 0 for MARKET and SL-M
    trigger_price: float  # 0 unless SL / SL-M
    market_protection: float  # percent, -1 automatic, 0 none
    disclosed_quantity: int = 0
    tag: str | None = None

    @property
    def is_buy(self) -> bool:
        return self.transaction_type == "BUY"


@dataclass(slots=True)
class SandboxOrder:
    order_id: str
    request: OrderRequest
    placed_by: str
    order_timestamp: str
    status: Status = Status.PUT_ORDER_REQ_RECEIVED
    status_message: str | None = None
    exchange_order_id: str | None = None
    exchange_timestamp: str | None = None
    exchange_update_timestamp: str | None = None
    order_type: str = ""  # as shown: a protected MARKET order shows as LIMIT
    price: float = 0.0  # as shown
    protection_price: float = 0.0  # the worst price a MARKET or triggered SL-M order may fill at
    tags: list[str] = field(default_factory=list)
    triggered: bool = False
    modified: bool = False
    modifications: int = 0
    filled_quantity: int = 0
    filled_value: float = 0.0
    cancelled_quantity: int = 0

    def __post_init__(self) -> None:
        if not self.order_type:
            self.order_type = self.request.order_type
            self.price = self.request.price
        if self.request.tag and not self.tags:
            self.tags = [self.request.tag]

    @property
    def pending_quantity(self) -> int:
        if self.status in FINAL:
            return 0
        return self.request.quantity - self.filled_quantity

    @property
    def average_price(self) -> float:
        return round(self.filled_value / self.filled_quantity, 4) if self.filled_quantity else 0.0

    @property
    def limit(self) -> float | None:
        """The worst price it may fill at now (None: any price)."""
        if self.protection_price:
            return self.protection_price
        if self.order_type in ("LIMIT", "SL"):
            return self.price
        return None

    def row(self) -> dict[str, Any]:
        """The order as GET /orders shows it (keys as Zerodha's orders.json)."""
        req = self.request
        inst = req.instrument
        return {
            "placed_by": self.placed_by,
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "parent_order_id": None,
            "status": self.status.value,
            "status_message": self.status_message,
            "status_message_raw": self.status_message,
            "order_timestamp": self.order_timestamp,
            "exchange_update_timestamp": self.exchange_update_timestamp,
            "exchange_timestamp": self.exchange_timestamp,
            "variety": req.variety,
            "modified": self.modified,
            "exchange": inst.exchange,
            "tradingsymbol": inst.tradingsymbol,
            "instrument_token": inst.instrument_token,
            "order_type": self.order_type,
            "transaction_type": req.transaction_type,
            "validity": req.validity,
            "validity_ttl": 0,
            "product": req.product,
            "quantity": req.quantity,
            "disclosed_quantity": req.disclosed_quantity,
            "price": self.price,
            "trigger_price": req.trigger_price,
            "average_price": self.average_price,
            "filled_quantity": self.filled_quantity,
            "pending_quantity": self.pending_quantity,
            "cancelled_quantity": self.cancelled_quantity,
            "market_protection": 0 if self.order_type != req.order_type else req.market_protection,
            "meta": {},
            "tag": req.tag,
            "tags": list(self.tags),
            "guid": f"sandbox-{self.order_id}",
        }

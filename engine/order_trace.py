"""One order's story from storage, for a console: old orders and orders from before it attached trace too.

A console publishes an `OrderTraceRequest` on control.commands; this service finds the order's
correlation id in the orders table and answers on engine.status with an `OrderTrace` holding every
stored event of that lineage (signal, risk decision, orders, fills), oldest first.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from engine.bus.base import Bus
from engine.events import Event, Namespace, OrderTrace, OrderTraceRequest
from engine.service import Service
from engine.storage.database import Database
from engine.storage.repository import find_order, trace
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS

log = logging.getLogger(__name__)

GROUP = "order_trace"
NO_DATABASE = "this engine runs without a database (storage is off), so no order's story is stored"


async def build_order_trace(db: Database | None, request_id: str, order_id: str) -> OrderTrace:
    if db is None:
        return OrderTrace(request_id=request_id, order_id=order_id, detail=NO_DATABASE)
    order = await find_order(db, order_id)
    if order is None:
        detail = (
            f"order {order_id} is not in storage: it was placed moments ago (storage writes "
            "within a second; ask again) or on another data dir"
        )
        return OrderTrace(request_id=request_id, order_id=order_id, detail=detail)
    events = await trace(db, order.correlation_id)
    if not events:
        detail = f"order {order_id} is stored but none of its events are (the event log was cleared?)"
        return OrderTrace(request_id=request_id, order_id=order_id, detail=detail)
    return OrderTrace(request_id=request_id, order_id=order_id, events=tuple(events), found=True)


class OrderTraceService(Service):
    """Answers each OrderTraceRequest with an OrderTrace on engine.status."""

    name = GROUP

    def __init__(self, bus: Bus, *, db: Database | None) -> None:
        super().__init__(bus)
        self.db = db

    def wire(self) -> None:
        self.bus.subscribe([CONTROL_COMMANDS], GROUP, self._on_event)

    async def _on_event(self, event: Event) -> None:
        request = event.payload
        if not isinstance(request, OrderTraceRequest):
            return
        try:
            answer = await build_order_trace(self.db, event.id, request.order_id)
        except SQLAlchemyError as exc:
            log.warning("order trace for %s: storage unreadable: %s", request.order_id, exc)
            detail = f"the engine could not read its storage ({exc.__class__.__name__}); see its log"
            answer = OrderTrace(request_id=event.id, order_id=request.order_id, detail=detail)
        if not answer.found:
            log.info("order trace for %s: %s", request.order_id, answer.detail)
        await self.bus.publish(
            ENGINE_STATUS, event.child(answer, source=self.name, key=GROUP, namespace=Namespace.SHARED)
        )

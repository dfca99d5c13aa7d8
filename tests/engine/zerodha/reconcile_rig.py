"""A reconciler against a Kite sandbox with real storage, risk and the official kiteconnect client
(which plays the broker's other channels: orders we placed, and orders someone placed by hand)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiteconnect import KiteConnect

from engine.bus.direct import DirectBus
from engine.clock import WallClock
from engine.events import (
    Charges,
    Event,
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Payload,
    Product,
    Side,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.risk.manager import RiskManager
from engine.service import Service
from engine.settings import Settings
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from engine.storage.repository import DbStateStore, OrderRecord, load_fills, recent_orders
from engine.storage.writer import StorageWriter
from engine.topics import ENGINE_STATUS, TopicMap
from engine.zerodha.execution import ZerodhaExecution
from engine.zerodha.order_ids import LiveOrderIds
from engine.zerodha.reconcile import Reconciler
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.engine.zerodha.live_harness import build_execution
from tests.engine.zerodha.test_rest import rest_on, settings_for
from tests.kite_sandbox.matching.helpers import INFY, STILL, pin, place
from tests.sandbox import running_sandbox

ZERODHA = Namespace.ZERODHA
TOPICS = TopicMap(ZERODHA)
STRATEGIES = ("momentum", "meanrev")


@dataclass
class Rig:
    sandbox: KiteSandbox
    settings: Settings
    kite: KiteConnect  # the same account, outside the engine
    bus: DirectBus
    db: Database
    writer: StorageWriter
    risk: RiskManager
    reconciler: Reconciler
    audit: AuditLog
    execution: ZerodhaExecution | None = None
    ids: LiveOrderIds = field(default_factory=LiveOrderIds)
    events: list[Event] = field(default_factory=list)  # every zerodha order event and engine.status

    async def publish(self, topic: str, payload: Payload, key: str = "test") -> Event:
        event = make_event(payload, namespace=ZERODHA, source="test", key=key)
        await self.bus.publish(topic, event)
        await self.writer.flush()
        return event

    async def place_ours(self, strategy_id: str, *, price: float, quantity: int = 1, **fields: Any) -> str:
        """An order as the live execution places it: OrderPlaced under our id, the same id as Kite's tag."""
        order_id = self.ids.next()
        side = Side(fields.get("transaction_type", "BUY"))
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id=strategy_id,
            instrument_token=INFY,
            side=side,
            quantity=quantity,
            order_type=OrderType.LIMIT,
            product=Product.MIS,
            limit_price=price,
        )
        await self.publish(TOPICS.orders_placed, placed, strategy_id)
        await place(self.kite, price=price, quantity=quantity, tag=order_id, **fields)
        return order_id

    async def book_fill(
        self, strategy_id: str, order_id: str, trade_id: str, quantity: int, price: float
    ) -> None:
        fill = OrderFilled(
            order_id=order_id,
            trade_id=trade_id,
            strategy_id=strategy_id,
            instrument_token=INFY,
            side=Side.BUY,
            quantity=quantity,
            price=price,
            product=Product.MIS,
            charges=Charges(),
        )
        await self.publish(TOPICS.orders_filled, fill, strategy_id)

    async def restarted_risk(self) -> RiskManager:
        """The zerodha risk manager as the next run builds it, from the persisted state."""
        risk = build_risk(self.bus, self.settings, DbStateStore(self.db))
        await risk.start()
        return risk

    async def kite_call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.kite, name), *args, **kwargs)

    async def orders(self) -> dict[str, OrderRecord]:
        await self.writer.flush()
        return {o.order_id: o for o in await recent_orders(self.db, ZERODHA, limit=1000)}

    async def fills(self) -> list[OrderFilled]:
        await self.writer.flush()
        return await load_fills(self.db, ZERODHA)


def build_risk(bus: DirectBus, settings: Settings, state: DbStateStore) -> RiskManager:
    return RiskManager(
        bus,
        ZERODHA,
        settings.risk,
        InstrumentRegistry.sample(),
        MarketCalendar(),
        WallClock(),
        state,
        strategy_names=STRATEGIES,
    )


@asynccontextmanager
async def reconcile_rig(
    tmp_path: Path,
    *,
    strategies_trading: Callable[[], Mapping[int, Collection[str]]] | None = None,
    reconnects: Callable[[], int] | None = None,
    with_execution: bool = False,
    **zerodha: Any,
) -> AsyncIterator[Rig]:
    async with running_sandbox(**STILL) as sandbox:
        settings = settings_for(sandbox, tmp_path, **zerodha)
        settings.ensure_dirs()
        await log_in(sandbox, settings)
        rest, session = rest_on(settings)
        kite = KiteConnect(sandbox.config.api_key, access_token=session.access_token(), root=sandbox.root_url)
        db = Database(settings.database_url)
        await db.connect()
        bus = DirectBus()
        state = DbStateStore(db)
        risk = build_risk(bus, settings, state)
        writer = StorageWriter(bus, db, (ZERODHA,))
        audit = AuditLog(db)
        execution = build_execution(sandbox, settings, db, bus) if with_execution else None
        reconciler = Reconciler(
            bus,
            db,
            rest,
            risk,
            state,
            ChargeCalculator(settings.charges),
            interval_s=settings.zerodha.reconcile_interval_s,
            audit=audit,
            strategies_trading=strategies_trading,
            reconnects=reconnects,
            execution=execution,
        )
        rig = Rig(sandbox, settings, kite, bus, db, writer, risk, reconciler, audit, execution)

        async def collect(event: Event) -> None:
            rig.events.append(event)

        services: list[Service] = [risk, writer, reconciler, *([execution] if execution else [])]
        for service in services:
            service.wire()
        bus.subscribe([*TOPICS.order_topics(), TOPICS.signals_rejected, ENGINE_STATUS], "test", collect)
        await bus.start()
        await risk.start()
        await writer.start()
        if execution is not None:
            await execution.start()
        pin(sandbox, last=1500.0)
        try:
            yield rig
        finally:
            await reconciler.stop()
            if execution is not None:
                await execution.stop()
            await writer.stop()
            await bus.stop()
            await db.close()

"""Live execution against a Kite sandbox with the real kiteconnect client, real SQLite and a real bus:
`async with live_desk(tmp_path) as live:` gives a started ZerodhaExecution and what it published."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from engine.bus import DirectBus
from engine.clock import WallClock
from engine.events import (
    Event,
    Namespace,
    OrderType,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.instruments import InstrumentRegistry
from engine.settings import Settings, load_settings
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from engine.topics import ENGINE_STATUS, TopicMap
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.execution import ZerodhaExecution
from engine.zerodha.instruments_dump import engine_instruments, prepare_instruments
from engine.zerodha.order_store import LiveOrder, LiveOrderStore, LiveState
from engine.zerodha.rest import KiteRest
from engine.zerodha.session import SessionStore
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.kite_sandbox.matching.helpers import INFY, STILL, eventually
from tests.sandbox import running_sandbox, sandbox_settings

ZERODHA = TopicMap(Namespace.ZERODHA)
FAST_POLL = {"order_poll_s": 0.05, "order_lookup_delay_s": 0.05, "rest_backoff_s": 0.01}


@dataclass
class Live:
    sandbox: KiteSandbox
    settings: Settings
    db: Database
    bus: DirectBus
    execution: ZerodhaExecution
    events: list[Event] = field(default_factory=list)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e.payload for e in self.events if isinstance(e.payload, kind)]

    async def signal(
        self,
        side: Side = Side.BUY,
        quantity: int = 5,
        *,
        token: int = INFY,
        order_type: OrderType = OrderType.LIMIT,
        limit: float | None = 1400.0,
        trigger: float | None = None,
        product: Product = Product.MIS,
        strategy: str = "sma",
    ) -> Event:
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            reference_price=1500.0,
            order_type=order_type,
            limit_price=limit,
            product=product,
            trigger_price=trigger,
        )
        event = make_event(
            SignalValidated(signal=signal, quantity=quantity),
            namespace=Namespace.ZERODHA,
            source="t",
            key=strategy,
        )
        await self.bus.publish(ZERODHA.signals_validated, event)
        return event

    async def until(self, check: Callable[[], Any], timeout: float = 5.0) -> Any:
        return await eventually(check, timeout)

    async def stored_when(self, order_id: str, state: LiveState) -> LiveOrder | None:
        """The order's `live_orders` row once it is in `state` (written just after memory has it)."""
        for _ in range(250):
            stored = await self.execution.store.get(order_id)
            if stored is not None and stored.state is state:
                return stored
            await asyncio.sleep(0.02)
        return await self.execution.store.get(order_id)

    def kite_orders(self, tag: str) -> list[dict[str, Any]]:
        return [row for row in self.sandbox.desk.orders() if row["tag"] == tag]


def live_settings(sandbox: KiteSandbox, data_dir: Path, *, dump: bool = False, **zerodha: Any) -> Settings:
    """`dump`: the engine's instruments from Kite's dumps (of `zerodha.exchanges`), as with Kite's feed."""
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update(FAST_POLL, **zerodha)
    if dump:
        overrides["feed"] = {"source": "zerodha"}
    return load_settings(**overrides)


def build_execution(
    live_sandbox: KiteSandbox,
    settings: Settings,
    db: Database,
    bus: DirectBus,
    instruments: InstrumentRegistry | None = None,
    **options: Any,
) -> ZerodhaExecution:
    z = settings.zerodha
    assert z.api_key is not None
    session = BrokerSession(SessionStore(settings.kite_session_file), z.api_key.get_secret_value())
    return ZerodhaExecution(
        bus,
        KiteRest(z, session),
        LiveOrderStore(db),
        instruments or InstrumentRegistry.sample(),
        WallClock(),
        z,
        ChargeCalculator(settings.charges),
        audit=AuditLog(db),
        **options,
    )


@asynccontextmanager
async def started(live: Live) -> AsyncIterator[Live]:
    live.execution.wire()
    await live.bus.start()
    await live.execution.start()
    try:
        yield live
    finally:
        await live.execution.stop()
        await live.bus.stop()


def recording_bus(events: list[Event]) -> DirectBus:
    bus = DirectBus()

    async def record(event: Event) -> None:
        events.append(event)

    bus.subscribe([*ZERODHA.order_topics(), ENGINE_STATUS], "recorder", record)
    return bus


@asynccontextmanager
async def live_desk(
    tmp_path: Path, *, sandbox: dict[str, Any] | None = None, dump: bool = False, **zerodha: Any
) -> AsyncIterator[Live]:
    """A sandbox (its market still: the test pushes each tick), a login, a database, a started execution.
    Its instruments: the shipped sample, or with `dump` the sandbox's dumps as the engine downloads them."""
    async with running_sandbox(**{**STILL, **(sandbox or {})}) as kite_sandbox:
        settings = live_settings(kite_sandbox, tmp_path, dump=dump, **zerodha)
        await log_in(kite_sandbox, settings)
        instruments = None
        if dump:
            await prepare_instruments(settings)
            instruments = engine_instruments(settings)
        db = Database(f"sqlite:///{tmp_path / 'live.db'}")
        await db.connect()
        events: list[Event] = []
        bus = recording_bus(events)
        execution = build_execution(kite_sandbox, settings, db, bus, instruments)
        try:
            async with started(Live(kite_sandbox, settings, db, bus, execution, events)) as live:
                yield live
        finally:
            await db.close()


class OrderSocket:
    """A real ticker socket to the sandbox whose order messages go to the execution; `up` while open."""

    def __init__(self, live: Live, access_token: str) -> None:
        self.live = live
        sandbox = live.sandbox
        self.url = f"{sandbox.ws_url}/?api_key={sandbox.config.api_key}&access_token={access_token}"
        self.up = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> OrderSocket:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        opened = asyncio.Event()
        self._task = asyncio.create_task(self._read(opened))
        await asyncio.wait_for(opened.wait(), 5)

    async def _read(self, opened: asyncio.Event) -> None:
        try:
            async with connect(self.url) as ws:
                self.up = True
                opened.set()
                async for frame in ws:
                    if isinstance(frame, str):
                        message = json.loads(frame)
                        if message.get("type") == "order":
                            self.live.execution.on_order_update(message["data"])
        except Exception:
            pass
        finally:
            self.up = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

"""A risk rig: real DirectBus, ManualClock and MemoryStateStore, plus a recorder of what risk publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from engine.bus.direct import DirectBus
from engine.clock import ManualClock
from engine.events import (
    BROKER_NAMESPACES,
    Charges,
    Command,
    CommandAction,
    CommandResult,
    Event,
    MarketTick,
    Namespace,
    OrderFilled,
    OrderType,
    PnlSnapshot,
    Product,
    Side,
    SignalRejected,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST, MarketCalendar
from engine.risk.manager import RiskManager
from engine.settings import RiskSettings
from engine.state import MemoryStateStore
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap

RELIANCE = 738561
TCS = 2953217
INFY = 408065
NIFTY = 256265
MONDAY_10AM = datetime(2026, 1, 5, 10, 0, tzinfo=IST).timestamp()

PAPER = Namespace.PAPER
ZERODHA = Namespace.ZERODHA


@dataclass
class RiskRig:
    bus: DirectBus
    clock: ManualClock
    store: MemoryStateStore
    instruments: InstrumentRegistry
    calendar: MarketCalendar
    published: list[Event] = field(default_factory=list)
    managers: dict[Namespace, RiskManager] = field(default_factory=dict)
    _trade_seq: int = 0

    def __post_init__(self) -> None:
        topics: list[str] = [ENGINE_STATUS]
        for ns in BROKER_NAMESPACES:
            topics += [TopicMap(ns).signals_validated, TopicMap(ns).signals_rejected]
        self.bus.subscribe(topics, "test-recorder", self._record)

    async def _record(self, event: Event) -> None:
        self.published.append(event)

    async def add_manager(self, namespace: Namespace = PAPER, **risk: Any) -> RiskManager:
        settings = RiskSettings(**risk)
        manager = RiskManager(
            self.bus, namespace, settings, self.instruments, self.calendar, self.clock, self.store
        )
        manager.wire()
        await manager.start()
        self.managers[namespace] = manager
        return manager

    # -- publishing -------------------------------------------------------------------
    async def tick(self, token: int = RELIANCE, price: float = 1400.0, close: float = 1400.0) -> None:
        tick = MarketTick(instrument_token=token, last_price=price, exchange_ts=self.clock.now(), close=close)
        event = make_event(tick, namespace=Namespace.SHARED, source="test", key="")
        await self.bus.publish(MARKET_TICKS, event)

    async def signal(self, namespace: Namespace = PAPER, **fields: Any) -> Event:
        values: dict[str, Any] = {
            "strategy_id": "s1",
            "instrument_token": RELIANCE,
            "side": Side.BUY,
            "quantity": 10,
            "reference_price": 1400.0,
        }
        values.update(fields)
        event = make_event(TradingSignal(**values), namespace=namespace, source="test", key="s1")
        await self.bus.publish(TopicMap(namespace).signals_raw, event)
        return event

    async def fill(
        self,
        namespace: Namespace = PAPER,
        *,
        strategy_id: str = "s1",
        token: int = RELIANCE,
        side: Side = Side.BUY,
        quantity: int = 10,
        price: float = 1400.0,
    ) -> None:
        self._trade_seq += 1
        fill = OrderFilled(
            order_id=f"o{self._trade_seq}",
            trade_id=f"t{self._trade_seq}",
            strategy_id=strategy_id,
            instrument_token=token,
            side=side,
            quantity=quantity,
            price=price,
            product=Product.MIS,
            charges=Charges(),
        )
        event = make_event(fill, namespace=namespace, source="test", key=strategy_id)
        await self.bus.publish(TopicMap(namespace).orders_filled, event)

    async def pnl(
        self,
        strategy_id: str,
        realized: float,
        unrealized: float = 0.0,
        charges: float = 0.0,
        namespace: Namespace = PAPER,
    ) -> Event:
        snapshot = PnlSnapshot(
            portfolio_id=f"{namespace.value}:{strategy_id}",
            strategy_id=strategy_id,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            charges=charges,
            cash=0.0,
            equity=0.0,
        )
        event = make_event(snapshot, namespace=namespace, source="test", key=strategy_id)
        await self.bus.publish(TopicMap(namespace).pnl_snapshots, event)
        return event

    async def command(self, action: CommandAction, target: str = "", reason: str = "") -> list[CommandResult]:
        event = make_event(
            Command(action=action, target=target, reason=reason, issued_by="tester"),
            namespace=Namespace.SHARED,
            source="test",
            key="",
        )
        await self.bus.publish(CONTROL_COMMANDS, event)
        results = []
        for child in self.children(event):
            assert child.namespace is Namespace.SHARED
            assert isinstance(child.payload, CommandResult)
            assert child.payload.command_id == event.id
            results.append(child.payload)
        return results

    # -- reading ----------------------------------------------------------------------
    def children(self, cause: Event) -> list[Event]:
        return [e for e in self.published if e.causation_id == cause.id]

    def decision(self, signal_event: Event) -> SignalValidated | SignalRejected:
        """The one validated-or-rejected answer to a signal, checked to be its child."""
        answers = self.children(signal_event)
        assert len(answers) == 1, answers
        answer = answers[0]
        assert answer.correlation_id == signal_event.correlation_id
        assert answer.namespace is signal_event.namespace
        assert isinstance(answer.payload, SignalValidated | SignalRejected)
        return answer.payload

    async def rejected(self, namespace: Namespace = PAPER, **fields: Any) -> SignalRejected:
        answer = self.decision(await self.signal(namespace, **fields))
        assert isinstance(answer, SignalRejected), answer
        return answer

    async def validated(self, namespace: Namespace = PAPER, **fields: Any) -> SignalValidated:
        answer = self.decision(await self.signal(namespace, **fields))
        assert isinstance(answer, SignalValidated), answer
        return answer

    def flattens(self, cause: Event) -> list[TradingSignal]:
        out = []
        for event in self.children(cause):
            assert isinstance(event.payload, SignalValidated)
            assert event.payload.rules_passed == ()
            assert event.payload.signal.order_type is OrderType.MARKET
            out.append(event.payload.signal)
        return out


def new_rig(store: MemoryStateStore | None = None, instruments: InstrumentRegistry | None = None) -> RiskRig:
    return RiskRig(
        bus=DirectBus(),
        clock=ManualClock(MONDAY_10AM),
        store=store or MemoryStateStore(),
        instruments=instruments or InstrumentRegistry.sample(),
        calendar=MarketCalendar(),
    )


@pytest.fixture
def rig() -> RiskRig:
    return new_rig()

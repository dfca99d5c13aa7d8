"""The kill switch at the broker, flatten and the typed live confirmation, as commands on a real bus:
live orders against the Kite sandbox with the real kiteconnect client, paper with the real paper broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.bus.base import Bus
from engine.clock import WallClock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Namespace,
    OrderCancelled,
    OrderFilled,
    OrderPlaced,
    OrderType,
    PnlSnapshot,
    Product,
    Side,
    make_event,
)
from engine.execution.base import ExecutionClient
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.risk.manager import RiskManager
from engine.settings import RiskSettings
from engine.state import MemoryStateStore
from engine.storage.audit import AuditLog
from engine.topics import CONTROL_COMMANDS, TopicMap
from engine.trading_control import TradingControl
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.live_gate import LiveGate
from engine.zerodha.session import SessionStore
from tests.engine.execution.test_paper import RELIANCE, T0, TCS, Harness
from tests.engine.zerodha.live_harness import Live, live_desk
from tests.kite_sandbox.matching.helpers import INFY, pin

INSTRUMENTS = InstrumentRegistry.sample()
STRATEGIES = frozenset({"sma", "long", "short"})


def control(
    bus: Bus, executions: dict[Namespace, ExecutionClient], **options: Any
) -> tuple[TradingControl, list[CommandResult]]:
    results: list[CommandResult] = []
    trading_control = TradingControl(bus, executions, INSTRUMENTS, STRATEGIES, **options)
    trading_control.wire()

    async def record(event: Any) -> None:
        if isinstance(event.payload, CommandResult) and event.source == trading_control.name:
            results.append(event.payload)

    bus.subscribe(["engine.status"], "results", record)
    return trading_control, results


async def command(bus: Bus, action: CommandAction, target: str = "", issued_by: str = "cli") -> None:
    cmd = Command(action=action, target=target, reason="", issued_by=issued_by)
    await bus.publish(CONTROL_COMMANDS, make_event(cmd, namespace=Namespace.SHARED, source="t", key="t"))


def kite_statuses(live: Live) -> list[str]:
    return sorted(row["status"] for row in live.sandbox.desk.orders())


async def test_the_kill_switch_cancels_every_open_live_order_at_kite_and_audits_it(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        for limit in (1400.0, 1410.0, 1420.0):  # below the market: they stay open
            await live.signal(Side.BUY, 2, limit=limit)
        await live.until(lambda: kite_statuses(live) == ["OPEN"] * 3)
        await live.until(lambda: len(live.of(OrderPlaced)) == 3)
        _, results = control(
            live.bus, {Namespace.ZERODHA: live.execution}, audit=AuditLog(live.db), flatten_on_halt=False
        )
        await command(live.bus, CommandAction.HALT, issued_by="tui")
        [result] = await live.until(lambda: results)
        await live.until(lambda: len(live.of(OrderCancelled)) == 3)
        audit = await AuditLog(live.db).recent(10)
    assert result.ok and result.message == "zerodha: 3 open live order(s) cancelled"
    assert kite_statuses(live) == ["CANCELLED"] * 3
    assert live.execution.open_orders() == {}
    actions = [(a.actor, a.action) for a in reversed(audit) if a.action != "placed"]
    assert actions[0] == ("console", "halted")
    assert actions[-1] == ("console", "cancelled_all")
    assert [action for _, action in actions[1:-1]] == ["cancel"] * 3  # each order, by the execution


async def test_a_halt_with_flatten_on_halt_closes_the_live_position_with_a_market_order(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0, asks=[(1500.05, 100)], bids=[(1499.95, 100)])
        await live.signal(Side.BUY, 4, order_type=OrderType.MARKET, limit=None)
        await live.until(lambda: sum(f.quantity for f in live.of(OrderFilled)) == 4)
        await live.signal(Side.BUY, 1, limit=1400.0)  # one open order too
        await live.until(lambda: "OPEN" in kite_statuses(live))
        _, results = control(live.bus, {Namespace.ZERODHA: live.execution}, flatten_on_halt=True)
        await command(live.bus, CommandAction.HALT)
        [result] = await live.until(lambda: results)
        await live.until(lambda: sum(f.quantity for f in live.of(OrderFilled)) == 8)
    assert result.ok, result.message
    assert "1 open live order(s) cancelled" in result.message
    assert "zerodha: 1 closing order(s) for every position" in result.message
    closing = [p for p in live.of(OrderPlaced) if p.side is Side.SELL]
    assert [(p.quantity, p.order_type) for p in closing] == [(4, OrderType.MARKET)]
    kite_net = {row["instrument_token"]: row["quantity"] for row in live.sandbox.desk.positions()["net"]}
    assert kite_net.get(INFY, 0) == 0


async def test_a_paper_only_halt_is_left_to_the_risk_managers() -> None:
    h = Harness()
    _, results = control(h.bus, {Namespace.PAPER: h.execution})
    await h.signal(Side.BUY, 3, ts=T0, order_type=OrderType.LIMIT, limit=90.0)
    await command(h.bus, CommandAction.HALT)
    assert results == []  # no answer expected of it, none given
    assert h.execution.open_orders() != {}


async def test_flatten_one_symbol_one_strategy_or_everything_in_paper() -> None:
    h = Harness()
    _, results = control(h.bus, {Namespace.PAPER: h.execution})
    await h.signal(Side.BUY, 10, ts=T0, strategy="long")
    await h.signal(Side.SELL, 4, ts=T0, strategy="short")
    await h.signal(Side.BUY, 5, token=TCS, ts=T0, strategy="long")
    await h.tick(100.0, T0 + 1)
    await h.tick(300.0, T0 + 1, token=TCS)
    await command(h.bus, CommandAction.FLATTEN, "symbol:tcs")
    await h.tick(301.0, T0 + 2, token=TCS)
    assert h.execution.positions() == {
        ("long", RELIANCE, Product.MIS): 10,
        ("short", RELIANCE, Product.MIS): -4,
    }
    await command(h.bus, CommandAction.FLATTEN, "strategy:short")
    await h.tick(101.0, T0 + 3)
    assert h.execution.positions() == {("long", RELIANCE, Product.MIS): 10}
    await command(h.bus, CommandAction.FLATTEN, "")
    await h.tick(102.0, T0 + 4)
    assert h.execution.positions() == {}
    assert [r.message for r in results] == [
        "paper: 1 closing order(s) for symbol TCS",
        "paper: 1 closing order(s) for strategy short",
        "paper: 1 closing order(s) for every position",
    ]
    assert all(r.ok for r in results)


async def test_a_flatten_that_names_nothing_is_refused_in_words() -> None:
    h = Harness()
    _, results = control(h.bus, {Namespace.PAPER: h.execution})
    for target in ("strategy:nope", "symbol:NOPE", "RELIANCE"):
        await command(h.bus, CommandAction.FLATTEN, target)
    assert [(r.ok, r.message) for r in results] == [
        (False, "no strategy named 'nope'; known strategies: long, short, sma"),
        (False, "unknown symbol 'NOPE'"),
        (
            False,
            "cannot flatten 'RELIANCE': use flatten \"\" (everything), "
            '"strategy:<name>" or "symbol:<tradingsymbol>"',
        ),
    ]
    assert h.of(OrderPlaced) == []


async def test_the_typed_confirmation_arms_the_gate_only_with_the_word_and_is_audited(
    tmp_path: Path,
) -> None:
    async with live_desk(tmp_path) as live:
        z = live.settings.zerodha
        assert z.api_key is not None
        session = BrokerSession(SessionStore(live.settings.kite_session_file), z.api_key.get_secret_value())
        gate = LiveGate(session)
        _, results = control(
            live.bus, {Namespace.ZERODHA: live.execution}, live_gate=gate, audit=AuditLog(live.db)
        )
        assert gate.blocking_reason() is not None and "not confirmed" in (gate.blocking_reason() or "")
        await command(live.bus, CommandAction.CONFIRM_LIVE, "yes", issued_by="tui")
        assert not gate.confirmed
        user_id = session.status().user_id
        await command(live.bus, CommandAction.CONFIRM_LIVE, user_id.lower(), issued_by="tui")
        assert gate.confirmed and gate.blocking_reason() is None
        live.sandbox.faults.expire_tokens()
        session.mark_expired("TokenException: token refused")
        blocked = gate.blocking_reason()
        audit = await AuditLog(live.db).recent(5)
    assert [r.ok for r in results] == [False, True]
    assert blocked is not None and "no valid Kite session" in blocked and "log in" in blocked
    assert [(a.actor, a.action) for a in reversed(audit)] == [
        ("console", "live_confirm_refused"),
        ("console", "live_confirmed"),
    ]


async def test_the_live_global_loss_latch_cancels_every_open_live_order(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        for limit in (1400.0, 1410.0):
            await live.signal(Side.BUY, 2, limit=limit)
        await live.until(lambda: kite_statuses(live) == ["OPEN"] * 2)
        trading_control, _ = control(live.bus, {Namespace.ZERODHA: live.execution}, audit=AuditLog(live.db))
        risk = RiskManager(
            live.bus,
            Namespace.ZERODHA,
            RiskSettings(max_daily_loss=1_000.0, flatten_on_loss_halt=False),
            INSTRUMENTS,
            MarketCalendar(),
            WallClock(),
            MemoryStateStore(),
        )
        risk.on_global_latch = trading_control.loss_latched
        risk.wire()
        await risk.start()
        for realized in (0.0, -1_500.0):
            snapshot = PnlSnapshot(
                portfolio_id="zerodha:sma",
                strategy_id="sma",
                realized_pnl=realized,
                unrealized_pnl=0.0,
                charges=0.0,
                cash=0.0,
                equity=0.0,
            )
            event = make_event(snapshot, namespace=Namespace.ZERODHA, source="t", key="sma")
            await live.bus.publish(TopicMap(Namespace.ZERODHA).pnl_snapshots, event)
        await live.until(lambda: kite_statuses(live) == ["CANCELLED"] * 2)
        audit = await AuditLog(live.db).recent(1)
    assert "global" in risk.latches
    assert [(a.actor, a.action) for a in audit] == [("risk:daily_loss", "cancelled_all")]
    assert audit[0].detail.startswith("2 open orders: total day loss 1500.00")


async def test_live_positions_are_not_flattened_before_the_typed_confirmation(tmp_path: Path) -> None:
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0, asks=[(1500.05, 100)], bids=[(1499.95, 100)])
        await live.signal(Side.BUY, 2, order_type=OrderType.MARKET, limit=None)
        await live.until(lambda: sum(f.quantity for f in live.of(OrderFilled)) == 2)
        gate = LiveGate(None)
        _, results = control(live.bus, {Namespace.ZERODHA: live.execution}, live_gate=gate)
        await command(live.bus, CommandAction.FLATTEN)
        calls = len(live.sandbox.requests.order_calls())
    [result] = results
    assert not result.ok
    assert (
        result.message
        == "zerodha: every position not flattened: live orders are not confirmed (type LIVE first)"
    )
    assert calls == 1  # the one order placed before: no closing order went to Kite

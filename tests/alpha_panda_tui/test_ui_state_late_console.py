"""A console that starts (or attaches) while the engine trades shows what one that ran from the
engine's start shows: signals, decisions, log lines, orders, P&L and its curves, nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from alpha_panda_tui.attach_link import SocketBus
from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.ui_state import HOLD_S, UiState
from engine.events import (
    Command,
    CommandAction,
    DaySnapshot,
    EngineState,
    EngineStatus,
    Event,
    Namespace,
    PnlSnapshot,
    Side,
    SignalRejected,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.portfolio.pnl_series import PNL_INTERVAL_S, PnlCurves
from engine.recent_events import MAX_RECENT
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.topics import CONTROL_COMMANDS
from tests.alpha_panda_tui.harness import wait_for
from tests.strategy_configs import CHATTY_STRATEGIES_TOML
from tests.stream_harness import serving, socket_dir

FROM_STORAGE = "today ("  # the snapshot's own log line: each console logs its own counts


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    # few open positions: some signals are rejected, so the log has risk lines too
    # a fast session clock: several P&L curve points per real second
    return load_settings(
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 3}, feed={"session_speed": 60.0}
    )


def console(engine: Engine, group: str, *, joining: bool = False) -> UiBridge:
    """A console on the engine's bus; `joining` one holds live events while it waits for its snapshot."""
    namespaces = engine.active_namespaces
    bridge = UiBridge(engine.bus, engine.instruments, namespaces, group=group, hold_for_snapshot=joining)
    bridge.wire()
    return bridge


async def trade_until(engine: Engine, kept: int) -> None:
    """Pump ticks until the engine keeps at least `kept` recent events (well short of MAX_RECENT)."""
    while len(engine.day_snapshots.recent.events) < kept:
        await engine.pump(100)
    assert len(engine.day_snapshots.recent.events) < MAX_RECENT, "the window must hold the whole run"


async def commands(engine: Engine) -> None:
    """A strategy disabled, a halt and a resume, each reported in a status, between some trading."""
    for action, target in (
        (CommandAction.STRATEGY_DISABLE, "momo"),
        (CommandAction.HALT, ""),
        (CommandAction.RESUME, ""),
    ):
        command = Command(action=action, target=target, reason="from the test")
        event = make_event(command, namespace=Namespace.SHARED, source="test", key=target or action.value)
        await engine.bus.publish(CONTROL_COMMANDS, event)
        await engine.bus.drain()
        await engine.publish_status()
        await engine.pump(100)


def picture(state: UiState) -> dict[str, Any]:
    """What a trader sees, without per-console bookkeeping (row versions, log times)."""
    return {
        "signals": [
            (r.event_id, r.strategy_id, r.symbol, r.side, r.quantity, r.ts) for r in state.signals.rows
        ],
        "decisions": [(r.event_id, r.accepted, r.rule, r.quantity, r.ts) for r in state.decisions.rows],
        "log": [
            (line.level, line.text) for line in state.log.lines if not line.text.startswith(FROM_STORAGE)
        ],
        "orders": {
            o.order_id: (o.status, o.filled_quantity, o.correlation_id) for o in state.orders.by_id.values()
        },
        "fills": sorted(f.trade_id for f in state.orders.fills),
        "total": list(state.pnl.series),
        "curves": {k: list(v) for k, v in state.pnl.strategy_series.items()},
        "pnl": {k: (p.realized_pnl, p.unrealized_pnl, p.charges) for k, p in state.pnl.portfolios.items()},
        "strategies": [(r.status.name, r.status.enabled, r.pnl) for r in state.strategies.rows],
    }


def last_seen(state: UiState) -> tuple[str, object]:
    return (state.signals.rows[-1].event_id if state.signals.rows else "", state.status)


def caught_up(state: UiState, other: UiState) -> bool:
    return last_seen(state) == last_seen(other) and not state.holding


async def snapshot_seeded(engine: Engine, bridge: UiBridge) -> None:
    """The late console has its snapshot; then a fresh status, as the engine sends every second,
    so the console from the start is not behind on the strategies' toggles either."""
    await wait_for(lambda: bridge.state.trading_day != "" and not bridge.state.holding)
    await engine.publish_status(engine.status())
    await engine.bus.drain()


async def pnl_published(engine: Engine) -> None:
    """Every portfolio's latest P&L published, as the engine does within a second of the last tick:
    a late console's snapshot then tells no newer P&L than the console from the start has seen."""
    await asyncio.sleep(PNL_INTERVAL_S)
    await engine.publish_pending_pnl()
    await engine.bus.drain()


async def test_a_console_started_late_shows_what_one_from_the_start_shows(settings: Settings) -> None:
    engine = Engine(settings, paced=False)
    early = console(engine, "ui-early")
    await engine.start()
    try:
        await early.request_day_snapshot()  # as the embedded console does on mount
        await trade_until(engine, 150)
        await commands(engine)
        await trade_until(engine, 300)
        await pnl_published(engine)
        late = console(engine, "ui-late", joining=True)
        await late.request_day_snapshot()
        await engine.bus.drain()
        await snapshot_seeded(engine, late)
        seen, shown = picture(early.state), picture(late.state)
        assert len(seen["signals"]) > 20 and len(seen["decisions"]) > 20 and len(seen["fills"]) > 10
        assert any(not accepted for _, accepted, *_ in seen["decisions"]), "some signals should be rejected"
        logged = [text for _, text in seen["log"]]
        assert any("command strategy_disable momo" in text for text in logged)
        assert "engine HALTED: from the test" in logged and "engine running" in logged
        assert len(seen["total"]) > 1
        for part in seen:
            assert shown[part] == seen[part], part
    finally:
        await engine.stop()


async def test_a_console_attaching_mid_flow_counts_nothing_twice(settings: Settings) -> None:
    """Events keep coming between the late console's request and the answer: held, then applied
    after the snapshot's recent events; those in both are applied once."""
    engine = Engine(settings, paced=False)
    early = console(engine, "ui-early")
    await engine.start()
    try:
        await trade_until(engine, 150)
        # a console on since the start that asks only now (an embedded console's app mounting late):
        # the snapshot's recent events are all ones it has shown already
        await early.request_day_snapshot()
        late = console(engine, "ui-late", joining=True)
        await late.request_day_snapshot()
        assert late.state.holding == 0
        await engine.pump(300)  # the requests are answered somewhere in this flow
        await trade_until(engine, 300)
        await snapshot_seeded(engine, late)
        assert early.state.trading_day and not early.state.holding
        seen, shown = picture(early.state), picture(late.state)
        for part in seen:
            assert shown[part] == seen[part], part
        ids = [row[0] for row in shown["signals"]]
        assert len(ids) == len(set(ids)) and len(ids) > 20
    finally:
        await engine.stop()


def test_events_held_for_a_snapshot_that_never_comes_are_applied_after_the_hold_time() -> None:
    now = [100.0]
    state = UiState(InstrumentRegistry.sample(), clock=lambda: now[0])
    state.expect_day_snapshot("never-answered", hold=True)
    signal = TradingSignal("s1", 738561, Side.BUY, 1, 100.0)
    first = make_event(
        SignalRejected(signal, "max_quantity", "too big"), namespace=Namespace.PAPER, source="t", key="k"
    )
    state.apply(first)
    assert state.holding == 1 and not state.decisions.rows
    state.release_held("another request")  # an older request's timer: still waiting
    assert state.holding == 1
    now[0] += HOLD_S
    second = make_event(signal, namespace=Namespace.PAPER, source="t", key="k")
    state.apply(second)
    assert state.holding == 0
    assert [r.event_id for r in state.decisions.rows] == [first.id]
    assert [r.event_id for r in state.signals.rows] == [second.id]
    state.apply(first)  # redelivered: applied once
    assert len(state.decisions.rows) == 1


def test_held_events_are_bounded_in_count() -> None:
    from alpha_panda_tui.ui_state import HOLD_MAX

    state = UiState(InstrumentRegistry.sample(), clock=lambda: 0.0)
    state.expect_day_snapshot("r", hold=True)
    signal = TradingSignal("s1", 738561, Side.BUY, 1, 100.0)
    events: list[Event] = [
        make_event(signal, namespace=Namespace.PAPER, source="t", key="k") for _ in range(HOLD_MAX)
    ]
    for event in events[:-1]:
        state.apply(event)
    assert state.holding == HOLD_MAX - 1
    state.apply(events[-1])
    assert state.holding == 0 and state.signals.rows[-1].event_id == events[-1].id


def pnl_event(strategy: str, ts: float, realized: float) -> Event:
    snapshot = PnlSnapshot(f"paper:{strategy}", strategy, realized, 0.0, 1.0, 0.0, 0.0, snapshot_ts=ts)
    return make_event(snapshot, namespace=Namespace.PAPER, source="t", key=strategy)


def test_pnl_snapshots_in_flight_while_the_engine_answered_are_folded_once() -> None:
    """Over a socket or Kafka, P&L snapshots the engine folded before the request may reach the
    console after it (in order): folded again they leave the engine's curves as they were, and
    the newer ones extend them."""
    folded = [pnl_event("a", 10.0, 5.0), pnl_event("b", 10.4, 3.0), pnl_event("a", 12.0, 9.0)]
    newer = pnl_event("b", 13.0, -4.0)
    engine_side = PnlCurves()
    for event in folded:
        assert isinstance(event.payload, PnlSnapshot)
        engine_side.apply(event.payload, 0.0)
    state = UiState(InstrumentRegistry.sample(), clock=lambda: 0.0)
    state.expect_day_snapshot("r", hold=True)
    for event in (*folded, newer):  # all of them reach the console after its request
        state.apply(event)
    snapshot = DaySnapshot(
        request_id="r",
        trading_day="2026-12-02",
        status=EngineStatus(EngineState.RUNNING),
        recent=tuple(e for e in folded if e is not folded[0]),  # each portfolio's latest
        equity=tuple(engine_side.points()),
    )
    state.apply(make_event(snapshot, namespace=Namespace.SHARED, source="day_snapshot", key="d"))
    assert isinstance(newer.payload, PnlSnapshot)
    engine_side.apply(newer.payload, 0.0)
    assert list(state.pnl.series) == list(engine_side.total)
    assert {k: list(v) for k, v in state.pnl.strategy_series.items()} == {
        k: list(v) for k, v in engine_side.strategies.items()
    }
    assert state.pnl.total() == engine_side.net() == (9.0 - 1.0) + (-4.0 - 1.0)


async def test_a_console_attached_through_the_control_socket_shows_what_the_embedded_one_shows(
    settings: Settings,
) -> None:
    with socket_dir() as folder:
        async with serving(settings, folder / "control.sock") as served:
            engine = served.engine
            early = console(engine, "ui-early")  # wired after start, before any tick: sees it all
            await early.request_day_snapshot()
            await trade_until(engine, 150)
            link = SocketBus(folder / "control.sock", client="late", reconnect_s=0.05)
            late = UiBridge(link, engine.instruments, engine.active_namespaces, hold_for_snapshot=True)
            late.wire()
            await link.start()
            try:
                assert await link.wait_attached(5.0)
                await commands(engine)  # streamed to the late console before it asks: held
                await late.request_day_snapshot()
                await engine.pump(200)  # and while the answer is on its way
                await trade_until(engine, 300)
                await snapshot_seeded(engine, late)
                # the stream is behind the engine's own bus by a moment: until the same last events
                await wait_for(lambda: caught_up(late.state, early.state))
                seen, shown = picture(early.state), picture(late.state)
                assert len(seen["signals"]) > 20 and len(seen["total"]) > 1
                for part in seen:
                    assert shown[part] == seen[part], part
            finally:
                await link.stop()

"""The engine's recent events and P&L curves: bounded, what a console shows (ticks, statuses, answers
and requests aside), and in a day snapshot exactly as published before its request."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import (
    Command,
    CommandAction,
    DaySnapshot,
    DaySnapshotRequest,
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
from engine.portfolio.pnl_series import PNL_INTERVAL_S, PNL_POINTS, TOTAL, PnlCurves
from engine.recent_events import MAX_RECENT, NOT_KEPT, RecentEvents
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, console_topics
from tests.strategy_configs import CHATTY_STRATEGIES_TOML
from viewmodels.portfolio import PnlPane


def rejected(n: int) -> Event:
    signal = TradingSignal(f"s{n}", 738561, Side.BUY, 1, 100.0)
    return make_event(
        SignalRejected(signal, "max_quantity", "too big"), namespace=Namespace.PAPER, source="t", key="k"
    )


def pnl(strategy: str, ts: float, realized: float, charges: float = 1.0) -> Event:
    snapshot = PnlSnapshot(f"paper:{strategy}", strategy, realized, 0.0, charges, 0.0, 0.0, snapshot_ts=ts)
    return make_event(snapshot, namespace=Namespace.PAPER, source="t", key=strategy)


def test_it_keeps_the_last_events_a_console_shows_and_no_more() -> None:
    recent = RecentEvents()
    events = [rejected(n) for n in range(MAX_RECENT + 30)]
    request = make_event(DaySnapshotRequest(), namespace=Namespace.SHARED, source="t", key="r")
    for event in events:
        recent.fold(event)
    recent.fold(request)
    assert recent.recent(10_000) == tuple(events[-MAX_RECENT:])
    assert recent.recent(3) == tuple(events[-3:])
    assert recent.recent(0) == ()
    assert {DaySnapshot, PnlSnapshot, DaySnapshotRequest} <= NOT_KEPT


def status(state: EngineState, ts: float, reason: str = "") -> Event:
    payload = EngineStatus(state, halted_reason=reason, status_ts=ts, ticks=int(ts))
    return make_event(payload, namespace=Namespace.SHARED, source="engine", key="engine")


def test_a_status_is_kept_only_when_what_a_log_tells_of_it_changed() -> None:
    recent = RecentEvents()
    statuses = [
        status(EngineState.RUNNING, 1.0),
        status(EngineState.RUNNING, 2.0),  # only counters moved
        status(EngineState.HALTED, 3.0, "kill switch"),
        status(EngineState.HALTED, 4.0, "kill switch"),
        status(EngineState.RUNNING, 5.0),
    ]
    for event in statuses:
        recent.fold(event)
    assert recent.recent(10) == (statuses[0], statuses[2], statuses[4])


def test_pnl_snapshots_make_the_curves_and_only_the_latest_per_portfolio_is_sent() -> None:
    recent = RecentEvents()
    a1, b1, a2 = pnl("a", 10.0, 5.0), pnl("b", 10.5, -2.0), pnl("a", 12.0, 7.0)
    signal = rejected(1)
    for event in (a1, b1, signal, a2):
        recent.fold(event)
    assert recent.recent(10) == (signal, b1, a2)  # kept events, then the portfolios' latest
    points = {(p.strategy_id, p.ts): p.net_pnl for p in recent.equity()}
    # b1 is less than an interval after a1: it overwrote the total's first point
    assert points == {
        (TOTAL, 10.0): 4.0 - 3.0,
        (TOTAL, 12.0): 6.0 - 3.0,
        ("a", 10.0): 4.0,
        ("a", 12.0): 6.0,
        ("b", 10.5): -3.0,
    }
    ts = [p.ts for p in recent.equity()]
    assert ts == sorted(ts)


def test_the_console_pane_and_the_engine_draw_the_same_curves_and_a_loaded_copy_equals_them() -> None:
    engine_side = PnlCurves()
    pane = PnlPane(str)
    for n in range(2 * PNL_POINTS + 200):  # a point per two snapshots
        snapshot = pnl("ab"[n % 2], n * PNL_INTERVAL_S * 0.7, float(n % 17)).payload
        assert isinstance(snapshot, PnlSnapshot)
        engine_side.apply(snapshot, 0.0)
        pane.apply(snapshot, 0.0)
    assert list(pane.series) == list(engine_side.total) and len(pane.series) == PNL_POINTS
    assert {k: list(v) for k, v in pane.strategy_series.items()} == {
        k: list(v) for k, v in engine_side.strategies.items()
    }
    late = PnlPane(str)
    assert late.seed_curves(engine_side.points())
    assert list(late.series) == list(engine_side.total)
    assert {k: list(v) for k, v in late.strategy_series.items()} == {
        k: list(v) for k, v in engine_side.strategies.items()
    }


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


async def test_a_snapshot_brings_exactly_the_non_tick_events_published_before_its_request(
    settings: Settings,
) -> None:
    engine = Engine(settings, paced=False)
    seen: list[Event] = []
    answers: list[DaySnapshot] = []
    published_before: list[int] = []  # how many the watcher had seen when the request came

    async def watch(event: Event) -> None:
        if isinstance(event.payload, DaySnapshot):
            answers.append(event.payload)
        elif isinstance(event.payload, DaySnapshotRequest):
            published_before.append(len(seen))
        elif type(event.payload) not in NOT_KEPT:
            seen.append(event)

    engine.bus.subscribe(console_topics(engine.active_namespaces, ticks=False), "watcher", watch)
    await engine.start()
    try:
        for _ in range(4):
            await engine.pump(500)
        command = Command(CommandAction.STRATEGY_DISABLE, target="nope", reason="test")
        await engine.bus.publish(
            CONTROL_COMMANDS, make_event(command, namespace=Namespace.SHARED, source="t", key="c")
        )
        await engine.bus.drain()
        assert len(seen) > 50, "the strategies should have traded"
        request = make_event(
            DaySnapshotRequest(recent_events=40), namespace=Namespace.SHARED, source="t", key="r"
        )
        await engine.bus.publish(CONTROL_COMMANDS, request)
        await engine.pump(200)  # more events after the request: not in its answer
        assert len(answers) == 1
        snapshot = answers[0]
        kept = [e for e in snapshot.recent if not isinstance(e.payload, PnlSnapshot)]
        assert len(seen) > published_before[0] > 40
        assert [e.id for e in kept] == [e.id for e in seen[: published_before[0]][-40:]]
        assert any(isinstance(e.payload, Command) for e in seen)
        books = engine.portfolios[Namespace.PAPER].portfolios
        latest = [e.payload for e in snapshot.recent if isinstance(e.payload, PnlSnapshot)]
        assert {p.portfolio_id for p in latest} <= set(books) and latest
        curves = {p.strategy_id for p in snapshot.equity}
        assert TOTAL in curves and curves - {TOTAL} <= {b.strategy_id for b in books.values()}
        assert MARKET_TICKS not in console_topics(engine.active_namespaces, ticks=False)
        assert ENGINE_STATUS in console_topics(engine.active_namespaces, ticks=False)
    finally:
        await engine.stop()


def test_seeding_curves_puts_the_engines_older_points_before_the_consoles_own() -> None:
    engine_side = PnlCurves()
    for n in range(10):
        snapshot = pnl("a", float(n), float(n)).payload
        assert isinstance(snapshot, PnlSnapshot)
        engine_side.apply(snapshot, 0.0)
    joined = PnlPane(str)  # saw the run from t = 6 on
    for n in range(6, 12):
        snapshot = pnl("a", float(n), float(n)).payload
        assert isinstance(snapshot, PnlSnapshot)
        joined.apply(snapshot, 0.0)
    assert joined.seed_curves(engine_side.points())
    assert [ts for ts, _ in joined.series] == [float(n) for n in range(12)]
    assert [ts for ts, _ in joined.strategy_series["a"]] == [float(n) for n in range(12)]
    whole = list(joined.series)
    assert not joined.seed_curves(engine_side.points())  # nothing older than what it has
    assert list(joined.series) == whole

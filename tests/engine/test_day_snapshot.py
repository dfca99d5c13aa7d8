"""The day snapshot: today's orders and fills from storage (bounded, oldest first), the portfolios'
current P&L and the engine's status, answered over the bus and intact through encoding."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from engine.clock import ManualClock
from engine.day_snapshot import DAY_S, MAX_SNAPSHOT_BYTES, build_day_snapshot, fit, ist_day_bounds, pnl_of
from engine.events import (
    DaySnapshot,
    DaySnapshotRequest,
    EngineState,
    EngineStatus,
    EquityPoint,
    Event,
    Namespace,
    PnlSnapshot,
    decode_event,
    encode_event,
    make_event,
    trading_state,
)
from engine.portfolio.pnl_series import PNL_POINTS
from engine.recent_events import MAX_RECENT
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.repository import fills_between, orders_between
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS
from tests.strategy_configs import CHATTY_STRATEGIES_TOML


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


async def traded(settings: Settings) -> Engine:
    engine = Engine(settings, paced=False)
    await engine.start()
    for _ in range(8):
        await engine.pump(500)
    assert engine.writer is not None and await engine.writer.flush()
    return engine


def test_the_state_is_derived_halt_over_latch_over_running() -> None:
    running = EngineState.RUNNING
    assert trading_state(running, halted=False, latched=False) is EngineState.RUNNING
    assert trading_state(running, halted=False, latched=True) is EngineState.LATCHED
    assert trading_state(running, halted=True, latched=True) is EngineState.HALTED
    for other in (EngineState.STARTING, EngineState.STOPPING, EngineState.STOPPED):
        assert trading_state(other, halted=True, latched=True) is other


def test_ist_day_bounds() -> None:
    start, end = ist_day_bounds(1_780_000_000.0)
    assert end - start == DAY_S
    assert start <= 1_780_000_000.0 < end
    assert (start + 5.5 * 3600) % DAY_S == 0  # IST midnight


async def test_the_snapshot_holds_the_newest_orders_and_fills_of_today(settings: Settings) -> None:
    engine = await traded(settings)
    try:
        assert engine.db is not None
        start, end = ist_day_bounds(engine.clock.now())
        orders, order_count = await orders_between(engine.db, Namespace.PAPER, start, end, 10_000)
        fills, fill_count = await fills_between(engine.db, Namespace.PAPER, start, end, 10_000)
        assert order_count == len(orders) > 10 and fill_count == len(fills) > 10
        snapshot = await engine.day_snapshots.build("r", max_orders=5, max_fills=7)
        assert [o.order_id for o in snapshot.orders] == [o.order_id for o in orders[-5:]]
        assert [f.fill.trade_id for f in snapshot.fills] == [f.fill.trade_id for f in fills[-7:]]
        assert (snapshot.orders_today, snapshot.fills_today) == (order_count, fill_count)
        for view in snapshot.orders:
            own = [f.fill for f in fills if f.fill.order_id == view.order_id]
            assert view.filled_quantity == sum(f.quantity for f in own)
            if own:
                notional = sum(f.quantity * f.price for f in own)
                assert view.average_price == pytest.approx(notional / view.filled_quantity)
                assert view.charges == pytest.approx(sum(f.charges.total for f in own))
        books = engine.portfolios[Namespace.PAPER].portfolios
        assert {p.portfolio_id for p in snapshot.portfolios} == set(books)
        for pnl in snapshot.portfolios:
            book = books[pnl.portfolio_id]
            assert (pnl.realized_pnl, pnl.unrealized_pnl, pnl.charges) == (
                book.realized_pnl,
                book.unrealized_pnl,
                book.charges,
            )
        assert snapshot.status.state is EngineState.RUNNING
    finally:
        await engine.stop()


async def test_another_day_has_no_orders_or_fills_but_the_current_portfolios(settings: Settings) -> None:
    engine = await traded(settings)
    try:
        tomorrow = ManualClock(engine.clock.now() + DAY_S)
        snapshot = await build_day_snapshot(
            request_id="r",
            db=engine.db,
            namespaces=engine.active_namespaces,
            portfolios=engine.portfolios,
            clock=tomorrow,
            status=engine.status(),
        )
        assert snapshot.orders == () and snapshot.fills == ()
        assert (snapshot.orders_today, snapshot.fills_today) == (0, 0)
        assert len(snapshot.portfolios) == len(engine.portfolios[Namespace.PAPER].portfolios) > 0
    finally:
        await engine.stop()


async def test_a_request_on_the_bus_is_answered_and_survives_encoding(settings: Settings) -> None:
    engine = await traded(settings)
    answers: list[Event] = []

    async def collect(event: Event) -> None:
        if isinstance(event.payload, DaySnapshot):
            answers.append(event)

    engine.bus.subscribe([ENGINE_STATUS], "test", collect)
    try:
        asked = DaySnapshotRequest(max_orders=3, max_fills=3)
        request = make_event(asked, namespace=Namespace.SHARED, source="t", key="r")
        await engine.bus.publish(CONTROL_COMMANDS, request)
        await engine.bus.drain()
        assert len(answers) == 1
        answer = answers[0]
        assert isinstance(answer.payload, DaySnapshot) and answer.payload.request_id == request.id
        assert len(answer.payload.orders) == 3 and len(answer.payload.fills) == 3
        assert decode_event(encode_event(answer)) == answer  # the same over Kafka or a socket
    finally:
        await engine.stop()


def fill_curves(engine: Engine) -> None:
    """Every strategy's P&L curve full (PNL_POINTS feed seconds of snapshots), as after a long day."""
    recent = engine.day_snapshots.recent
    books = list(engine.portfolios[Namespace.PAPER].portfolios.values())
    start = engine.clock.now()
    for n in range(PNL_POINTS):
        for book in books:
            snapshot = msgspec.structs.replace(
                pnl_of(book, start + n), realized_pnl=book.realized_pnl + n * 1.37
            )
            recent.fold(make_event(snapshot, namespace=Namespace.PAPER, source="t", key=book.portfolio_id))


async def test_a_busy_day_with_full_curves_fits_one_kafka_message(settings: Settings) -> None:
    engine = await traded(settings)
    try:
        while len(engine.day_snapshots.recent.events) < MAX_RECENT:
            await engine.pump(500)
        assert engine.writer is not None and await engine.writer.flush()
        fill_curves(engine)
        built = await engine.day_snapshots.build("r", recent_events=MAX_RECENT)
        books = engine.portfolios[Namespace.PAPER].portfolios
        assert len(built.equity) == PNL_POINTS * (len(books) + 1)
        kept = [e for e in built.recent if not isinstance(e.payload, PnlSnapshot)]
        assert len(kept) == MAX_RECENT
        snapshot = fit(built)
        assert (
            len(encode_event(make_event(snapshot, namespace=Namespace.SHARED, source="t", key="r")))
            < 1_000_000
        )
        assert len(msgspec.json.encode(snapshot)) <= MAX_SNAPSHOT_BYTES
        # whatever gave way, the newest stayed, and every portfolio's latest P&L snapshot with them
        assert snapshot.recent[-len(books) :] == built.recent[-len(books) :]
        assert snapshot.orders == built.orders[-len(snapshot.orders) :]
        assert snapshot.fills == built.fills[-len(snapshot.fills) :]
        assert snapshot.equity == built.equity[-len(snapshot.equity) :]
    finally:
        await engine.stop()


def test_fit_halves_the_largest_part_keeping_the_newest() -> None:
    status = EngineStatus(EngineState.RUNNING)
    equity = tuple(EquityPoint(float(n), "", float(n)) for n in range(10_000))
    snapshot = DaySnapshot(request_id="r", trading_day="2026-12-02", status=status, equity=equity)
    assert fit(snapshot, 10**9) is snapshot
    small = fit(snapshot, 50_000)
    assert len(msgspec.json.encode(small)) <= 50_000
    assert small.equity == equity[-len(small.equity) :] and len(small.equity) > len(equity) // 16

"""A console attached over Kafka: an engine on the Kafka bus and a console bus on one real (tansu) broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path

import pytest

from alpha_panda_tui.attach_kafka import kafka_console_bus
from alpha_panda_tui.bridge import UiBridge
from engine.bus import KafkaBus
from engine.events import (
    CommandAction,
    DaySnapshot,
    DaySnapshotRequest,
    EngineStatus,
    EquityPoint,
    Event,
    EventType,
    FillView,
    Namespace,
    OrderFilled,
    encode_event,
    make_event,
)
from engine.runtime import Engine
from engine.settings import load_settings
from engine.topics import ENGINE_STATUS, console_topics
from tests.strategy_configs import EMA_FAST_TOML
from viewmodels.trading import MAX_FILLS

pytestmark = pytest.mark.kafka

WAIT_S = 20.0
DEFAULT_KAFKA_REQUEST_BYTES = 1_048_576  # a Kafka producer's max.request.size unless told otherwise
TICKS = 20  # per pump: a paper order fills on a later tick, so trade in small steps


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something the broker delivers in its own time; fail saying what never came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"within {WAIT_S:g} s: {what}")
        await asyncio.sleep(0.02)


async def trade(engine: Engine, pumps: int) -> None:
    for _ in range(pumps):
        await engine.pump(TICKS)


@pytest.fixture
async def engine(kafka_bootstrap: str, isolated_dirs: Path) -> AsyncIterator[Engine]:
    (isolated_dirs / "config" / "strategies.toml").write_text(EMA_FAST_TOML, encoding="utf-8")
    settings = load_settings(
        bus={"kind": "kafka", "kafka_bootstrap": kafka_bootstrap, "kafka_group_prefix": "engine"},
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 100},
    )
    engine = Engine(settings, paced=False)
    assert isinstance(engine.bus, KafkaBus)
    await engine.start()
    yield engine
    await engine.stop()


async def test_a_console_on_kafka_gets_the_day_then_live_events_and_its_halt_takes_effect(
    engine: Engine, kafka_bootstrap: str
) -> None:
    await trade(engine, 40)  # a morning's trading before the console attaches
    if engine.writer is not None:
        await engine.writer.flush()
    before = engine.status()
    assert before.fills > 0
    fills_before = before.fills

    console = kafka_console_bus(kafka_bootstrap)
    bridge = UiBridge(console, engine.instruments, engine.active_namespaces)
    bridge.wire()
    seen = Recorder()
    console.subscribe(console_topics(engine.active_namespaces), "seen", seen)
    await console.start()
    try:
        await bridge.request_day_snapshot()
        state = bridge.state
        await until(
            lambda: state.trading_day != "" and bool(seen.of(EventType.DAY_SNAPSHOT)),
            "the console's day snapshot answered over Kafka",
        )

        # the day so far came with the snapshot, not as replayed events
        [answer] = seen.of(EventType.DAY_SNAPSHOT)
        snapshot = answer.payload
        assert isinstance(snapshot, DaySnapshot)
        assert snapshot.fills_today == fills_before
        assert len(state.orders.fills) == min(fills_before, MAX_FILLS)
        assert snapshot.status.ticks == before.ticks
        stored = {f.fill.trade_id for f in snapshot.fills}
        assert {row.trade_id for row in state.orders.fills} == stored
        net = sum(p.realized_pnl + p.unrealized_pnl - p.charges for p in snapshot.portfolios)
        assert net == pytest.approx(sum(m.totals().net_pnl for m in engine.portfolios.values()), abs=0.01)
        assert set(state.pnl.portfolios) == {p.portfolio_id for p in snapshot.portfolios}
        assert not seen.of(EventType.MARKET_TICK)
        assert not seen.of(EventType.ORDER_FILLED)
        # with the engine's recent events (the signals pane as if it had watched) and its P&L curves
        recent_fills = {e.payload.trade_id for e in snapshot.recent if isinstance(e.payload, OrderFilled)}
        assert recent_fills and recent_fills <= stored
        recent_signals = [e.id for e in snapshot.recent if e.type is EventType.TRADING_SIGNAL]
        assert recent_signals
        assert [row.event_id for row in state.signals.rows][-len(recent_signals) :] == recent_signals
        assert any(point.strategy_id == "" for point in snapshot.equity)

        # live events reach it
        await trade(engine, 20)
        await until(lambda: len(seen.of(EventType.MARKET_TICK)) == 20 * TICKS, "the live ticks")
        after = engine.status()
        assert after.fills > fills_before
        await until(
            lambda: len(seen.of(EventType.ORDER_FILLED)) == after.fills - fills_before, "the live fills"
        )
        live_trades = {
            e.payload.trade_id for e in seen.of(EventType.ORDER_FILLED) if isinstance(e.payload, OrderFilled)
        }
        assert not live_trades & stored

        # its halt takes effect in the engine, and the console hears the result
        command_id = await bridge.send(CommandAction.HALT, reason="halted from a Kafka console")
        await until(lambda: engine.halted, "the engine halted by the console's command")
        await until(
            lambda: any(
                getattr(e.payload, "command_id", "") == command_id for e in seen.of(EventType.COMMAND_RESULT)
            ),
            "the halt's result on the console",
        )
        await engine.publish_status(engine.status())
        await until(lambda: state.halted, "the console showing the engine halted")
    finally:
        await console.stop()


def busy_day_snapshot(request_id: str, status: EngineStatus, sample: Sequence[Event]) -> DaySnapshot:
    """A busy day at the limits a console asks for: every order, fill and recent-event slot
    filled, and the P&L curves of 20 strategies: over 1 MB of JSON."""
    fills = [e for e in sample if isinstance(e.payload, OrderFilled)]
    assert fills and len(sample) >= 10
    views = tuple(
        FillView(
            namespace=Namespace.PAPER, event_id=f"{e.id}-{n}", correlation_id=e.correlation_id, fill=e.payload
        )
        for n in range(MAX_FILLS)
        if isinstance((e := fills[n % len(fills)]).payload, OrderFilled)
    )
    curves = ["", *(f"strategy_{k:02}" for k in range(20))]
    return DaySnapshot(
        request_id=request_id,
        trading_day="2026-12-02",
        status=status,
        fills=views,
        fills_today=len(views),
        recent=tuple(sample[n % len(sample)] for n in range(500)),
        equity=tuple(
            EquityPoint(1_780_000_000.0 + i, curve, -1_234.56 + i * 0.37)
            for curve in curves
            for i in range(720)
        ),
    )


async def test_a_busy_day_snapshot_larger_than_a_default_kafka_request_reaches_the_console(
    engine: Engine, kafka_bootstrap: str
) -> None:
    sample = Recorder()
    engine.bus.subscribe(console_topics(engine.active_namespaces, ticks=False), "sample", sample)
    await trade(engine, 40)
    await until(lambda: bool(sample.of(EventType.ORDER_FILLED)), "fills to build a busy snapshot from")

    console = kafka_console_bus(kafka_bootstrap)
    seen = Recorder()
    console.subscribe([ENGINE_STATUS], "seen", seen)
    await console.start()
    try:
        request = make_event(
            DaySnapshotRequest(), namespace=Namespace.SHARED, source="test", key="day_snapshot"
        )
        busy = request.child(
            busy_day_snapshot(request.id, engine.status(), sample.events),
            source="day_snapshot",
            key="day_snapshot",
            namespace=Namespace.SHARED,
        )
        size = len(encode_event(busy))
        assert size > DEFAULT_KAFKA_REQUEST_BYTES
        await engine.bus.publish(ENGINE_STATUS, busy)
        await until(
            lambda: bool(seen.of(EventType.DAY_SNAPSHOT)), f"a {size:,}-byte day snapshot on the console"
        )
    finally:
        await console.stop()
    [arrived] = seen.of(EventType.DAY_SNAPSHOT)
    assert arrived.payload == busy.payload


async def test_two_consoles_on_kafka_each_see_every_live_event(engine: Engine, kafka_bootstrap: str) -> None:
    await trade(engine, 10)
    consoles = [kafka_console_bus(kafka_bootstrap) for _ in range(2)]
    recorders = [Recorder() for _ in consoles]
    for console, recorder in zip(consoles, recorders, strict=True):
        console.subscribe(console_topics(engine.active_namespaces), "seen", recorder)
        await console.start()
    try:
        fills_before = engine.status().fills
        await trade(engine, 20)
        fills = engine.status().fills - fills_before
        assert fills > 0

        def everything(recorder: Recorder) -> bool:
            return len(recorder.of(EventType.MARKET_TICK)) == 20 * TICKS and (
                len(recorder.of(EventType.ORDER_FILLED)) == fills
            )

        for recorder in recorders:
            await until(partial(everything, recorder), "every live tick and fill on both consoles")
    finally:
        for console in consoles:
            await console.stop()
    first, second = ({e.id for e in r.events if e.type is not EventType.ENGINE_STATUS} for r in recorders)
    assert first == second

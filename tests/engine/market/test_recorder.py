from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from pathlib import Path

from engine.bus import DirectBus, InProcessBus
from engine.clock import ManualClock
from engine.events import Event, MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.feed_service import MarketFeedService
from engine.market.recorder import TickRecorder
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import ReplayTickSource, TickFileError, read_ticks
from engine.topics import MARKET_TICKS

REGISTRY = InstrumentRegistry.sample()
SESSION_TS = datetime.combine(date(2026, 1, 20), time(9, 15, 7), IST).timestamp()


class Collector:
    def __init__(self) -> None:
        self.ticks: list[MarketTick] = []

    async def __call__(self, event: Event) -> None:
        assert isinstance(event.payload, MarketTick)
        self.ticks.append(event.payload)


def flushed_ticks(path: Path) -> list[MarketTick]:
    """What has reached the file so far (nothing, before the header is flushed)."""
    try:
        return list(read_ticks(path, REGISTRY))
    except TickFileError:
        return []


def file_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def live_feed(bus: InProcessBus | DirectBus, seed: int = 5) -> MarketFeedService:
    clock = SimulatedSessionClock(speed=50.0)  # a real session clock: times are whatever they are
    return MarketFeedService(
        bus, SimulatedFeed(list(REGISTRY), clock=clock, seed=seed), instruments=REGISTRY, paced=False
    )


async def test_recorded_ticks_read_back_identical(tmp_path: Path) -> None:
    bus = InProcessBus(retry_backoff_s=0)
    live = Collector()
    bus.subscribe([MARKET_TICKS], "live", live)
    feed = live_feed(bus)
    recorder = TickRecorder(bus, tmp_path / "recordings", REGISTRY)
    for service in (feed, recorder):
        service.wire()
    await bus.start()
    await recorder.start()
    for _ in range(5):
        await feed.pump(600)
    await bus.drain()
    await recorder.stop()
    await bus.stop()
    assert len(live.ticks) == 3000
    assert recorder.ticks_recorded == 3000
    assert list(read_ticks(recorder.path, REGISTRY)) == live.ticks


async def test_a_recording_replays_into_the_same_events(tmp_path: Path) -> None:
    bus = DirectBus()
    live = Collector()
    bus.subscribe([MARKET_TICKS], "live", live)
    feed = live_feed(bus, seed=8)
    recorder = TickRecorder(bus, tmp_path, REGISTRY)
    feed.wire()
    recorder.wire()
    await recorder.start()
    await feed.pump(1000)
    await recorder.stop()

    replay_bus = DirectBus()
    replayed = Collector()
    replay_bus.subscribe([MARKET_TICKS], "replayed", replayed)
    replay = MarketFeedService(replay_bus, ReplayTickSource(recorder.path, REGISTRY), paced=False)
    await replay.pump(10_000)
    assert replay.finished.is_set()
    assert replayed.ticks == live.ticks


async def test_the_file_is_named_after_the_session_and_never_clobbered(tmp_path: Path) -> None:
    clock = SimulatedSessionClock.frozen(SESSION_TS)
    first = TickRecorder(DirectBus(), tmp_path, REGISTRY, clock=clock)
    second = TickRecorder(DirectBus(), tmp_path, REGISTRY, clock=clock)
    await first.start()
    await second.start()
    assert first.path == tmp_path / "ticks-20260120-091507.csv"
    assert second.path == tmp_path / "ticks-20260120-091507-1.csv"
    await first.stop()
    await second.stop()
    assert first.path.read_text(encoding="utf-8").startswith("timestamp,instrument_token,symbol,")


async def test_the_background_task_flushes_without_a_stop(tmp_path: Path) -> None:
    bus = DirectBus()
    feed = live_feed(bus)
    recorder = TickRecorder(bus, tmp_path, REGISTRY, flush_interval_s=0.01)
    recorder.wire()
    await recorder.start()
    await feed.pump(200)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    rows: list[MarketTick] = []
    while len(rows) < 200 and loop.time() < deadline:
        await asyncio.sleep(0.01)
        rows = flushed_ticks(recorder.path)
    assert len(rows) == 200
    await recorder.stop()


async def test_ticks_after_stop_do_not_start_another_file(tmp_path: Path) -> None:
    bus = DirectBus()
    feed = live_feed(bus)
    recordings = tmp_path / "recordings"
    recorder = TickRecorder(bus, recordings, REGISTRY, clock=ManualClock(SESSION_TS))
    recorder.wire()
    await recorder.start()
    await feed.pump(10)
    await recorder.stop()
    await feed.pump(10)
    assert recorder.ticks_recorded == 10
    assert file_names(recordings) == [recorder.path.name]
    assert len(list(read_ticks(recorder.path, REGISTRY))) == 10

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.bus import DirectBus, InProcessBus
from engine.clock import ManualClock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    EventType,
    MarketTick,
    Namespace,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.market.feed_service import MarketFeedService
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import ReplayTickSource, TickFileError, write_ticks
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS

REGISTRY = InstrumentRegistry.sample()
START = 1_768_880_700.0  # 2026-01-20 09:15 IST


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def payloads(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e.payload for e in self.events if isinstance(e.payload, kind)]


def simulated(seed: int = 9) -> SimulatedFeed:
    return SimulatedFeed(list(REGISTRY), clock=ManualClock(START), seed=seed)


async def until(condition: Callable[[], bool], limit_s: float = 5.0) -> None:
    """Wait for a condition, giving up (and failing the caller's assert) after a generous limit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition() and loop.time() < deadline:  # noqa: ASYNC110 - counters have no event
        await asyncio.sleep(0.005)


async def command(bus: InProcessBus, action: CommandAction) -> Event:
    event = make_event(
        Command(action=action, issued_by="test"), namespace=Namespace.SHARED, source="test", key="c"
    )
    await bus.publish(CONTROL_COMMANDS, event)
    return event


async def test_pump_publishes_exactly_n_ticks_as_feed_events() -> None:
    bus = DirectBus()
    seen = Collector()
    bus.subscribe([MARKET_TICKS], "test", seen)
    feed = MarketFeedService(bus, simulated(), instruments=REGISTRY, paced=False)
    feed.wire()
    await bus.start()
    await feed.start()
    assert await feed.pump(2500) == 2500
    assert feed.ticks_published == 2500
    assert len(seen.events) == 2500
    assert seen.payloads(MarketTick) == simulated().next_batch(2500)
    for event in seen.events[:50]:
        assert event.type is EventType.MARKET_TICK
        assert event.namespace is Namespace.SHARED
        assert event.source == "feed"
        assert isinstance(event.payload, MarketTick)
        assert event.key == str(event.payload.instrument_token)
    assert len({e.id for e in seen.events}) == 2500
    await feed.stop()


async def test_a_finite_source_finishes_the_feed(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    recorded = simulated().next_batch(70)
    write_ticks(path, recorded, REGISTRY)
    bus = DirectBus()
    seen = Collector()
    bus.subscribe([MARKET_TICKS], "test", seen)
    replay_clock = ManualClock(0.0)
    feed = MarketFeedService(bus, ReplayTickSource(path, REGISTRY), paced=False, replay_clock=replay_clock)
    assert await feed.pump(50) == 50
    assert not feed.finished.is_set()
    assert await feed.pump(50) == 20
    assert feed.finished.is_set()
    assert await feed.pump(50) == 0
    assert seen.payloads(MarketTick) == recorded
    assert replay_clock.now() == recorded[-1].exchange_ts


async def test_paced_replay_runs_to_the_end_and_finishes(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    recorded = simulated().next_batch(40)
    write_ticks(path, recorded, REGISTRY)
    bus = InProcessBus(retry_backoff_s=0)
    seen = Collector()
    bus.subscribe([MARKET_TICKS], "test", seen)
    feed = MarketFeedService(bus, ReplayTickSource(path, REGISTRY), ticks_per_second=5000)
    feed.wire()
    await bus.start()
    await feed.start()
    await asyncio.wait_for(feed.finished.wait(), timeout=10)
    await bus.drain()
    assert seen.payloads(MarketTick) == recorded
    await feed.stop()
    await bus.stop()


async def test_a_bad_row_stops_the_paced_feed_with_the_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ticks.csv"
    recorded = simulated().next_batch(12)
    write_ticks(path, recorded, REGISTRY)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[10] = lines[10].replace(",", ",x", 1)  # line 11: a bad instrument token
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bus = InProcessBus(retry_backoff_s=0)
    seen = Collector()
    bus.subscribe([MARKET_TICKS], "test", seen)
    told: list[Exception] = []
    feed = MarketFeedService(
        bus, ReplayTickSource(path, REGISTRY), ticks_per_second=5000, on_failure=told.append
    )
    await bus.start()
    await feed.start()
    await asyncio.wait_for(feed.finished.wait(), timeout=10)
    await bus.drain()
    assert isinstance(feed.error, TickFileError)
    assert "line 11" in str(feed.error)
    assert told == [feed.error]
    assert seen.payloads(MarketTick) == recorded[:9]
    [logged] = [r for r in caplog.records if "feed stopped" in r.getMessage()]
    assert "line 11" in logged.getMessage() and logged.exc_info is None  # the line says it all
    await feed.stop()
    await bus.stop()


async def test_paced_feed_publishes_and_pause_resume_commands_work() -> None:
    bus = InProcessBus(retry_backoff_s=0)
    status = Collector()
    bus.subscribe([ENGINE_STATUS], "test", status)
    feed = MarketFeedService(bus, simulated(), ticks_per_second=2000, instruments=REGISTRY)
    feed.wire()
    await bus.start()
    await feed.start()
    try:
        await until(lambda: feed.ticks_published >= 20)
        assert feed.ticks_published >= 20
        assert feed.rate() > 0

        pause = await command(bus, CommandAction.FEED_PAUSE)
        await until(lambda: bool(status.payloads(CommandResult)))
        [result] = status.payloads(CommandResult)
        assert result == CommandResult(
            command_id=pause.id,
            action=CommandAction.FEED_PAUSE,
            ok=True,
            message="feed paused",
            service="feed",
        )
        [result_event] = status.events
        assert result_event.causation_id == pause.id
        assert result_event.correlation_id == pause.correlation_id
        assert feed.paused
        stopped_at = feed.ticks_published
        await asyncio.sleep(0.1)  # several pacing intervals
        assert feed.ticks_published == stopped_at

        await command(bus, CommandAction.FEED_PAUSE)
        await command(bus, CommandAction.FEED_RESUME)
        await until(lambda: len(status.payloads(CommandResult)) == 3)
        messages = [r.message for r in status.payloads(CommandResult)]
        assert messages == ["feed paused", "feed already paused", "feed resumed"]
        assert not feed.paused
        await until(lambda: feed.ticks_published > stopped_at + 10)
        assert feed.ticks_published > stopped_at + 10
    finally:
        await feed.stop()
        await bus.stop()


async def test_other_commands_are_left_to_other_services() -> None:
    bus = InProcessBus(retry_backoff_s=0)
    status = Collector()
    bus.subscribe([ENGINE_STATUS], "test", status)
    feed = MarketFeedService(bus, simulated(), paced=False)
    feed.wire()
    await bus.start()
    await command(bus, CommandAction.HALT)
    await bus.drain()
    assert status.events == []
    assert not feed.paused
    await bus.stop()


async def test_pump_ignores_pause_but_the_paced_loop_does_not() -> None:
    bus = DirectBus()
    feed = MarketFeedService(bus, simulated(), ticks_per_second=100_000)
    feed.pause()
    await feed.start()
    await asyncio.sleep(0.05)
    assert feed.ticks_published == 0
    assert await feed.pump(10) == 10
    await feed.stop()


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MarketFeedService(DirectBus(), simulated(), ticks_per_second=0)

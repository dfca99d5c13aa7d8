"""Back-pressure only at the edge: stages that publish to each other never deadlock.

Two groups form a cycle (each handler publishes to the other's topic, as risk
and execution do with signals and fills) while a feed floods ticks into a third
group that publishes into the cycle, as the strategy runner does. Every queue
is tiny. No non-tick event may be lost and nothing may wait forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from engine.bus import Bus, DirectBus, Handler, InProcessBus, KafkaBus, TickOverflow
from engine.events import Event, EventType, MarketTick, Namespace, Side, TradingSignal, make_event
from engine.topics import MARKET_TICKS, TopicMap

PAPER = TopicMap(Namespace.PAPER)
TO_B = PAPER.signals_raw
TO_A = PAPER.orders_placed
SEEDS = 40
HOPS = 25  # each seed travels A -> B -> A ... this many times
TICKS = 2_000
INSTRUMENTS = 5


def tick(token: int, price: float) -> Event:
    payload = MarketTick(instrument_token=token, last_price=price, exchange_ts=1.0)
    return make_event(payload, namespace=Namespace.SHARED, source="feed", key=str(token))


def hop(hops_left: int, key: str) -> Event:
    payload = TradingSignal(
        strategy_id=key, instrument_token=1, side=Side.BUY, quantity=hops_left, reference_price=100.0
    )
    return make_event(payload, namespace=Namespace.PAPER, source="test", key=key)


class Cycle:
    """Group A handles TO_A and publishes to TO_B; group B the other way round."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.handled = {"a": 0, "b": 0}
        self.ticks = 0
        self.from_ticks = 0

    def wire(self) -> None:
        self.bus.subscribe([TO_A], "a", self._stage("a", TO_B))
        self.bus.subscribe([TO_B], "b", self._stage("b", TO_A))
        self.bus.subscribe([MARKET_TICKS], "runner", self._on_tick)

    def _stage(self, name: str, out: str) -> Handler:
        async def handle(event: Event) -> None:
            assert isinstance(event.payload, TradingSignal)
            self.handled[name] += 1
            left = event.payload.quantity - 1
            if left > 0:
                await self.bus.publish(out, hop(left, event.payload.strategy_id))

        return handle

    async def _on_tick(self, event: Event) -> None:
        self.ticks += 1
        if self.ticks % 50 == 0:  # a signal now and then, like a strategy crossing over
            self.from_ticks += 1
            await self.bus.publish(TO_B, hop(HOPS, f"t{self.ticks}"))

    def expected(self) -> int:
        return (SEEDS + self.from_ticks) * HOPS


async def run_cycle(bus: Bus, *, timeout: float = 30.0) -> Cycle:
    cycle = Cycle(bus)
    cycle.wire()
    await bus.start()
    try:
        async with asyncio.timeout(timeout):
            for n in range(SEEDS):  # a burst, without yielding: both queues overflow at once
                await bus.publish(TO_B, hop(HOPS, f"s{n}"))
                await bus.publish(TO_A, hop(HOPS, f"r{n}"))
            for first in range(0, TICKS, 100):
                batch = [tick(1 + i % INSTRUMENTS, float(first + i)) for i in range(100)]
                await bus.publish_many(MARKET_TICKS, batch)
                await asyncio.sleep(0)
            while sum(cycle.handled.values()) < cycle.expected() + SEEDS * HOPS:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            assert await bus.drain(timeout=timeout)
    finally:
        await bus.stop()
    return cycle


def in_process(overflow: TickOverflow) -> Callable[[], Bus]:
    return lambda: InProcessBus(queue_size=2, tick_overflow=overflow, max_retries=0, retry_backoff_s=0)


@pytest.mark.parametrize(
    "make_bus",
    [in_process(TickOverflow.CONFLATE), in_process(TickOverflow.BLOCK), DirectBus],
    ids=["inprocess-conflate", "inprocess-block", "direct"],
)
async def test_a_cycle_of_two_groups_with_tiny_queues_cannot_deadlock(make_bus: Callable[[], Bus]) -> None:
    bus = make_bus()
    cycle = await run_cycle(bus)
    # every hop of every seed (both directions) and of every tick-born signal was handled
    assert sum(cycle.handled.values()) == cycle.expected() + SEEDS * HOPS
    assert bus.stats.groups["a"].conflated == bus.stats.groups["b"].conflated == 0
    assert bus.stats.dead_lettered == 0
    assert bus.backlog() == 0
    if isinstance(bus, InProcessBus):
        assert bus.event_backlog() == 0
        assert not bus.ticks_held
        assert bus.stats.tick_holds > 0  # the event backlog did pass the high-water mark
        delivered = bus.stats.groups["runner"].delivered
        conflated = bus.stats.groups["runner"].conflated
        if bus.tick_overflow is TickOverflow.BLOCK:
            assert (delivered, conflated) == (TICKS, 0)  # the feed waited instead
        else:
            assert delivered + conflated == TICKS
            assert delivered >= INSTRUMENTS  # the newest tick of every instrument got through


@pytest.mark.kafka
@pytest.mark.slow
async def test_kafka_cycle_cannot_deadlock(kafka_bootstrap: str) -> None:
    """Kafka's producer never waits on a consumer: the broker holds the backlog."""
    bus = KafkaBus(
        bootstrap=kafka_bootstrap,
        group_prefix="cycle",
        session_timeout_ms=1_000,
        heartbeat_interval_ms=200,
        retry_backoff_s=0.0,
        max_poll_records=2,
    )
    cycle = await run_cycle(bus, timeout=60.0)
    assert sum(cycle.handled.values()) == cycle.expected() + SEEDS * HOPS
    assert cycle.ticks == TICKS


async def test_non_tick_events_are_accepted_at_once_however_full_the_queue() -> None:
    bus = InProcessBus(queue_size=2)
    seen: list[int] = []

    async def record(event: Event) -> None:
        assert isinstance(event.payload, TradingSignal)
        seen.append(event.payload.quantity)

    bus.subscribe([TO_A], "a", record)
    await bus.start()
    for n in range(1, 101):
        await bus.publish(TO_A, hop(n, "k"))
    assert seen == []  # publish never waited for the consumer to make room: it never ran
    assert bus.event_backlog() == 100
    assert bus.ticks_held
    await bus.stop()
    assert seen == list(range(1, 101))  # in order, none lost
    assert bus.event_backlog() == 0 and not bus.ticks_held


async def test_held_ticks_block_the_feed_until_events_drain_below_the_low_water_mark() -> None:
    bus = InProcessBus(queue_size=10, tick_overflow=TickOverflow.BLOCK)
    release = asyncio.Event()
    ticks: list[float] = []

    async def slow(event: Event) -> None:
        await release.wait()

    async def on_tick(event: Event) -> None:
        assert isinstance(event.payload, MarketTick)
        ticks.append(event.payload.last_price)

    bus.subscribe([TO_A], "a", slow)
    bus.subscribe([MARKET_TICKS], "runner", on_tick)
    await bus.start()
    for n in range(12):
        await bus.publish(TO_A, hop(n + 1, "k"))
    feed = asyncio.create_task(bus.publish(MARKET_TICKS, tick(1, 1.0)))
    await asyncio.sleep(0.02)
    assert not feed.done() and ticks == []  # the feed waits at the edge
    release.set()
    await asyncio.wait_for(feed, timeout=5)
    await bus.stop()
    assert ticks == [1.0]


async def test_discard_pending_ticks_keeps_every_other_event() -> None:
    bus = InProcessBus(queue_size=5)
    got: list[EventType] = []

    async def record(event: Event) -> None:
        got.append(event.type)

    bus.subscribe([MARKET_TICKS, TO_A], "g", record)
    await bus.start()
    for i in range(20):  # 5 queued, the rest conflated into one slot per instrument
        await bus.publish(MARKET_TICKS, tick(1 + i % 3, float(i)))
        if i % 4 == 0:
            await bus.publish(TO_A, hop(1, "k"))
    assert bus.discard_pending_ticks() > 0
    assert await bus.drain()
    await bus.stop()
    assert got == [EventType.TRADING_SIGNAL] * 5
    assert bus.stats.discarded_ticks > 0

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from engine.bus import Bus, DirectBus, InProcessBus, SegregationError, TickOverflow
from engine.events import (
    DeadLetter,
    Event,
    MarketTick,
    Namespace,
    Side,
    TradingSignal,
    decode_event,
    make_event,
)
from engine.topics import MARKET_TICKS, TopicMap, dlq_topic

PAPER = TopicMap(Namespace.PAPER)
ZERODHA = TopicMap(Namespace.ZERODHA)

BUSES: list[Callable[[], Bus]] = [
    lambda: InProcessBus(retry_backoff_s=0),
    lambda: DirectBus(max_retries=2),
]


def tick(token: int = 1, price: float = 100.0, ts: float = 1.0) -> Event:
    return make_event(
        MarketTick(instrument_token=token, last_price=price, exchange_ts=ts),
        namespace=Namespace.SHARED,
        source="test",
        key=str(token),
    )


def signal(namespace: Namespace = Namespace.PAPER, qty: int = 1) -> Event:
    payload = TradingSignal(
        strategy_id="s", instrument_token=1, side=Side.BUY, quantity=qty, reference_price=100.0
    )
    return make_event(payload, namespace=namespace, source="test", key="s")


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


@pytest.mark.parametrize("make_bus", BUSES)
async def test_every_group_gets_every_event(make_bus: Callable[[], Bus]) -> None:
    bus = make_bus()
    a, b = Recorder(), Recorder()
    bus.subscribe([MARKET_TICKS], "a", a)
    bus.subscribe([MARKET_TICKS, PAPER.signals_raw], "b", b)
    await bus.start()
    for i in range(5):
        await bus.publish(MARKET_TICKS, tick(price=100 + i))
    await bus.publish(PAPER.signals_raw, signal())
    await bus.stop()
    assert [e.payload.last_price for e in a.events] == [100, 101, 102, 103, 104]  # type: ignore[union-attr]
    assert len(b.events) == 6
    assert bus.stats.published[MARKET_TICKS] == 5


@pytest.mark.parametrize("make_bus", BUSES)
async def test_paper_event_cannot_be_published_on_zerodha_topic(make_bus: Callable[[], Bus]) -> None:
    bus = make_bus()
    received = Recorder()
    bus.subscribe([ZERODHA.signals_raw], "zerodha-risk", received)
    await bus.start()
    with pytest.raises(SegregationError, match="paper event"):
        await bus.publish(ZERODHA.signals_raw, signal(Namespace.PAPER))
    with pytest.raises(SegregationError):
        await bus.publish(PAPER.signals_raw, signal(Namespace.ZERODHA))
    await bus.stop()
    assert received.events == []
    assert bus.stats.rejected_segregation == 2


@pytest.mark.parametrize("make_bus", BUSES)
async def test_failing_handler_is_retried_then_dead_lettered_and_consumer_continues(
    make_bus: Callable[[], Bus],
) -> None:
    bus = make_bus()
    calls: list[int] = []

    async def flaky(event: Event) -> None:
        assert isinstance(event.payload, TradingSignal)
        calls.append(event.payload.quantity)
        if event.payload.quantity == 13:
            raise RuntimeError("unlucky quantity")

    letters = Recorder()
    bus.subscribe([PAPER.signals_raw], "risk", flaky)
    bus.subscribe([dlq_topic(PAPER.signals_raw)], "dlq-watch", letters)
    await bus.start()
    bad = signal(qty=13)
    await bus.publish(PAPER.signals_raw, bad)
    await bus.publish(PAPER.signals_raw, signal(qty=2))
    await bus.stop()
    assert calls == [13, 13, 13, 2]  # first try + 2 retries, then the next event
    assert bus.stats.dead_lettered == 1
    assert bus.stats.groups["risk"].dead_lettered == 1
    assert len(letters.events) == 1
    letter = letters.events[0].payload
    assert isinstance(letter, DeadLetter)
    assert letter.group == "risk" and letter.attempts == 3
    assert "unlucky quantity" in letter.error
    assert decode_event(letter.original) == bad
    assert letters.events[0].correlation_id == bad.correlation_id


@pytest.mark.parametrize("make_bus", BUSES)
async def test_redelivered_event_is_handled_once(make_bus: Callable[[], Bus]) -> None:
    bus = make_bus()
    received = Recorder()
    bus.subscribe([PAPER.signals_raw], "risk", received)
    await bus.start()
    event = signal()
    await bus.publish(PAPER.signals_raw, event)
    await bus.publish(PAPER.signals_raw, event)
    await bus.stop()
    assert len(received.events) == 1
    assert bus.stats.groups["risk"].duplicates == 1


async def test_ticks_conflate_per_instrument_under_overload_and_are_counted() -> None:
    bus = InProcessBus(queue_size=10, tick_overflow=TickOverflow.CONFLATE)
    received = Recorder()
    bus.subscribe([MARKET_TICKS], "slow", received)
    await bus.start()
    # the publisher never yields, so the consumer cannot keep up: 10 queue + overflow
    for i in range(100):
        await bus.publish(MARKET_TICKS, tick(token=1 + i % 2, price=float(i)))
    await bus.stop()
    stats = bus.stats.groups["slow"]
    assert len(received.events) == 12  # 10 queued, then the newest per instrument
    assert stats.conflated == 100 - 12
    last_by_token = {e.payload.instrument_token: e.payload.last_price for e in received.events}  # type: ignore[union-attr]
    assert last_by_token == {1: 98.0, 2: 99.0}


async def test_signals_are_never_dropped_under_overload() -> None:
    bus = InProcessBus(queue_size=10)
    received = Recorder()

    async def slow(event: Event) -> None:
        await asyncio.sleep(0)
        await received(event)

    bus.subscribe([PAPER.signals_raw], "slow", slow)
    await bus.start()
    for i in range(200):
        await bus.publish(PAPER.signals_raw, signal(qty=i + 1))
    await bus.stop()
    assert [e.payload.quantity for e in received.events] == list(range(1, 201))  # type: ignore[union-attr]
    assert bus.stats.groups["slow"].conflated == 0


async def test_block_overflow_never_conflates_ticks() -> None:
    bus = InProcessBus(queue_size=10, tick_overflow=TickOverflow.BLOCK)
    received = Recorder()
    bus.subscribe([MARKET_TICKS], "g", received)
    await bus.start()
    for i in range(500):
        await bus.publish(MARKET_TICKS, tick(price=float(i)))
    await bus.stop()
    assert len(received.events) == 500


async def test_direct_bus_is_depth_first() -> None:
    bus = DirectBus()
    order: list[str] = []

    async def on_tick(event: Event) -> None:
        order.append("tick")
        await bus.publish(
            PAPER.signals_raw, event.child(signal().payload, source="s", key="s", namespace=Namespace.PAPER)
        )
        order.append("tick done")

    async def on_signal(event: Event) -> None:
        order.append("signal")

    bus.subscribe([MARKET_TICKS], "runner", on_tick)
    bus.subscribe([PAPER.signals_raw], "risk", on_signal)
    await bus.publish(MARKET_TICKS, tick())
    assert order == ["tick", "signal", "tick done"]


def test_unknown_topic_and_duplicate_group_fail_at_wiring() -> None:
    bus = DirectBus()
    with pytest.raises(ValueError, match="unknown topic"):
        bus.subscribe(["paper.nonsense"], "g", Recorder())
    bus.subscribe([MARKET_TICKS], "g", Recorder())
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe([MARKET_TICKS], "g", Recorder())

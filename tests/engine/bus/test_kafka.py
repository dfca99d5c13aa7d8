"""The Kafka bus against a real Kafka-protocol broker (tansu) through real aiokafka clients."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from engine.bus import BusUnavailable, KafkaBus, SegregationError
from engine.events import (
    DeadLetter,
    Event,
    MarketTick,
    Namespace,
    Side,
    TradingSignal,
    decode_event,
    encode_event,
    make_event,
)
from engine.runtime import Engine
from engine.settings import load_settings
from engine.topics import MARKET_TICKS, TopicMap, dlq_topic
from tests.strategy_configs import EMA_FAST_TOML

pytestmark = pytest.mark.kafka

PAPER = TopicMap(Namespace.PAPER)
ZERODHA = TopicMap(Namespace.ZERODHA)

# tansu holds a first group join for about the session timeout; keep it short here
FAST = {"session_timeout_ms": 1_000, "heartbeat_interval_ms": 200, "retry_backoff_s": 0.0}


def tick(token: int, price: float) -> Event:
    return make_event(
        MarketTick(instrument_token=token, last_price=price, exchange_ts=1.0),
        namespace=Namespace.SHARED,
        source="test",
        key=str(token),
    )


def signal(qty: int, strategy: str = "s", namespace: Namespace = Namespace.PAPER) -> Event:
    payload = TradingSignal(
        strategy_id=strategy, instrument_token=1, side=Side.BUY, quantity=qty, reference_price=100.0
    )
    return make_event(payload, namespace=namespace, source="test", key=strategy)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def ids(self) -> list[str]:
        return [e.id for e in self.events]


def letters(recorder: Recorder) -> list[DeadLetter]:
    found = []
    for event in recorder.events:
        assert isinstance(event.payload, DeadLetter)
        found.append(event.payload)
    return found


@pytest.fixture
def make_bus(kafka_bootstrap: str) -> Callable[..., KafkaBus]:
    def make(**overrides: object) -> KafkaBus:
        options: dict[str, object] = {**FAST, **overrides}
        return KafkaBus(bootstrap=kafka_bootstrap, group_prefix="test", **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def raw_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def test_two_groups_get_every_event_in_order_per_key(make_bus: Callable[..., KafkaBus]) -> None:
    bus = make_bus()
    a, b = Recorder(), Recorder()
    bus.subscribe([MARKET_TICKS, PAPER.signals_raw], "a", a)
    bus.subscribe([MARKET_TICKS], "b", b)
    await bus.start()
    try:
        ticks = [tick(token, 100.0 + i) for i in range(30) for token in (1, 2, 3)]
        await bus.publish_many(MARKET_TICKS, ticks)
        signals = [signal(qty, strategy) for qty in range(1, 11) for strategy in ("x", "y")]
        for event in signals:
            await bus.publish(PAPER.signals_raw, event)
        assert await bus.drain(timeout=20)
        assert bus.backlog() == 0
    finally:
        await bus.stop()

    assert sorted(a.ids()) == sorted(e.id for e in ticks + signals)
    assert sorted(b.ids()) == sorted(e.id for e in ticks)
    for key in ("1", "2", "3"):
        sent = [e.id for e in ticks if e.key == key]
        assert [e.id for e in a.events if e.key == key] == sent
        assert [e.id for e in b.events if e.key == key] == sent
    for key in ("x", "y"):
        assert [e.id for e in a.events if e.key == key] == [e.id for e in signals if e.key == key]
    assert bus.stats.published == {MARKET_TICKS: 90, PAPER.signals_raw: 20}
    assert bus.stats.groups["a"].delivered == 110
    assert bus.stats.groups["b"].delivered == 90


async def test_committed_events_are_not_redelivered_and_missed_ones_are(
    make_bus: Callable[..., KafkaBus],
) -> None:
    first = Recorder()
    bus = make_bus()
    bus.subscribe([PAPER.signals_raw], "g", first)
    await bus.start()
    handled = [signal(qty) for qty in range(1, 11)]
    for event in handled:
        await bus.publish(PAPER.signals_raw, event)
    assert await bus.drain(timeout=20)
    await bus.stop()
    assert first.ids() == [e.id for e in handled]

    publisher = make_bus()  # no subscriptions: the group is down while these arrive
    await publisher.start()
    missed = [signal(qty) for qty in range(11, 16)]
    for event in missed:
        await publisher.publish(PAPER.signals_raw, event)
    await publisher.stop()

    second = Recorder()
    restarted = make_bus()
    restarted.subscribe([PAPER.signals_raw], "g", second)
    await restarted.start()
    try:
        assert await restarted.drain(timeout=20)
    finally:
        await restarted.stop()
    assert second.ids() == [e.id for e in missed]


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_group_carries_on(
    make_bus: Callable[..., KafkaBus],
) -> None:
    calls: list[int] = []
    handled: list[int] = []

    async def picky(event: Event) -> None:
        assert isinstance(event.payload, TradingSignal)
        calls.append(event.payload.quantity)
        if event.payload.quantity == 3:
            raise RuntimeError("cannot handle 3")
        handled.append(event.payload.quantity)

    dlq = Recorder()
    bus = make_bus(max_retries=2)
    bus.subscribe([PAPER.signals_raw], "picky", picky)
    bus.subscribe([dlq_topic(PAPER.signals_raw)], "dlq", dlq)
    await bus.start()
    events = [signal(qty) for qty in range(1, 6)]
    try:
        for event in events:
            await bus.publish(PAPER.signals_raw, event)
        assert await bus.drain(timeout=20)
    finally:
        await bus.stop()

    assert handled == [1, 2, 4, 5]
    assert calls.count(3) == 3
    [letter] = letters(dlq)
    assert letter.group == "picky"
    assert letter.topic == PAPER.signals_raw
    assert letter.attempts == 3
    assert "cannot handle 3" in letter.error
    assert decode_event(letter.original).id == events[2].id
    stats = bus.stats.groups["picky"]
    assert (stats.retried, stats.dead_lettered, stats.delivered) == (2, 1, 4)
    assert bus.stats.dead_lettered == 1


async def test_malformed_bytes_are_dead_lettered_and_the_next_event_is_handled(
    make_bus: Callable[..., KafkaBus], raw_producer: AIOKafkaProducer
) -> None:
    good, dlq = Recorder(), Recorder()
    bus = make_bus()
    bus.subscribe([PAPER.signals_raw], "reader", good)
    bus.subscribe([dlq_topic(PAPER.signals_raw)], "dlq", dlq)
    await bus.start()
    event = signal(7)
    try:
        await raw_producer.send_and_wait(PAPER.signals_raw, b"\xffnot an event", key=b"s")
        await bus.publish(PAPER.signals_raw, event)
        assert await bus.drain(timeout=20)
    finally:
        await bus.stop()

    assert good.ids() == [event.id]
    [letter] = letters(dlq)
    assert letter.original.endswith("not an event")
    assert letter.error.startswith("MalformedEvent")
    assert dlq.events[0].namespace is Namespace.PAPER
    stats = bus.stats.groups["reader"]
    assert (stats.failed, stats.dead_lettered, stats.delivered) == (1, 1, 1)


async def test_namespaces_are_segregated_on_publish_and_on_consume(
    make_bus: Callable[..., KafkaBus], raw_producer: AIOKafkaProducer
) -> None:
    zerodha, dlq = Recorder(), Recorder()
    bus = make_bus()
    bus.subscribe([ZERODHA.signals_raw], "zerodha", zerodha)
    bus.subscribe([dlq_topic(ZERODHA.signals_raw)], "dlq", dlq)
    await bus.start()
    forged = signal(5, namespace=Namespace.PAPER)
    genuine = signal(6, namespace=Namespace.ZERODHA)
    try:
        with pytest.raises(SegregationError):
            await bus.publish(ZERODHA.signals_raw, signal(4, namespace=Namespace.PAPER))
        await raw_producer.send_and_wait(ZERODHA.signals_raw, encode_event(forged), key=b"s")
        await bus.publish(ZERODHA.signals_raw, genuine)
        assert await bus.drain(timeout=20)
    finally:
        await bus.stop()

    assert zerodha.ids() == [genuine.id]
    [letter] = letters(dlq)
    assert letter.error.startswith("SegregationError")
    assert decode_event(letter.original).id == forged.id
    assert dlq.events[0].namespace is Namespace.ZERODHA
    assert bus.stats.rejected_segregation == 2
    assert ZERODHA.signals_raw in bus.stats.published  # only the genuine one
    assert bus.stats.published[ZERODHA.signals_raw] == 1


async def test_an_unreachable_broker_fails_start_with_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bus = KafkaBus(bootstrap=f"127.0.0.1:{port}")
    with pytest.raises(BusUnavailable, match=f"Kafka at 127.0.0.1:{port} is unreachable"):
        await bus.start()
    with pytest.raises(BusUnavailable):
        await bus.publish(PAPER.signals_raw, signal(1))


async def test_the_engine_runs_its_pipeline_over_kafka(kafka_bootstrap: str, isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "strategies.toml").write_text(EMA_FAST_TOML, encoding="utf-8")
    settings = load_settings(
        bus={"kind": "kafka", "kafka_bootstrap": kafka_bootstrap, "kafka_group_prefix": "engine-test"},
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 100},
    )
    engine = Engine(settings, paced=False, persist=False)
    assert isinstance(engine.bus, KafkaBus)
    await engine.start()
    try:
        for _ in range(5):
            await engine.pump(100)
        status = engine.status()
    finally:
        await engine.stop()

    assert status.ticks == 500
    assert status.signals > 0
    assert status.orders > 0
    assert 0 < status.fills <= status.orders  # a paper order fills on its instrument's next tick
    assert status.dead_letters == 0
    groups = engine.bus.stats.groups
    assert groups["strategy_runner"].delivered >= 500
    assert groups["portfolio.paper"].delivered >= status.fills

"""An order's story from storage, asked for on the bus: found after a restart too, and a plain
"why not" when the order is unknown or the engine stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import (
    Event,
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderTrace,
    OrderTraceRequest,
    SignalValidated,
    TradingSignal,
    decode_event,
    encode_event,
    make_event,
)
from engine.order_trace import NO_DATABASE
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.repository import recent_orders
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS
from tests.strategy_configs import CHATTY_STRATEGIES_TOML


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


async def ask(engine: Engine, order_id: str) -> tuple[Event, Event]:
    """Publish a trace request the way a console does; the request and the one answer to it."""
    answers: list[Event] = []

    async def collect(event: Event) -> None:
        if isinstance(event.payload, OrderTrace):
            answers.append(event)

    engine.bus.subscribe([ENGINE_STATUS], f"trace-test-{order_id}", collect)
    request = make_event(OrderTraceRequest(order_id), namespace=Namespace.SHARED, source="tui", key=order_id)
    await engine.bus.publish(CONTROL_COMMANDS, request)
    await engine.bus.drain()
    assert len(answers) == 1
    return request, answers[0]


async def test_an_order_from_an_earlier_run_traces_from_storage(settings: Settings) -> None:
    engine = Engine(settings, paced=False)
    await engine.start()
    for _ in range(6):
        await engine.pump(500)
    assert engine.db is not None and engine.writer is not None and await engine.writer.flush()
    stored = await recent_orders(engine.db, Namespace.PAPER, limit=500)
    filled_orders = [o for o in stored if o.filled_quantity]
    assert filled_orders, "the strategies should have traded"
    filled = filled_orders[0]
    await engine.stop()

    engine = Engine(settings, paced=False)  # a restart: this run never saw the order
    await engine.start()
    try:
        request, answer = await ask(engine, filled.order_id)
        trace = answer.payload
        assert isinstance(trace, OrderTrace)
        assert trace.found and trace.request_id == request.id and trace.order_id == filled.order_id
        assert answer.causation_id == request.id
        assert {e.correlation_id for e in trace.events} == {filled.correlation_id}
        kinds = [type(e.payload) for e in trace.events]
        assert kinds[:2] == [TradingSignal, SignalValidated]
        placed = [e.payload for e in trace.events if isinstance(e.payload, OrderPlaced)]
        assert filled.order_id in {p.order_id for p in placed}
        fills = [e.payload for e in trace.events if isinstance(e.payload, OrderFilled)]
        assert sum(f.quantity for f in fills if f.order_id == filled.order_id) == filled.filled_quantity
        assert [e.ts for e in trace.events] == sorted(e.ts for e in trace.events)
        assert decode_event(encode_event(answer)) == answer  # the same over Kafka or a socket
    finally:
        await engine.stop()


async def test_an_unknown_order_is_answered_not_found_with_the_reason(settings: Settings) -> None:
    engine = Engine(settings, paced=False)
    await engine.start()
    try:
        _, answer = await ask(engine, "PAPER-NOPE")
        trace = answer.payload
        assert isinstance(trace, OrderTrace)
        assert not trace.found and trace.events == ()
        assert "PAPER-NOPE is not in storage" in trace.detail
    finally:
        await engine.stop()


async def test_without_a_database_the_answer_says_nothing_is_stored(settings: Settings) -> None:
    engine = Engine(settings, paced=False, persist=False)
    await engine.start()
    try:
        _, answer = await ask(engine, "PAPER-1")
        trace = answer.payload
        assert isinstance(trace, OrderTrace)
        assert not trace.found and trace.detail == NO_DATABASE
    finally:
        await engine.stop()

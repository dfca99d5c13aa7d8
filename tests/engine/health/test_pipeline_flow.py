from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from engine.bus import InProcessBus
from engine.events import Event, MarketTick, Namespace, Side, TradingSignal, make_event
from engine.health.checks import PipelineFlowCheck
from engine.health.registry import CheckStatus
from engine.topics import MARKET_TICKS, TopicMap

SIGNALS = TopicMap(Namespace.PAPER).signals_raw
FILLS = TopicMap(Namespace.PAPER).orders_filled


def tick(token: int, price: float) -> Event:
    payload = MarketTick(instrument_token=token, last_price=price, exchange_ts=1.0)
    return make_event(payload, namespace=Namespace.SHARED, source="test", key=str(token))


def sig() -> Event:
    payload = TradingSignal("sma", 738561, Side.BUY, 1, 2500.0)
    return make_event(payload, namespace=Namespace.PAPER, source="test", key="sma")


class Monotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """A handler that blocks until opened."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.handled = 0

    async def __call__(self, event: Event) -> None:
        await self.open.wait()
        self.handled += 1


async def noop(event: Event) -> None:
    return None


async def wait_for(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110 - the bus exposes counters, not events
            await asyncio.sleep(0.001)


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    bus = InProcessBus(max_retries=0, retry_backoff_s=0.0)
    yield bus
    await bus.stop()


async def test_a_blocked_stage_with_a_backlog_over_the_limit_warns_with_numbers(bus: InProcessBus) -> None:
    gate = Gate()
    bus.subscribe([SIGNALS], "strategy", noop)
    bus.subscribe([SIGNALS], "risk", gate)
    await bus.start()
    check = PipelineFlowCheck(bus, {"strategies": "strategy", "risk": "risk"}, max_backlog=5)
    for _ in range(10):
        await bus.publish(SIGNALS, sig())
    await wait_for(lambda: bus.stats.groups["strategy"].delivered == 10)

    result = await check.check()
    assert result.status is CheckStatus.WARN
    assert result.message == (
        "risk: backlog 9 over the limit of 5; "  # the tenth is stuck in the handler
        "risk: never handled an event while 10 events arrived"
    )
    assert result.details["risk"]["backlog"] == 9
    assert result.details["strategies"]["backlog"] == 0
    assert result.details["strategies"]["delivered"] == 10

    gate.open.set()
    assert await bus.drain()
    result = await check.check()
    assert result.status is CheckStatus.OK, result.message
    assert result.details["risk"]["delivered"] == 10


async def test_a_stage_silent_while_its_input_flows_warns(bus: InProcessBus) -> None:
    clock = Monotonic()
    gate = Gate()
    bus.subscribe([SIGNALS], "risk", gate)
    await bus.start()
    check = PipelineFlowCheck(bus, {"risk": "risk"}, monotonic=clock, max_silence_s=30.0, max_backlog=100)
    for _ in range(3):
        await bus.publish(SIGNALS, sig())
    result = await check.check()
    assert result.status is CheckStatus.WARN
    assert result.message == "risk: never handled an event while 3 events arrived"

    gate.open.set()
    assert await bus.drain()
    clock.now = bus.stats.groups["risk"].last_event_at + 60.0
    await bus.publish(SIGNALS, sig())  # arrives, and is handled at once: not silent
    assert await bus.drain()
    clock.now = bus.stats.groups["risk"].last_event_at + 1.0
    assert (await check.check()).status is CheckStatus.OK


async def test_quiet_topics_and_a_quiet_stage_are_fine(bus: InProcessBus) -> None:
    clock = Monotonic()
    bus.subscribe([FILLS], "portfolio", noop)
    await bus.start()
    check = PipelineFlowCheck(bus, {"portfolio": "portfolio"}, monotonic=clock, max_silence_s=1.0)
    clock.now += 3_600.0
    result = await check.check()
    assert result.status is CheckStatus.OK
    assert result.details["portfolio"]["last_event_age_s"] is None


async def test_new_dead_letters_fail_once(bus: InProcessBus) -> None:
    async def broken(event: Event) -> None:
        raise RuntimeError("bug")

    bus.subscribe([SIGNALS], "risk", broken)
    await bus.start()
    check = PipelineFlowCheck(bus, {"risk": "risk"})
    await bus.publish(SIGNALS, sig())
    assert await bus.drain()
    result = await check.check()
    assert result.status is CheckStatus.FAIL
    assert result.message == "risk: 1 new dead letters (1 in all)"
    assert result.details["risk"]["dead_letters"] == 1
    assert (await check.check()).status is CheckStatus.OK  # not growing any more


async def test_a_stage_nobody_subscribed_fails(bus: InProcessBus) -> None:
    await bus.start()
    result = await PipelineFlowCheck(bus, {"risk": "risk.paper"}).check()
    assert result.status is CheckStatus.FAIL
    assert result.message == "risk: consumer group 'risk.paper' is not subscribed"


async def test_conflated_ticks_warn_with_the_count_then_clear() -> None:
    bus = InProcessBus(queue_size=10, max_retries=0, retry_backoff_s=0.0)
    bus.subscribe([MARKET_TICKS], "strategy", noop)
    await bus.start()
    check = PipelineFlowCheck(bus, {"strategies": "strategy"})
    for i in range(30):  # no yield: 10 queued, 20 into the conflation slot of instrument 7
        await bus.publish(MARKET_TICKS, tick(7, float(i)))
    result = await check.check()
    assert result.status is CheckStatus.WARN
    assert result.message == (
        "strategies: overloaded, 19 ticks conflated since the last check (backlog 11); "
        "strategies: never handled an event while 30 events arrived"  # the consumer has not run yet
    )
    assert result.details["strategies"]["conflated"] == 19
    assert await bus.drain()
    result = await check.check()
    assert result.status is CheckStatus.OK, result.message  # no new conflation: fine again
    await bus.stop()


async def test_ticks_held_back_for_an_event_backlog_warn_with_the_numbers() -> None:
    bus = InProcessBus(queue_size=10, max_retries=0, retry_backoff_s=0.0)
    gate = Gate()
    bus.subscribe([SIGNALS], "risk", gate)
    bus.subscribe([MARKET_TICKS], "strategy", noop)
    await bus.start()
    check = PipelineFlowCheck(bus, {"strategies": "strategy", "risk": "risk"}, max_backlog=100)
    for _ in range(12):
        await bus.publish(SIGNALS, sig())
    await wait_for(lambda: bus.ticks_held)
    await bus.publish(MARKET_TICKS, tick(7, 1.0))  # held, not delivered
    await asyncio.sleep(0.01)
    assert bus.stats.groups["strategy"].delivered == 0
    result = await check.check()
    assert result.status is CheckStatus.WARN
    assert "ticks held back 1 times since the last check so that queued events drain (11 queued now)" in (
        result.message
    )
    assert result.details["bus"] == {"event_backlog": 11, "tick_holds": 1}

    gate.open.set()
    assert await bus.drain()
    assert not bus.ticks_held
    assert bus.stats.groups["strategy"].delivered == 1  # the held tick, once the events drained
    result = await check.check()
    assert result.status is CheckStatus.OK, result.message
    await bus.stop()

"""A failing handler's retries wait by the bus's Backoff: bus.retry_backoff_ms, then doubling, capped."""

from __future__ import annotations

import itertools
import time

import pytest

from engine.bus import DirectBus, InProcessBus
from engine.bus.base import RETRY_BACKOFF_MAX_STEPS, Bus
from engine.events import Event, Namespace, Side, TradingSignal, make_event
from engine.topics import TopicMap

PAPER = TopicMap(Namespace.PAPER)


def signal() -> Event:
    payload = TradingSignal(
        strategy_id="s", instrument_token=1, side=Side.BUY, quantity=1, reference_price=100.0
    )
    return make_event(payload, namespace=Namespace.PAPER, source="test", key="s")


def test_the_retry_delays_double_from_the_setting_up_to_the_cap() -> None:
    backoff = InProcessBus(retry_backoff_s=0.01).retry_backoff()
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.08, 0.08, 0.08])
    assert max(delays) == pytest.approx(0.01 * RETRY_BACKOFF_MAX_STEPS)


def test_no_backoff_setting_means_no_wait() -> None:
    backoff = DirectBus(max_retries=3).retry_backoff()
    assert [backoff.next_delay() for _ in range(3)] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("make_bus", [InProcessBus, DirectBus])
async def test_each_retry_waits_at_least_its_backoff_delay(make_bus: type[Bus]) -> None:
    bus = make_bus(max_retries=3, retry_backoff_s=0.02)
    attempts: list[float] = []

    async def failing(event: Event) -> None:
        attempts.append(time.monotonic())
        raise RuntimeError("always fails")

    bus.subscribe([PAPER.signals_raw], "risk", failing)
    await bus.start()
    await bus.publish(PAPER.signals_raw, signal())
    await bus.stop()
    assert len(attempts) == 4  # the first try and three retries
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, [0.02, 0.04, 0.08], strict=True):
        assert gap >= delay * 0.9
    assert bus.stats.dead_lettered == 1

from __future__ import annotations

import itertools
from collections import defaultdict
from itertools import pairwise

import pytest

from engine.clock import ManualClock
from engine.events import MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.simulated import SimulatedFeed

REGISTRY = InstrumentRegistry.sample()
INSTRUMENTS = list(REGISTRY)
START = 1_768_880_700.0  # 2026-01-20 09:15 IST
NEXT_MORNING = START + 24 * 3600.0


def feed(seed: int = 7, **kwargs: object) -> SimulatedFeed:
    return SimulatedFeed(INSTRUMENTS, clock=ManualClock(START), seed=seed, **kwargs)  # type: ignore[arg-type]


def on_grid(price: float, tick_size: float = 0.05) -> bool:
    steps = price / tick_size
    return abs(steps - round(steps)) < 1e-6


def test_same_seed_gives_identical_ticks() -> None:
    assert feed(seed=11).next_batch(3000) == feed(seed=11).next_batch(3000)


def test_batches_continue_the_same_stream() -> None:
    whole = feed(seed=5).next_batch(1000)
    split = feed(seed=5)
    assert split.next_batch(400) + split.next_batch(600) == whole


def test_different_seeds_give_different_ticks() -> None:
    a = feed(seed=1).next_batch(500)
    b = feed(seed=2).next_batch(500)
    assert [t.last_price for t in a] != [t.last_price for t in b]


def test_instruments_tick_round_robin_from_their_seed_prices() -> None:
    ticks = feed().next_batch(len(INSTRUMENTS))
    assert [t.instrument_token for t in ticks] == [i.instrument_token for i in INSTRUMENTS]
    for tick, inst in zip(ticks, INSTRUMENTS, strict=True):
        assert tick.close == inst.last_price
        assert tick.open == tick.high == tick.low == tick.last_price
        assert abs(tick.last_price / inst.last_price - 1) < 0.01


def test_tick_invariants_hold_over_a_long_run() -> None:
    ticks = feed(seed=3).next_batch(30_000)
    by_token: dict[int, list[MarketTick]] = defaultdict(list)
    for tick in ticks:
        by_token[tick.instrument_token].append(tick)
    for token, series in by_token.items():
        inst = REGISTRY.by_token(token)
        first = series[0]
        for tick in series:
            assert on_grid(tick.last_price)
            assert tick.low <= tick.last_price <= tick.high
            assert tick.open == first.last_price
            assert tick.close == inst.last_price
            assert tick.change == pytest.approx((tick.last_price - tick.close) / tick.close * 100)
            if not inst.tradable:
                assert tick.bids == () and tick.asks == ()
                assert tick.volume == 0 and tick.last_quantity == 0
                continue
            assert len(tick.bids) == 5 and len(tick.asks) == 5
            assert tick.bids[0].price < tick.asks[0].price
            assert tick.bids[0].price <= tick.last_price <= tick.asks[0].price
            assert [b.price for b in tick.bids] == sorted((b.price for b in tick.bids), reverse=True)
            assert [a.price for a in tick.asks] == sorted(a.price for a in tick.asks)
            for level in tick.bids + tick.asks:
                assert on_grid(level.price)
                assert level.quantity >= 1 and level.orders >= 1
            assert tick.buy_quantity > 0 and tick.sell_quantity > 0
            assert tick.last_quantity >= 1
            assert tick.low - 0.01 <= tick.average_price <= tick.high + 0.01
            assert round(tick.average_price * 100) == pytest.approx(tick.average_price * 100)
        volumes = [t.volume for t in series]
        assert volumes == sorted(volumes)
        if inst.tradable:
            assert all(b.volume - a.volume == b.last_quantity for a, b in pairwise(series))
        assert len({t.last_price for t in series}) > 10  # it actually moves


def test_prices_print_as_their_decimal_values() -> None:
    for tick in feed().next_batch(2000):
        text = repr(tick.last_price)
        assert len(text.split(".")[-1]) <= 2, text


def test_exchange_time_comes_from_the_clock_and_strictly_increases() -> None:
    clock = ManualClock(START)
    sim = SimulatedFeed(INSTRUMENTS, clock=clock, seed=1)
    first = [t.exchange_ts for t in sim.next_batch(10)]
    assert first[0] == START
    assert all(b > a for a, b in itertools.pairwise(first))
    assert first[-1] - START < 1e-3  # microsecond steps: still "now"
    # a frozen clock still gives later ticks
    again = [t.exchange_ts for t in sim.next_batch(10)]
    assert again[0] > first[-1]
    clock.advance(1.5)
    assert sim.next_batch(1)[0].exchange_ts == START + 1.5


def test_a_new_day_resets_the_day_statistics() -> None:
    clock = ManualClock(START)
    sim = SimulatedFeed(INSTRUMENTS, clock=clock, seed=4)
    day_one = sim.next_batch(len(INSTRUMENTS) * 50)
    last = {t.instrument_token: t for t in day_one}
    clock.set(NEXT_MORNING)
    day_two = sim.next_batch(len(INSTRUMENTS))
    for tick in day_two:
        before = last[tick.instrument_token]
        assert tick.close == before.last_price
        assert tick.open == tick.high == tick.low == tick.last_price
        if REGISTRY.by_token(tick.instrument_token).tradable:
            assert tick.volume == tick.last_quantity


def test_without_depth_there_are_no_levels() -> None:
    ticks = feed(depth=False).next_batch(500)
    assert all(t.bids == () and t.asks == () for t in ticks)
    assert any(t.volume > 0 for t in ticks)


def test_the_simulator_never_runs_dry() -> None:
    sim = feed()
    sim.next_batch(5000)
    assert not sim.exhausted
    assert len(sim.next_batch(50)) == 50


def test_an_empty_instrument_list_is_refused() -> None:
    with pytest.raises(ValueError):
        SimulatedFeed([], clock=ManualClock(START))

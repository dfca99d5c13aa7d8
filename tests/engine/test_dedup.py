from __future__ import annotations

import random
import tracemalloc

import pytest

from engine.dedup import RecentIds


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def ids(n: int, start: int = 0) -> list[str]:
    return [f"id-{i:08d}" for i in range(start, start + n)]


def test_a_redelivered_id_within_the_window_is_rejected() -> None:
    clock = FakeClock()
    recent = RecentIds(capacity=100, max_age_s=60.0, clock=clock)
    assert recent.seen("a") is False
    for other in ids(99):  # "a" is still among the last 100
        clock.now += 0.5
        assert recent.seen(other) is False
    assert recent.seen("a") is True
    assert recent.seen("a") is True  # and stays rejected


def test_beyond_capacity_the_oldest_id_is_forgotten() -> None:
    recent = RecentIds(capacity=100, max_age_s=60.0, clock=FakeClock())
    recent.record(ids(101))
    assert len(recent) == 100
    assert "id-00000000" not in recent
    assert "id-00000001" in recent
    assert recent.seen("id-00000000") is False  # accepted again: outside the window


def test_beyond_the_age_ids_are_forgotten_and_memory_released() -> None:
    clock = FakeClock()
    recent = RecentIds(capacity=1_000, max_age_s=10.0, clock=clock)
    recent.record(ids(500))
    clock.now = 9.9
    assert recent.seen("id-00000000") is True
    clock.now = 10.0
    assert recent.seen("late") is False
    assert len(recent) == 1  # the 500 aged out on the next record
    assert recent.seen("id-00000000") is False


def test_memory_stays_bounded_however_many_ids_pass() -> None:
    recent = RecentIds(capacity=5_000, max_age_s=3_600.0)
    tracemalloc.start()
    try:
        # two laps: the membership dict settles at its churn size (about 3x the ids) on the second
        recent.record(ids(10_000))
        at_capacity = tracemalloc.get_traced_memory()[0]
        for start in range(10_000, 200_000, 5_000):
            recent.record(ids(5_000, start))
        after_40x = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(recent) == 5_000
    assert after_40x < at_capacity * 1.1  # the same window, not 40 times the ids


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(capacity=0)
    with pytest.raises(ValueError, match="max_age_s"):
        RecentIds(max_age_s=0)


class ReferenceWindow:
    """The window's definition, spelled out naively: the last `capacity` records younger than `max_age_s`."""

    def __init__(self, capacity: int, max_age_s: float) -> None:
        self.capacity, self.max_age_s = capacity, max_age_s
        self.records: list[tuple[str, float]] = []

    def seen(self, item: str, now: float) -> bool:
        self.records = [(i, t) for i, t in self.records if t > now - self.max_age_s]
        if any(i == item for i, _ in self.records):
            return True
        self.records = [*self.records, (item, now)][-self.capacity :]
        return False


def test_the_ring_matches_the_windows_definition_over_many_laps() -> None:
    rng = random.Random(7)
    for capacity, max_age_s in ((1, 5.0), (7, 3.0), (64, 40.0), (100, 1e9)):
        clock = FakeClock()
        recent = RecentIds(capacity=capacity, max_age_s=max_age_s, clock=clock)
        reference = ReferenceWindow(capacity, max_age_s)
        universe = ids(3 * capacity + 5)
        for _ in range(3_000):  # many laps of the ring, repeats, idle gaps that age everything out
            clock.now += rng.choice((0.0, 0.01, 0.1, 1.0, max_age_s / 2, max_age_s * 2))
            item = rng.choice(universe)
            assert recent.seen(item) is reference.seen(item, clock.now), (capacity, max_age_s, item)
            assert len(recent) == len(reference.records)
        assert {i for i, _ in reference.records} == {i for i in universe if i in recent}


def test_ageing_out_across_the_ring_boundary_then_refilling() -> None:
    clock = FakeClock()
    recent = RecentIds(capacity=10, max_age_s=10.0, clock=clock)
    recent.record(ids(15))  # wrapped: slots hold ids 5..14, the oldest in the middle of the ring
    clock.now = 10.0
    assert recent.seen("fresh") is False
    assert len(recent) == 1
    recent.record(ids(12, 100))  # fills and wraps again from an arbitrary slot
    assert len(recent) == 10
    assert [i for i in ids(12, 100) if i in recent] == ids(10, 102)
    assert "fresh" not in recent


def test_the_window_is_lean_per_id_and_does_not_reallocate_big_tables() -> None:
    # the id strings exist before tracing: the events carry them whatever the window does
    stream = ids(120_000)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        recent = RecentIds(capacity=10_000, max_age_s=3_600.0)
        steady: list[int] = []
        for n, item in enumerate(stream):
            recent.seen(item)
            if n >= 30_000 and n % 1_000 == 0:
                steady.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the set + two deques it replaced: ~143 bytes per id steady, ~245 at the peak of a table resize
    assert max(steady) / 10_000 < 80
    assert peak / 10_000 < 130
    assert max(steady) - min(steady) < 0.1 * max(steady)  # flat once the ring has lapped

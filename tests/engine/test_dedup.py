from __future__ import annotations

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

"""Backoff: the delays every retry loop in the engine waits between attempts."""

from __future__ import annotations

import random

import pytest

from engine.backoff import Backoff


def test_delays_start_at_initial_and_grow_by_the_factor_up_to_the_cap() -> None:
    backoff = Backoff(0.5, factor=2.0, cap=5.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.attempts == 7


def test_reset_starts_again_from_initial() -> None:
    backoff = Backoff(0.1, factor=3.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == 0.1
    assert backoff.next_delay() == pytest.approx(0.3)


def test_factor_one_waits_the_same_each_time() -> None:
    backoff = Backoff(0.25, factor=1.0)
    assert {backoff.next_delay() for _ in range(5)} == {0.25}


def test_a_zero_initial_delay_never_waits() -> None:
    backoff = Backoff(0.0, cap=1.0)
    assert [backoff.next_delay() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_an_initial_delay_above_the_cap_is_capped() -> None:
    assert Backoff(10.0, cap=2.0).next_delay() == 2.0


def test_many_failures_stay_at_the_cap_without_overflow() -> None:
    backoff = Backoff(0.2, cap=5.0)
    for _ in range(5_000):
        delay = backoff.next_delay()
    assert delay == 5.0


def test_jitter_spreads_each_delay_within_the_fraction_and_never_past_the_cap() -> None:
    backoff = Backoff(1.0, factor=2.0, cap=6.0, jitter=0.25, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(200)]
    assert 0.75 <= delays[0] <= 1.25
    assert 1.5 <= delays[1] <= 2.5
    assert 3.0 <= delays[2] <= 5.0
    assert all(4.5 <= d <= 6.0 for d in delays[3:])
    assert len(set(delays[3:])) > 1  # spread, not one fixed value


def test_same_seed_gives_the_same_jittered_delays() -> None:
    first = Backoff(1.0, jitter=0.5, rng=random.Random(3))
    second = Backoff(1.0, jitter=0.5, rng=random.Random(3))
    assert [first.next_delay() for _ in range(5)] == [second.next_delay() for _ in range(5)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial": -1.0}, "initial"),
        ({"initial": 1.0, "factor": 0.5}, "factor"),
        ({"initial": 1.0, "cap": -1.0}, "cap"),
        ({"initial": 1.0, "jitter": 1.5}, "jitter"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Backoff(**kwargs)

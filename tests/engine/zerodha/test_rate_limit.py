"""The token buckets behind Kite's REST limits, on a clock the test moves."""

from __future__ import annotations

import pytest

from engine.settings import ZerodhaSettings
from engine.zerodha.rate_limit import KiteRateLimiter, RateClass, TokenBucket, rate_class


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_second_of_calls_through_then_spaces_the_rest() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, clock=clock)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10
    waits = [bucket.reserve() for _ in range(3)]
    assert waits == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_come_back_with_time_but_never_beyond_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, clock=clock)
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    clock.now += 60.0  # a long idle spell saves up only `burst` tokens
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_a_slow_rate_still_allows_one_call_at_once() -> None:
    bucket = TokenBucket(0.5, clock=Clock())
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(2.0)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be > 0"):
        TokenBucket(0.0)


def test_each_call_counts_against_kites_limit_for_its_kind() -> None:
    assert rate_class("quote") is RateClass.QUOTE
    assert rate_class("ltp") is RateClass.QUOTE
    assert rate_class("ohlc") is RateClass.QUOTE
    assert rate_class("historical_data") is RateClass.HISTORICAL
    assert rate_class("place_order") is RateClass.ORDERS
    assert rate_class("cancel_order") is RateClass.ORDERS
    assert rate_class("profile") is RateClass.OTHER
    assert rate_class("instruments") is RateClass.OTHER


async def test_the_limiter_holds_a_caller_back_by_its_kinds_bucket_only() -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    settings = ZerodhaSettings(quote_rate_per_s=1.0, rate_limit_per_s=10.0)
    limiter = KiteRateLimiter(settings, clock=clock, sleep=sleep)
    await limiter.acquire("quote")
    await limiter.acquire("quote")  # Kite allows one quote a second
    for _ in range(10):
        await limiter.acquire("profile")  # the other bucket is untouched by the quotes
    assert slept == pytest.approx([1.0])
    assert limiter.waited_s == pytest.approx(1.0)

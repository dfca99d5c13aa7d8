"""The token buckets behind Kite's REST limits, on a clock the test moves."""

from __future__ import annotations

from datetime import date

import pytest

from engine.settings import ZerodhaSettings
from engine.zerodha.rate_limit import (
    KiteRateLimiter,
    OrderCapReached,
    RateClass,
    SlidingWindow,
    TokenBucket,
    rate_class,
)


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
    assert slept == pytest.approx([1.05])  # a second and the jitter margin
    assert limiter.waited_s == pytest.approx(1.05)


def test_a_sliding_window_never_lets_more_than_its_limit_into_any_window() -> None:
    window = SlidingWindow(10, 1.0)
    grants = []
    for _ in range(35):
        at = window.earliest(0.0)
        window.grant(at)
        grants.append(at)
    assert grants[:10] == [0.0] * 10
    assert grants[10:20] == [1.0] * 10 and grants[30:] == [3.0] * 5
    assert all(sum(1 for g in grants if start - 1.0 < g <= start) <= 10 for start in grants)


def order_limiter(clock: Clock, **overrides: float) -> KiteRateLimiter:
    settings = ZerodhaSettings(rate_window_margin_s=0.0, **overrides)  # type: ignore[arg-type]
    return KiteRateLimiter(settings, clock=clock, today=lambda: date(2026, 2, 2))


def test_order_calls_keep_10_a_second_and_400_a_minute_counting_place_modify_and_cancel() -> None:
    clock = Clock()
    limiter = order_limiter(clock)
    calls = ["place_order", "modify_order", "cancel_order"] * 150  # 450 order calls at once
    starts = [clock.now + limiter.reserve(call) for call in calls]
    assert starts == sorted(starts)
    for start in starts:  # any 1 s window holds at most 10, any 60 s window at most 400
        assert sum(1 for s in starts if start - 1.0 < s <= start) <= 10
        assert sum(1 for s in starts if start - 60.0 < s <= start) <= 400
    assert starts[399] == pytest.approx(100.0 + 39.0)
    assert starts[400] == pytest.approx(100.0 + 60.0)  # the 401st waits for the minute
    assert limiter.reserve("orders") == 0.0  # reading the order book is not an order call


def test_the_daily_order_cap_refuses_instead_of_waiting_and_resets_the_next_day() -> None:
    clock = Clock()
    day = [date(2026, 2, 2)]
    settings = ZerodhaSettings(order_daily_cap=3)
    limiter = KiteRateLimiter(settings, clock=clock, today=lambda: day[0])
    for _ in range(3):
        limiter.reserve("place_order")
    with pytest.raises(OrderCapReached, match="3 order calls are used up"):
        limiter.reserve("cancel_order")
    day[0] = date(2026, 2, 3)
    limiter.reserve("place_order")
    assert limiter.orders_today == 1


async def test_callers_held_back_are_counted_while_they_wait() -> None:
    clock = Clock()
    seen: list[int] = []
    limiter = order_limiter(clock, order_rate_per_s=1.0)

    async def sleep(seconds: float) -> None:
        seen.append(limiter.waiting[RateClass.ORDERS])
        clock.now += seconds

    limiter._sleep = sleep
    await limiter.acquire("place_order")
    await limiter.acquire("place_order")
    assert seen == [1] and limiter.waiting[RateClass.ORDERS] == 0

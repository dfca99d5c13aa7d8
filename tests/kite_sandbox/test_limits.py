"""Kite's per-second request limits, on a clock the test moves."""

from __future__ import annotations

from kite_sandbox.limits import LimitClass, RateLimiter, limit_class


def test_each_class_allows_its_rate_per_sliding_second() -> None:
    limiter = RateLimiter()
    assert limiter.allow(LimitClass.QUOTE, now=100.0)
    assert not limiter.allow(LimitClass.QUOTE, now=100.5)
    assert limiter.allow(LimitClass.QUOTE, now=101.0)
    assert all(limiter.allow(LimitClass.OTHER, now=100.0 + i / 100) for i in range(10))
    assert not limiter.allow(LimitClass.OTHER, now=100.5)
    assert limiter.allow(LimitClass.OTHER, now=101.0)  # the first call has left the window


def test_a_refused_call_does_not_use_up_the_budget() -> None:
    limiter = RateLimiter({LimitClass.QUOTE: 1, LimitClass.ORDERS: 1, LimitClass.OTHER: 1})
    assert limiter.allow(LimitClass.ORDERS, now=0.0)
    for t in (0.2, 0.4, 0.6, 0.8):
        assert not limiter.allow(LimitClass.ORDERS, now=t)
    assert limiter.allow(LimitClass.ORDERS, now=1.0)


def test_routes_fall_into_kites_limit_classes() -> None:
    assert limit_class("GET", "/quote/ltp") is LimitClass.QUOTE
    assert limit_class("POST", "/orders/regular") is LimitClass.ORDERS
    assert limit_class("DELETE", "/orders/regular/1") is LimitClass.ORDERS
    assert limit_class("GET", "/orders") is LimitClass.OTHER
    assert limit_class("GET", "/user/profile") is LimitClass.OTHER


def test_order_calls_are_limited_per_minute_as_well_as_per_second() -> None:
    limiter = RateLimiter()
    assert all(limiter.allow(LimitClass.ORDERS, now=i / 8) for i in range(400))  # 8 a second, 50 s
    assert not limiter.allow(LimitClass.ORDERS, now=50.0)  # the 401st within a minute
    assert limiter.allow(LimitClass.OTHER, now=50.0)  # other calls are not order calls
    assert not limiter.allow(LimitClass.ORDERS, now=59.875)
    assert limiter.allow(LimitClass.ORDERS, now=60.0)  # the first has left the minute


def test_order_calls_are_capped_per_day() -> None:
    limiter = RateLimiter(order_windows=((60.0, 400), (86_400.0, 5)))
    assert all(limiter.allow(LimitClass.ORDERS, now=float(i * 100)) for i in range(5))
    assert not limiter.allow(LimitClass.ORDERS, now=10_000.0)
    assert limiter.allow(LimitClass.ORDERS, now=86_400.5)

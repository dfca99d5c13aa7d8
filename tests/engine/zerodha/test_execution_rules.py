"""Which failures of an order call leave it unknown (look the tag up) and which are a clear no."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.market.calendar import IST
from engine.zerodha.errors import BrokerError, BrokerUnavailable, SessionExpired
from engine.zerodha.execution import ambiguous, kite_ts
from engine.zerodha.rate_limit import OrderCapReached


@pytest.mark.parametrize(
    ("error", "unknown"),
    [
        (BrokerError("no answer within 7 s"), True),  # a time-out or a cut connection: no status
        (BrokerError("gateway", status=504, error_type="NetworkException"), True),
        (BrokerUnavailable("kept failing", status=503), True),
        (BrokerError("bad tick", status=400, error_type="InputException"), False),
        (BrokerUnavailable("rate limited throughout", status=429), False),  # Kite refused it unseen
        (SessionExpired("token refused", status=403), False),
        (OrderCapReached("cap"), False),  # never sent
    ],
)
def test_only_a_failure_after_which_kite_may_hold_the_order_is_ambiguous(
    error: BrokerError, unknown: bool
) -> None:
    assert ambiguous(error) is unknown


def test_kite_times_are_ist() -> None:
    expected = datetime(2026, 2, 2, 10, 0, 1, tzinfo=IST).timestamp()
    assert kite_ts(datetime(2026, 2, 2, 10, 0, 1)) == expected  # the client's naive datetime
    assert kite_ts("2026-02-02 10:00:01") == expected
    assert kite_ts(None) == 0.0 and kite_ts("garbage") == 0.0

"""Market protection prices: on the tick grid, worse by the percentage, inside the price band."""

from __future__ import annotations

from engine.instruments import InstrumentRegistry
from kite_sandbox.circuit import circuit_limits
from kite_sandbox.matching.protection import AUTO_PROTECTION_PCT, protected_price, protection_percent

INFY = InstrumentRegistry.sample().by_symbol("INFY")


def test_a_buy_is_protected_above_the_last_price_and_a_sell_below() -> None:
    assert protected_price(INFY, True, 1500.0, 1500.0, 2) == 1530.0
    assert protected_price(INFY, False, 1500.0, 1500.0, 2) == 1470.0
    assert protected_price(INFY, True, 1500.07, 1500.0, 1) == 1515.05  # rounded down onto the grid
    assert protected_price(INFY, False, 1500.07, 1500.0, 1) == 1485.10  # rounded up


def test_protection_stops_at_the_price_band() -> None:
    assert protected_price(INFY, True, 1640.0, 1500.0, 5) == 1650.0
    assert protected_price(INFY, False, 1360.0, 1500.0, 5) == 1350.0
    assert circuit_limits(1500.0, 0.05) == (1350.0, 1650.0)
    assert circuit_limits(101.03, 0.05) == (90.95, 111.1)  # inside the band, on the grid


def test_minus_one_is_the_automatic_protection() -> None:
    assert protection_percent(-1) == AUTO_PROTECTION_PCT
    assert protection_percent(0.5) == 0.5

"""The rounding rule: half away from zero to paise, on the 15-digit reading of a float; the hot
path's float rounding agrees with the Decimal one that storage uses."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.events import Product, Side
from engine.execution.charges import ChargeCalculator
from engine.money import round_paise, to_paise, to_price
from engine.settings import ChargesSettings


@pytest.mark.parametrize(
    ("amount", "paise"),
    [
        (4.155, "4.16"),  # 4.155 * 100 is 415.49999999999994 in floats: still the half
        (4.145, "4.15"),
        (4.1549, "4.15"),
        (0.005, "0.01"),
        (0.004999, "0.00"),
        (1.005, "1.01"),  # the float is 1.00499999999999989...: reads as 1.005
        (2.675, "2.68"),  # Python's round(2.675, 2) gives 2.67; the rule does not
        (0.125, "0.13"),  # half up, not half to even
        (0.135, "0.14"),
        (-4.155, "-4.16"),  # a loss rounds like the profit of the same size
        (-0.005, "-0.01"),
        (-0.004, "0.00"),
        (0.1 + 0.2, "0.30"),
        (1_234_567.895, "1234567.90"),
        (0.0, "0.00"),
    ],
)
def test_the_rule_table(amount: float, paise: str) -> None:
    assert to_paise(amount) == Decimal(paise)
    assert str(to_paise(amount)) == paise  # two places, never "0.3" or "-0.00"
    assert round_paise(amount) == float(paise)


def test_a_rounded_negative_zero_is_plain_zero() -> None:
    assert str(round_paise(-0.004)) == "0.0"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_a_number_is_refused_by_name(value: float) -> None:
    with pytest.raises(ValueError, match="is not an amount or a price"):
        to_paise(value)
    with pytest.raises(ValueError, match="is not an amount or a price"):
        to_price(value)


@given(st.integers(min_value=-(10**14), max_value=10**14))
def test_an_amount_already_in_paise_is_stored_as_it_is(paise: int) -> None:
    assert to_paise(paise / 100) == Decimal(paise).scaleb(-2)


@pytest.mark.parametrize(
    ("price", "stored"),
    [(2885.05, "2885.0500"), (83.2525, "83.2525"), (83.25255, "83.2526"), (1.5, "1.5000")],
)
def test_prices_keep_four_places(price: float, stored: str) -> None:
    assert str(to_price(price)) == stored


@given(st.integers(min_value=-(10**11), max_value=10**11))
def test_every_half_paisa_rounds_away_from_zero_in_both_forms(tenths_of_paise: int) -> None:
    amount = tenths_of_paise / 1000
    exact = Decimal(tenths_of_paise) / 1000
    expected = exact.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert to_paise(amount) == expected
    assert round_paise(amount) == float(expected)


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_the_float_and_the_decimal_form_are_one_rule(amount: float) -> None:
    held = round_paise(amount)
    assert held == float(to_paise(amount))
    assert to_paise(held) == to_paise(amount)  # what the engine holds is what it stores
    reading = Decimal(f"{amount:.15g}").quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert to_paise(amount) == (reading if reading else abs(reading))  # the fast path is the rule too


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_a_price_is_the_fifteen_digit_reading_to_four_places(price: float) -> None:
    reading = Decimal(f"{price:.15g}").quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP")
    assert to_price(price) == (reading if reading else abs(reading))


@pytest.mark.parametrize(
    "amount", [0.0049999999999, 4.15499999995, 4.1549999999999, 123456789.12499999, -2.0049999999999]
)
def test_a_hair_below_a_half_paisa_is_decided_by_the_fifteen_digit_reading(amount: float) -> None:
    assert round_paise(amount) == float(to_paise(amount))


@given(st.integers(min_value=-(10**14), max_value=10**14), st.integers(min_value=-3, max_value=3))
def test_floats_next_to_a_half_paisa_agree(half_paise: int, ulps: int) -> None:
    amount = (half_paise + 0.5) / 100
    for _ in range(abs(ulps)):
        amount = math.nextafter(amount, math.inf if ulps > 0 else -math.inf)
    assert round_paise(amount) == float(to_paise(amount))


@given(
    st.sampled_from([Side.BUY, Side.SELL]),
    st.sampled_from([Product.MIS, Product.CNC]),
    st.integers(min_value=1, max_value=100_000),
    st.integers(min_value=1, max_value=2_000_000),  # price in ticks of 0.05
)
def test_float_and_decimal_rounding_agree_on_every_charge(
    side: Side, product: Product, quantity: int, ticks: int
) -> None:
    price = ticks * 0.05
    charges = ChargeCalculator(ChargesSettings()).compute(side, product, quantity, price)
    for part in (charges.brokerage, charges.stt, charges.exchange, charges.sebi, charges.gst):
        assert float(to_paise(part)) == part

from __future__ import annotations

import pytest

from engine.events import Charges, Product, Side
from engine.execution.charges import ChargeCalculator
from engine.money import round_paise
from engine.settings import ChargesSettings


@pytest.fixture
def calc() -> ChargeCalculator:
    return ChargeCalculator(ChargesSettings())


def test_mis_round_trip_matches_the_hand_computed_contract_note(calc: ChargeCalculator) -> None:
    # BUY 100 RELIANCE @ 1000.00 intraday: turnover 100,000
    #   brokerage  min(0.03% x 100,000 = 30.00, 20)           = 20.00
    #   STT        none on an intraday buy                     =  0.00
    #   exchange   0.00297% x 100,000 = 2.97                   =  2.97
    #   SEBI       10 / 1e7 x 100,000 = 0.10                   =  0.10
    #   GST        18% x (20 + 0.10 + 2.97) = 4.1526           =  4.15
    #   stamp      0.003% x 100,000 = 3.00                     =  3.00
    buy = calc.compute(Side.BUY, Product.MIS, 100, 1000.0)
    assert buy == Charges(brokerage=20.0, stt=0.0, exchange=2.97, sebi=0.10, gst=4.15, stamp_duty=3.0)
    assert buy.total == pytest.approx(30.22)

    # SELL 100 @ 1010.00: turnover 101,000
    #   brokerage  min(30.30, 20)                              = 20.00
    #   STT        0.025% x 101,000 = 25.25                    = 25.25
    #   exchange   0.00297% x 101,000 = 2.99970                =  3.00
    #   SEBI       10 / 1e7 x 101,000 = 0.101                  =  0.10
    #   GST        18% x (20 + 0.10 + 3.00) = 4.158            =  4.16
    #   stamp      none on a sell                              =  0.00
    sell = calc.compute(Side.SELL, Product.MIS, 100, 1010.0)
    assert sell == Charges(brokerage=20.0, stt=25.25, exchange=3.0, sebi=0.10, gst=4.16, stamp_duty=0.0)
    assert sell.total == pytest.approx(52.51)
    # gross 1,000 on the round trip, 82.73 of it goes in charges
    assert 100 * (1010.0 - 1000.0) - buy.total - sell.total == pytest.approx(917.27)


def test_small_intraday_order_pays_percentage_brokerage_below_the_cap(calc: ChargeCalculator) -> None:
    # BUY 10 @ 500: turnover 5,000 -> brokerage 0.03% = 1.50 (< 20)
    charges = calc.compute(Side.BUY, Product.MIS, 10, 500.0)
    assert charges.brokerage == 1.50
    # exchange 0.1485 -> 0.15; SEBI 0.005 -> 0.01 (half up); GST 18% x (1.50 + 0.01 + 0.15) = 0.2988 -> 0.30
    assert charges.exchange == 0.15
    assert charges.sebi == 0.01
    assert charges.gst == 0.30
    assert charges.stamp_duty == 0.15  # 0.003% x 5,000


def test_cnc_buy_matches_the_hand_computed_contract_note(calc: ChargeCalculator) -> None:
    # BUY 40 @ 2513.00 delivery: turnover 100,520
    #   brokerage  free on delivery                            =   0.00
    #   STT        0.1% x 100,520 = 100.52                     = 100.52
    #   exchange   0.00297% x 100,520 = 2.985444               =   2.99
    #   SEBI       10 / 1e7 x 100,520 = 0.10052                =   0.10
    #   GST        18% x (0 + 0.10 + 2.99) = 0.5562            =   0.56
    #   stamp      0.015% x 100,520 = 15.078                   =  15.08
    charges = calc.compute(Side.BUY, Product.CNC, 40, 2513.0)
    assert charges == Charges(brokerage=0.0, stt=100.52, exchange=2.99, sebi=0.10, gst=0.56, stamp_duty=15.08)
    assert charges.total == pytest.approx(119.25)


def test_cnc_sell_pays_stt_and_no_stamp_duty(calc: ChargeCalculator) -> None:
    charges = calc.compute(Side.SELL, Product.CNC, 40, 2513.0)
    assert charges.stt == 100.52
    assert charges.stamp_duty == 0.0


def test_brokerage_cap_is_per_order_across_partial_fills(calc: ChargeCalculator) -> None:
    first = calc.compute(Side.BUY, Product.MIS, 50, 1000.0)  # 0.03% x 50,000 = 15.00
    second = calc.compute(Side.BUY, Product.MIS, 50, 1000.0, order_brokerage=first.brokerage)
    assert first.brokerage == 15.0
    assert second.brokerage == 5.0  # the order's cap of 20 leaves 5
    third = calc.compute(Side.BUY, Product.MIS, 50, 1000.0, order_brokerage=20.0)
    assert third.brokerage == 0.0
    assert third.gst == round_paise(0.18 * (third.exchange + third.sebi))


def test_disabled_charges_are_zero() -> None:
    calc = ChargeCalculator(ChargesSettings(enabled=False))
    assert calc.compute(Side.SELL, Product.MIS, 100, 1010.0) == Charges()


def test_rates_come_from_settings() -> None:
    settings = ChargesSettings.model_validate({"intraday": {"brokerage_cap": 10.0}})
    assert ChargeCalculator(settings).compute(Side.BUY, Product.MIS, 100, 1000.0).brokerage == 10.0

"""Indian number formatting, IST times and sparklines."""

from __future__ import annotations

from widgets.format import fit, group_indian, ist_hms, ist_hms_ms, money, percent, sparkline, volume

# Wed 10 Dec 2025 10:05:00 IST
TS = 1_765_341_300.0


def test_digits_group_in_lakhs_and_crores() -> None:
    assert group_indian(999) == "999"
    assert group_indian(1_000) == "1,000"
    assert group_indian(100_000) == "1,00,000"
    assert group_indian(12_345_678) == "1,23,45,678"
    assert group_indian(-1_234_567) == "-12,34,567"


def test_money_rounds_to_paise_and_signs_on_request() -> None:
    assert money(1_234_567.891) == "12,34,567.89"
    assert money(99.995) == "100.00"
    assert money(-0.5) == "-0.50"
    assert money(12.5, signed=True) == "+12.50"
    assert money(0.0, signed=True) == "0.00"


def test_volume_and_percent_are_compact() -> None:
    assert volume(9_876) == "9,876"
    assert volume(1_234_567) == "12.3L"
    assert volume(45_600_000) == "4.56Cr"
    assert percent(-1.234) == "-1.23%"


def test_times_read_in_ist() -> None:
    assert ist_hms(TS) == "10:05:00"
    assert ist_hms_ms(TS + 0.042) == "10:05:00.042"
    assert ist_hms(0) == "--:--:--"


def test_sparkline_scales_to_its_own_range_and_keeps_the_newest() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5], 10) == "▄▄▄"
    assert sparkline(range(100), 4) == "▁▃▆█"  # the last four points
    assert sparkline([], 5) == ""


def test_fit_pads_and_cuts_to_the_width() -> None:
    assert fit("TCS", 6) == "TCS   "
    assert fit("12.5", 6, right=True) == "  12.5"
    assert fit("BHARTIARTL", 6) == "BHART…"
    assert fit("x", 0) == ""

"""Chart axes: round values evenly spaced, time ticks in a unit that fits the span, never two equal labels."""

from __future__ import annotations

import itertools

import pytest

from engine.research.axes import (
    clock_label,
    duration_label,
    elapsed_label,
    elapsed_ticks,
    time_step,
    time_ticks,
    value_label,
    value_ticks,
)

IST = 19_800.0
NINE_FIFTEEN_IST = 1_764_647_100.0  # 2025-12-02 09:15:00 IST


def _gaps(values: list[float]) -> set[float]:
    return {round(b - a, 9) for a, b in itertools.pairwise(values)}


@pytest.mark.parametrize(
    ("low", "high"),
    [(-25.14, 12.5), (1_999_951.0, 2_000_480.0), (0.0, 0.003), (-453.2, -1.0), (5.0, 5.0), (0.0, 1e7)],
)
def test_value_ticks_are_round_evenly_spaced_and_cover_the_data(low: float, high: float) -> None:
    ticks = value_ticks(low, high)
    assert 2 <= len(ticks) <= 5
    assert ticks[0] <= low and ticks[-1] >= high
    assert len(_gaps(ticks)) == 1
    labels = [value_label(t, ticks) for t in ticks]
    assert len(set(labels)) == len(labels)


def test_value_labels_carry_the_decimals_the_spacing_needs() -> None:
    ticks = value_ticks(-25.14, 12.5)
    assert [value_label(t, ticks) for t in ticks] == ["-40", "-20", "0", "20"]
    small = value_ticks(0.0, 0.75)
    assert [value_label(t, small) for t in small] == ["0.0", "0.2", "0.4", "0.6", "0.8"]


def test_a_minute_of_trading_reads_in_seconds_on_the_clock() -> None:
    start = NINE_FIFTEEN_IST + 3
    end = start + 50
    ticks = time_ticks(start, end, offset_s=IST)
    step = time_step(end - start)
    labels = [clock_label(t, step, offset_s=IST) for t in ticks]
    assert labels == ["09:15:15", "09:15:30", "09:15:45"]
    assert all(start <= t <= end for t in ticks)


def test_a_day_reads_in_hours_and_minutes_on_the_clock() -> None:
    start = NINE_FIFTEEN_IST
    end = start + 6 * 3600 + 15 * 60  # to 15:30
    ticks = time_ticks(start, end, offset_s=IST)
    labels = [clock_label(t, time_step(end - start), offset_s=IST) for t in ticks]
    assert labels == ["10:00", "12:00", "14:00"]


def test_elapsed_ticks_read_in_the_unit_of_their_spacing() -> None:
    assert [elapsed_label(t, time_step(20)) for t in elapsed_ticks(20)] == ["0s", "5s", "10s", "15s", "20s"]
    assert [elapsed_label(t, time_step(600)) for t in elapsed_ticks(600)] == ["0m", "5m", "10m"]
    assert [elapsed_label(t, time_step(6 * 3600)) for t in elapsed_ticks(6 * 3600)] == [
        "0h",
        "2h",
        "4h",
        "6h",
    ]


def test_a_span_reads_in_the_unit_that_fits() -> None:
    assert duration_label(20.0) == "20 s"
    assert duration_label(5000.0) == "83 min"
    assert duration_label(22_500.0) == "6.2 h"

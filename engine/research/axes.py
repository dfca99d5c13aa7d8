"""Chart axes a person can read: round, evenly spaced values and time ticks in units that fit the span."""

from __future__ import annotations

import math
import time

# Round steps for a time axis, seconds: 1 s up to 3 h.
TIME_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800)
MOST_TICKS = 5


def _round_step(rough: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is at least `rough`."""
    power = 10.0 ** math.floor(math.log10(rough))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * power >= rough * (1 - 1e-9):
            return factor * power
    return 10.0 * power


def value_ticks(low: float, high: float, most: int = MOST_TICKS) -> list[float]:
    """Evenly spaced round values from at or below `low` to at or above `high`, at most `most` of them."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high < low:
        low, high = high, low
    if high - low < 1e-9:
        pad = max(abs(low) * 0.01, 1.0)
        low, high = low - pad, high + pad
    step = _round_step((high - low) / max(most - 1, 1))
    while True:
        first = math.floor(low / step + 1e-9) * step
        count = math.ceil((high - first) / step - 1e-9) + 1
        if count <= most:
            return [_clean(first + i * step, step) for i in range(count)]
        step = _round_step(step * 1.01)


def _clean(value: float, step: float) -> float:
    decimals = max(0, -math.floor(math.log10(step)) + 1)
    cleaned = round(value, decimals)
    return 0.0 if cleaned == 0 else cleaned  # no "-0"


def value_label(value: float, ticks: list[float]) -> str:
    """A tick's label with as many decimals as the spacing needs, grouped in thousands."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = 0
    while decimals < 4 and abs(round(step, decimals) - step) > 1e-9:
        decimals += 1
    return f"{value:,.{decimals}f}"


def time_step(span_s: float, most: int = MOST_TICKS) -> float:
    """The round step (seconds) that puts at most `most` ticks on a span."""
    for step in TIME_STEPS_S:
        if span_s / step <= most - 1:
            return float(step)
    return float(TIME_STEPS_S[-1] * math.ceil(span_s / (TIME_STEPS_S[-1] * (most - 1))))


def time_ticks(start: float, end: float, *, offset_s: float = 0.0, most: int = MOST_TICKS) -> list[float]:
    """Timestamps on round clock times (in the zone `offset_s` from UTC) between start and end;
    the start itself when the span has none."""
    if end <= start:
        return [start]
    step = time_step(end - start, most)
    first = math.ceil((start + offset_s) / step - 1e-9) * step - offset_s
    ticks = []
    tick = first
    while tick <= end + 1e-9:
        ticks.append(tick)
        tick += step
    return ticks or [start]


def clock_label(ts: float, step_s: float, *, offset_s: float = 0.0) -> str:
    """HH:MM, or HH:MM:SS when ticks are less than a minute apart."""
    shape = "%H:%M:%S" if step_s < 60 else "%H:%M"
    return time.strftime(shape, time.gmtime(ts + offset_s))


def elapsed_ticks(span_s: float, most: int = MOST_TICKS) -> list[float]:
    """Seconds since the start at a round step, 0 up to the span."""
    if span_s <= 0:
        return [0.0]
    step = time_step(span_s, most)
    return [i * step for i in range(int(span_s / step + 1e-9) + 1)]


def elapsed_label(seconds: float, step_s: float) -> str:
    """ "15s", "2m", "1.5h": in the unit of the tick spacing."""
    if step_s < 60:
        return f"{seconds:g}s"
    if step_s < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def duration_label(seconds: float) -> str:
    """A span in the unit that reads best: "20 s", "83 min", "5.2 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"

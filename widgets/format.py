"""Number, money and time formatting shared by the panes (Indian conventions)."""

from __future__ import annotations

import time
from collections.abc import Iterable

IST_OFFSET_S = 19_800  # UTC+05:30, no daylight saving
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
LAKH = 100_000
CRORE = 10_000_000


def ist_hms(ts: float) -> str:
    """HH:MM:SS in IST for epoch seconds UTC; blank when unknown."""
    if ts <= 0:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.gmtime(ts + IST_OFFSET_S))


def ist_hms_ms(ts: float) -> str:
    if ts <= 0:
        return "--:--:--.---"
    return f"{ist_hms(ts)}.{int(ts * 1000) % 1000:03d}"


def group_indian(whole: int) -> str:
    """12,34,567: thousands, then lakhs and crores in pairs."""
    digits = str(abs(whole))
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        pairs: list[str] = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        if head:
            pairs.insert(0, head)
        digits = ",".join([*pairs, tail])
    return f"-{digits}" if whole < 0 else digits


def money(value: float, *, signed: bool = False) -> str:
    """2 decimals with Indian digit grouping: 1,23,456.78."""
    rounded = round(value, 2)
    whole = int(abs(rounded))
    paise = round((abs(rounded) - whole) * 100)
    if paise == 100:
        whole, paise = whole + 1, 0
    sign = "-" if rounded < 0 else ("+" if signed and rounded > 0 else "")
    return f"{sign}{group_indian(whole)}.{paise:02d}"


def price(value: float) -> str:
    return f"{value:,.2f}" if value else "-"


def percent(value: float) -> str:
    return f"{value:+.2f}%"


def volume(value: int) -> str:
    """Compact volume: 9,876 / 12.3L / 4.56Cr."""
    if value >= CRORE:
        return f"{value / CRORE:.2f}Cr"
    if value >= LAKH:
        return f"{value / LAKH:.1f}L"
    return f"{value:,}"


def sparkline(values: Iterable[float], width: int) -> str:
    """The last `width` values as block characters scaled to their own range."""
    points = list(values)[-width:] if width > 0 else []
    if not points:
        return ""
    low, high = min(points), max(points)
    span = high - low
    if span <= 0:
        return SPARK_BLOCKS[3] * len(points)
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[round((p - low) / span * top)] for p in points)


def fit(text: str, width: int, *, right: bool = False) -> str:
    """Pad or cut to exactly `width` cells (ASCII-safe fast path; the panes show ASCII data)."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…" if width > 1 else text[:width]
    return text.rjust(width) if right else text.ljust(width)

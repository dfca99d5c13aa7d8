"""Equity and drawdown charts: plotext text for the terminal, inline SVG for the HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import plotext as plt

from engine.research.axes import (
    duration_label,
    elapsed_label,
    elapsed_ticks,
    time_step,
    value_label,
    value_ticks,
)
from engine.research.report import drawdown_series

MAX_CHART_POINTS = 1_000


def downsample(
    points: Sequence[tuple[float, float]], limit: int = MAX_CHART_POINTS
) -> list[tuple[float, float]]:
    """At most about `limit` points: for each bucket its lowest and highest sample, in time order."""
    if len(points) <= limit:
        return list(points)
    buckets = max(limit // 2, 1)
    size = len(points) / buckets
    out: list[tuple[float, float]] = []
    for b in range(buckets):
        chunk = points[int(b * size) : int((b + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        out.extend(sorted({low, high}))
    if out[-1] != points[-1]:
        out.append(points[-1])
    return out


def with_drawdown(curve: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The drawdown (rupees below the running peak) at each sample of an equity curve."""
    falls = drawdown_series([e for _, e in curve])
    return [(ts, fall) for (ts, _), fall in zip(curve, falls, strict=True)]


# --------------------------------------------------------------------------
# terminal
# --------------------------------------------------------------------------


def terminal_chart(
    points: Sequence[tuple[float, float]],
    title: str,
    *,
    width: int = 100,
    height: int = 14,
    color: bool = True,
) -> str:
    """A plotext line chart; x is feed time since the first point, in seconds, minutes or hours
    as the span fits; `color` False: plain text (NO_COLOR, a pipe)."""
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title(title)
    if points:
        sampled = downsample(points)
        start = sampled[0][0]
        xs = [ts - start for ts, _ in sampled]
        ys = [v for _, v in sampled]
        plt.plot(xs, ys, marker="braille")
        span = xs[-1]
        step = time_step(span)
        x_ticks = elapsed_ticks(span)
        plt.xticks(x_ticks, [elapsed_label(x, step) for x in x_ticks])
        if span > 0:
            plt.xlim(0, span)
        y_ticks = value_ticks(min(ys), max(ys))
        plt.yticks(y_ticks, [value_label(y, y_ticks) for y in y_ticks])
        plt.ylim(y_ticks[0], y_ticks[-1])
        plt.xlabel("feed time since the first tick")
    text: str = plt.build()
    plt.clear_figure()
    return text if color else plt.uncolorize(text)


def terminal_charts(
    curve: Sequence[tuple[float, float]], label: str, *, width: int = 100, color: bool = True
) -> str:
    """Equity curve and drawdown of one strategy, one under the other."""
    return "\n".join(
        [
            terminal_chart(curve, f"{label}: equity (Rs)", width=width, color=color),
            terminal_chart(
                with_drawdown(curve), f"{label}: drawdown (Rs below peak)", width=width, color=color
            ),
        ]
    )


# --------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------

_PAD_LEFT = 78
_PAD_RIGHT = 12
_PAD_TOP = 26
_PAD_BOTTOM = 30


def _fmt_axis(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def svg_chart(
    points: Sequence[tuple[float, float]],
    title: str,
    *,
    width: int = 860,
    height: int = 240,
    color: str = "#1f6feb",
    fill: bool = False,
) -> str:
    """A self-contained SVG line chart (no scripts, no external resources)."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
        f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
        f'font-family="sans-serif">{escape(title)}</text>'
    )
    if not points:
        return (
            head + f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" font-size="12" '
            'font-family="sans-serif" fill="#666">no data</text></svg>'
        )
    sampled = downsample(points)
    t0, t1 = sampled[0][0], sampled[-1][0]
    values = [v for _, v in sampled]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    plot_w = width - _PAD_LEFT - _PAD_RIGHT
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    span = t1 - t0 or 1.0

    def x(ts: float) -> float:
        return _PAD_LEFT + (ts - t0) / span * plot_w

    def y(v: float) -> float:
        return _PAD_TOP + (hi - v) / (hi - lo) * plot_h

    coords = " ".join(f"{x(ts):.1f},{y(v):.1f}" for ts, v in sampled)
    parts = [head]
    for frac in (0.0, 0.5, 1.0):
        value = hi - frac * (hi - lo)
        gy = _PAD_TOP + frac * plot_h
        parts.append(
            f'<line x1="{_PAD_LEFT}" y1="{gy:.1f}" x2="{width - _PAD_RIGHT}" y2="{gy:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{_PAD_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'font-family="sans-serif" fill="#444">{_fmt_axis(value)}</text>'
        )
    span_s = t1 - t0
    parts.append(
        f'<text x="{_PAD_LEFT}" y="{height - 8}" font-size="11" font-family="sans-serif" '
        'fill="#444">0</text>'
        f'<text x="{width - _PAD_RIGHT}" y="{height - 8}" text-anchor="end" font-size="11" '
        f'font-family="sans-serif" fill="#444">{duration_label(span_s)} (feed time)</text>'
    )
    if fill:
        base = y(max(lo, 0.0)) if lo <= 0.0 <= hi else y(lo)
        parts.append(
            f'<polygon points="{x(t0):.1f},{base:.1f} {coords} {x(t1):.1f},{base:.1f}" '
            f'fill="{color}" fill-opacity="0.18" stroke="none"/>'
        )
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)

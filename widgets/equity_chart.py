"""A P&L (equity) curve, replotted at most twice a second however often the data moves."""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual import events
from textual_plotext import PlotextPlot

from engine.research.axes import clock_label, time_step, time_ticks, value_label, value_ticks
from widgets.format import IST_OFFSET_S

MIN_REPLOT_S = 0.5
CLOCK_LABEL_CELLS = 11  # "10:07:15" and a gap: fewer x ticks on a narrow chart, so none is dropped


class EquityChart(PlotextPlot):
    def __init__(
        self,
        *,
        empty_title: str = "waiting for P&L",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.empty_title = empty_title
        self._version = -1
        self._last_plot = float("-inf")
        self.plots = 0
        self.can_focus = False
        self._shown: tuple[Sequence[tuple[float, float]], str] = ((), "")
        self._most_x_ticks = 0  # for the width plotted at: a resize that changes it replots

    def forget(self) -> None:
        """The next data is another series (a new engine run): plot it whatever its version."""
        self._version = -1

    def due(self, version: int) -> bool:
        """True if the data moved since the last plot and that plot is old enough to redo."""
        return version != self._version and time.monotonic() - self._last_plot >= MIN_REPLOT_S

    def _x_tick_room(self) -> int:
        width = self.size.width
        return max(2, min(5, (width - 6) // CLOCK_LABEL_CELLS)) if width else 5

    def on_resize(self, event: events.Resize) -> None:
        points, title = self._shown
        if points and self._x_tick_room() != self._most_x_ticks:
            self.show_series(points, self._version, title)

    def show_series(self, points: Sequence[tuple[float, float]], version: int, title: str) -> None:
        """Plot (time, value) points; the x axis reads in IST."""
        self._version = version
        self._last_plot = time.monotonic()
        self._shown = (points, title)
        self._most_x_ticks = most = self._x_tick_room()
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if points:
            start, end = points[0][0], points[-1][0]
            xs = [ts - start for ts, _ in points]
            ys = [value for _, value in points]
            plt.plot(xs, ys, marker="braille")
            step = time_step(end - start, most)
            x_ticks = time_ticks(start, end, offset_s=IST_OFFSET_S, most=most)
            plt.xticks(
                [ts - start for ts in x_ticks],
                [clock_label(ts, step, offset_s=IST_OFFSET_S) for ts in x_ticks],
            )
            if end > start:
                plt.xlim(0, end - start)
            y_ticks = value_ticks(min(ys), max(ys))
            plt.yticks(y_ticks, [value_label(y, y_ticks) for y in y_ticks])
            plt.ylim(y_ticks[0], y_ticks[-1])
            plt.title(title)
        else:
            plt.title(self.empty_title)
        self.plots += 1
        self.refresh()

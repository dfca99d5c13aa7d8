"""A P&L (equity) curve, replotted at most twice a second however often the data moves."""

from __future__ import annotations

import time
from collections.abc import Sequence

from textual_plotext import PlotextPlot

from widgets.format import IST_OFFSET_S

MIN_REPLOT_S = 0.5


def _hhmm(ts: float) -> str:
    return time.strftime("%H:%M", time.gmtime(ts + IST_OFFSET_S))


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

    def forget(self) -> None:
        """The next data is another series (a new engine run): plot it whatever its version."""
        self._version = -1

    def due(self, version: int) -> bool:
        """True if the data moved since the last plot and that plot is old enough to redo."""
        return version != self._version and time.monotonic() - self._last_plot >= MIN_REPLOT_S

    def show_series(self, points: Sequence[tuple[float, float]], version: int, title: str) -> None:
        """Plot (time, value) points; the x axis reads in IST."""
        self._version = version
        self._last_plot = time.monotonic()
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if points:
            start = points[0][0]
            xs = [(ts - start) / 60 for ts, _ in points]
            ys = [value for _, value in points]
            plt.plot(xs, ys, marker="braille")
            plt.xticks([xs[0], xs[-1]], [_hhmm(points[0][0]), _hhmm(points[-1][0])])
            plt.title(title)
        else:
            plt.title(self.empty_title)
        self.plots += 1
        self.refresh()

"""The P&L curves: net P&L (realized + unrealized - charges) over feed time, in total and per strategy.

One sampling rule for the engine (which sends the curves so far to a console that attaches) and
the console (which extends them from live P&L snapshots), so both draw the same curve: a point
per `PNL_INTERVAL_S` of feed time, the latest value within an interval overwriting the interval's
point, at most `PNL_POINTS` points per curve.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from engine.events import EquityPoint, PnlSnapshot

PNL_POINTS = 720
PNL_INTERVAL_S = 1.0  # feed seconds between P&L curve samples
TOTAL = ""  # the strategy id of the total curve in EquityPoints

Series = deque[tuple[float, float]]  # (ts, net P&L)


def net_pnl(snapshot: PnlSnapshot) -> float:
    return snapshot.realized_pnl + snapshot.unrealized_pnl - snapshot.charges


def sample(series: Series, ts: float, value: float) -> None:
    """Append a point, or overwrite the last one if it is less than an interval old."""
    if series and ts - series[-1][0] < PNL_INTERVAL_S:
        series[-1] = (series[-1][0], value)
    else:
        series.append((ts, value))


class PnlCurves:
    """Every portfolio's latest snapshot and the curves they draw, folded one snapshot at a time."""

    def __init__(self) -> None:
        self.portfolios: dict[str, PnlSnapshot] = {}
        self.total: Series = deque(maxlen=PNL_POINTS)
        self.strategies: dict[str, Series] = {}

    def apply(self, snapshot: PnlSnapshot, now: float) -> None:
        """Take a portfolio's new snapshot and sample the total and its strategy's curve."""
        self.portfolios[snapshot.portfolio_id] = snapshot
        ts = snapshot.snapshot_ts or now
        sample(self.total, ts, self.net())
        sample(self.series(snapshot.strategy_id), ts, self.net_of(snapshot.strategy_id))

    def series(self, strategy_id: str) -> Series:
        """A strategy's curve, created empty on first use."""
        series = self.strategies.get(strategy_id)
        if series is None:
            series = self.strategies[strategy_id] = deque(maxlen=PNL_POINTS)
        return series

    def net(self) -> float:
        """Net P&L of every portfolio (= equity - starting cash)."""
        return sum(net_pnl(p) for p in self.portfolios.values())

    def net_of(self, strategy_id: str) -> float:
        """Net P&L of a strategy across its portfolios."""
        return sum(net_pnl(p) for p in self.portfolios.values() if p.strategy_id == strategy_id)

    def points(self) -> list[EquityPoint]:
        """Every curve's points, oldest first (the total's before a strategy's at the same time)."""
        points = [EquityPoint(ts, TOTAL, value) for ts, value in self.total]
        for strategy_id, series in self.strategies.items():
            points.extend(EquityPoint(ts, strategy_id, value) for ts, value in series)
        points.sort(key=lambda p: p.ts)  # stable: keeps each curve's own order
        return points

    def prepend(self, points: Iterable[EquityPoint]) -> bool:
        """Put these points (oldest first) before each curve's own, keeping those older than its
        first point; True if any was added. Into empty curves, that is all of them."""
        older: dict[str, list[tuple[float, float]]] = {}
        for point in points:
            series = self.total if point.strategy_id == TOTAL else self.strategies.get(point.strategy_id)
            if not series or point.ts < series[0][0]:
                older.setdefault(point.strategy_id, []).append((point.ts, point.net_pnl))
        for strategy_id, added in older.items():
            series = self.total if strategy_id == TOTAL else self.series(strategy_id)
            own = list(series)
            series.clear()
            series.extend(added[-PNL_POINTS:])
            series.extend(own)  # the deque's bound drops the oldest first
        return bool(older)

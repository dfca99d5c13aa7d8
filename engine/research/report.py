"""The replay report: round trips and per-strategy / per-instrument figures.

Pure: the input is the run's fills (in fill order), its equity samples and
the starting cash; nothing here touches the bus, a clock or a file, so the
TUI's replay screen builds the same report from the same data.

Definitions (also in docs/replay.md):

- A round trip runs from flat to flat in one instrument for one strategy; a
  fill that flips the position closes one trip and opens the next.
  Accounting is average cost, as in the portfolio. A position still open at
  the end is valued at its last price (`marks`) and listed as an open trip;
  it counts in P&L but not in `trades` or the win rate.
- gross P&L = realized + unrealized; charges = every fill's charges;
  net = gross - charges. A winning trip has net P&L > 0 (after its charges;
  a flip fill's charges are split by quantity).
- Equity of an instrument row = starting cash + that instrument's net P&L
  (as if the strategy traded it alone); equity of a strategy row is the
  portfolio's equity.
- Max drawdown = the largest fall of equity from its running peak over the
  equity samples, in rupees and in percent of that peak.
- Exposure = the share of the replayed span (first to last equity sample, in
  feed time) during which a position was open. Overnight gaps in a
  multi-day file count as flat time.
- Sharpe = mean / standard deviation (n - 1) of the per-interval simple
  returns of the equity samples, times sqrt(intervals per year), risk-free
  rate 0. An interval is `interval_s` seconds of feed time (the replay
  samples on the first tick at or after each boundary, so a gap in ticks
  is one return); a year is 252 NSE sessions of 375 minutes
  (09:15-15:30), i.e. 252 * 22,500 / interval_s intervals. 0.0 when there
  are fewer than two returns or they do not vary.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.events import OrderFilled

ALL_INSTRUMENTS = 0  # instrument_token of a strategy's total row
TRADING_DAYS_PER_YEAR = 252
SESSION_SECONDS = 375 * 60  # NSE regular session, 09:15-15:30 IST

LONG = "LONG"
SHORT = "SHORT"


@dataclass(frozen=True, slots=True)
class EquityPoint:
    """One equity sample of a strategy (instrument_token ALL_INSTRUMENTS) or of one of its instruments."""

    ts: float  # feed time, epoch seconds UTC
    strategy_id: str
    instrument_token: int
    equity: float


@dataclass(frozen=True, slots=True)
class RoundTrip:
    strategy_id: str
    instrument_token: int
    direction: str  # LONG or SHORT
    quantity: int  # the largest position held during the trip
    entry_ts: float
    entry_price: float  # volume-weighted over the fills that opened or added
    exit_ts: float
    exit_price: float  # volume-weighted over the fills that reduced or closed (the mark, if open)
    gross_pnl: float
    charges: float
    is_open: bool = False

    @property
    def net_pnl(self) -> float:
        return self.gross_pnl - self.charges


@dataclass(frozen=True, slots=True)
class Summary:
    strategy_id: str
    instrument_token: int  # ALL_INSTRUMENTS for the strategy's total
    trades: int  # closed round trips
    open_trades: int
    fills: int
    gross_pnl: float
    charges: float
    net_pnl: float
    win_rate: float  # fraction of closed trips with net P&L > 0
    max_drawdown: float  # rupees
    max_drawdown_pct: float  # percent of the peak it fell from
    exposure: float  # fraction of the replayed span with an open position
    sharpe: float


@dataclass(frozen=True, slots=True)
class Report:
    starting_cash: float
    interval_s: float
    start_ts: float
    end_ts: float
    trips: tuple[RoundTrip, ...]
    summaries: tuple[Summary, ...]
    equity: tuple[EquityPoint, ...]

    @property
    def strategies(self) -> list[str]:
        return sorted({s.strategy_id for s in self.summaries})

    def totals(self) -> list[Summary]:
        """One total row per strategy, in strategy order."""
        return [s for s in self.summaries if s.instrument_token == ALL_INSTRUMENTS]

    def summary(self, strategy_id: str, instrument_token: int = ALL_INSTRUMENTS) -> Summary:
        for row in self.summaries:
            if row.strategy_id == strategy_id and row.instrument_token == instrument_token:
                return row
        raise KeyError(f"no summary for {strategy_id!r} / {instrument_token}")

    def curve(self, strategy_id: str, instrument_token: int = ALL_INSTRUMENTS) -> list[tuple[float, float]]:
        """(ts, equity) samples of one strategy or one of its instruments, in time order."""
        return [
            (p.ts, p.equity)
            for p in self.equity
            if p.strategy_id == strategy_id and p.instrument_token == instrument_token
        ]


# --------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------


@dataclass(slots=True)
class _OpenTrip:
    direction: int  # +1 long, -1 short
    entry_ts: float
    quantity: int = 0  # signed current position
    average_price: float = 0.0
    peak: int = 0
    entry_qty: int = 0
    entry_value: float = 0.0
    exit_qty: int = 0
    exit_value: float = 0.0
    gross: float = 0.0
    charges: float = 0.0

    def add(self, quantity: int, price: float, charges: float) -> None:
        held = abs(self.quantity)
        self.average_price = (held * self.average_price + quantity * price) / (held + quantity)
        self.quantity += self.direction * quantity
        self.peak = max(self.peak, abs(self.quantity))
        self.entry_qty += quantity
        self.entry_value += quantity * price
        self.charges += charges

    def reduce(self, quantity: int, price: float, charges: float) -> None:
        self.gross += quantity * (price - self.average_price) * self.direction
        self.quantity -= self.direction * quantity
        self.exit_qty += quantity
        self.exit_value += quantity * price
        self.charges += charges

    def finish(self, strategy_id: str, token: int, exit_ts: float, *, is_open: bool) -> RoundTrip:
        return RoundTrip(
            strategy_id=strategy_id,
            instrument_token=token,
            direction=LONG if self.direction > 0 else SHORT,
            quantity=self.peak,
            entry_ts=self.entry_ts,
            entry_price=self.entry_value / self.entry_qty if self.entry_qty else 0.0,
            exit_ts=exit_ts,
            exit_price=self.exit_value / self.exit_qty if self.exit_qty else 0.0,
            gross_pnl=self.gross,
            charges=self.charges,
            is_open=is_open,
        )


def round_trips(
    fills: Iterable[OrderFilled], *, marks: Mapping[int, float] | None = None, end_ts: float | None = None
) -> list[RoundTrip]:
    """Flat-to-flat trips per (strategy, instrument), in the order they close; open ones last.

    An open trip is valued at `marks[token]` (else its last fill price) and
    ends at `end_ts` (else its last fill time).
    """
    marks = marks or {}
    trips: list[RoundTrip] = []
    open_trips: dict[tuple[str, int], _OpenTrip] = {}
    last_price: dict[tuple[str, int], float] = {}
    last_ts = -math.inf
    for fill in fills:
        key = (fill.strategy_id, fill.instrument_token)
        last_price[key] = fill.price
        last_ts = max(last_ts, fill.fill_ts)
        remaining = fill.quantity
        charge_per_share = fill.charges.total / fill.quantity if fill.quantity else 0.0
        sign = fill.side.sign
        trip = open_trips.get(key)
        if trip is not None and trip.direction != sign:
            closing = min(remaining, abs(trip.quantity))
            trip.reduce(closing, fill.price, charge_per_share * closing)
            remaining -= closing
            if trip.quantity == 0:
                del open_trips[key]
                trips.append(trip.finish(key[0], key[1], fill.fill_ts, is_open=False))
                trip = None
        if remaining:
            if trip is None:
                trip = open_trips[key] = _OpenTrip(direction=sign, entry_ts=fill.fill_ts)
            trip.add(remaining, fill.price, charge_per_share * remaining)
    close_ts = end_ts if end_ts is not None else last_ts
    for key, trip in open_trips.items():
        mark = marks.get(key[1], last_price[key])
        trip.reduce(abs(trip.quantity), mark, 0.0)
        trips.append(trip.finish(key[0], key[1], close_ts, is_open=True))
    return trips


# --------------------------------------------------------------------------
# series figures
# --------------------------------------------------------------------------


def max_drawdown(equity: Sequence[float]) -> tuple[float, float]:
    """Largest fall from a running peak: (rupees, percent of that peak)."""
    peak = -math.inf
    worst = 0.0
    worst_pct = 0.0
    for value in equity:
        if value > peak:
            peak = value
        drop = peak - value
        if drop > worst:
            worst = drop
        if peak > 0 and drop / peak * 100.0 > worst_pct:
            worst_pct = drop / peak * 100.0
    return worst, worst_pct


def drawdown_series(equity: Sequence[float]) -> list[float]:
    """Each sample's fall from the running peak, in rupees (0 at a new high)."""
    peak = -math.inf
    out: list[float] = []
    for value in equity:
        peak = max(peak, value)
        out.append(peak - value)
    return out


def intervals_per_year(interval_s: float) -> float:
    if interval_s <= 0:
        raise ValueError(f"the sampling interval must be positive, got {interval_s}")
    return TRADING_DAYS_PER_YEAR * SESSION_SECONDS / interval_s


def sharpe_ratio(equity: Sequence[float], interval_s: float) -> float:
    """Annualised Sharpe of per-interval simple returns (risk-free 0); 0.0 if undefined."""
    returns = [b / a - 1.0 for a, b in itertools.pairwise(equity) if a > 0]
    if len(returns) < 2:
        return 0.0
    mean = math.fsum(returns) / len(returns)
    variance = math.fsum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 1e-24:
        return 0.0
    return mean / math.sqrt(variance) * math.sqrt(intervals_per_year(interval_s))


def exposure(trips: Iterable[RoundTrip], start_ts: float, end_ts: float) -> float:
    """Share of [start_ts, end_ts] covered by at least one trip (overlaps counted once)."""
    span = end_ts - start_ts
    if span <= 0:
        return 0.0
    intervals = sorted(
        (max(t.entry_ts, start_ts), min(t.exit_ts, end_ts)) for t in trips if t.exit_ts > t.entry_ts
    )
    covered = 0.0
    cur_start = cur_end = -math.inf
    for begin, end in intervals:
        if begin > cur_end:
            if cur_end > cur_start:
                covered += cur_end - cur_start
            cur_start, cur_end = begin, end
        elif end > cur_end:
            cur_end = end
    if cur_end > cur_start:
        covered += cur_end - cur_start
    return min(covered / span, 1.0)


# --------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------


@dataclass(slots=True)
class _Counts:
    fills: int = 0
    charges: float = 0.0
    trips: list[RoundTrip] = field(default_factory=list)


def build_report(
    fills: Sequence[OrderFilled],
    equity: Sequence[EquityPoint],
    *,
    starting_cash: float,
    interval_s: float,
    marks: Mapping[int, float] | None = None,
    strategies: Iterable[str] = (),
) -> Report:
    """Everything the replay reports, from the run's fills and equity samples.

    `strategies` lists strategies to report even if they never traded.
    """
    times = [p.ts for p in equity] or [f.fill_ts for f in fills] or [0.0]
    start_ts, end_ts = min(times), max(times)
    trips = round_trips(fills, marks=marks, end_ts=end_ts)

    counts: dict[tuple[str, int], _Counts] = {}
    names = set(strategies)
    for fill in fills:
        names.add(fill.strategy_id)
        for key in ((fill.strategy_id, fill.instrument_token), (fill.strategy_id, ALL_INSTRUMENTS)):
            c = counts.setdefault(key, _Counts())
            c.fills += 1
            c.charges += fill.charges.total
    for trip in trips:
        for key in ((trip.strategy_id, trip.instrument_token), (trip.strategy_id, ALL_INSTRUMENTS)):
            counts.setdefault(key, _Counts()).trips.append(trip)
    for name in names:
        counts.setdefault((name, ALL_INSTRUMENTS), _Counts())

    points = _complete_curves(equity, starting_cash, start_ts)
    curves: dict[tuple[str, int], list[float]] = {}
    for point in points:
        curves.setdefault((point.strategy_id, point.instrument_token), []).append(point.equity)

    summaries = [
        _summarise(key, c, curves.get(key, []), interval_s, start_ts, end_ts)
        for key, c in sorted(counts.items())
    ]
    return Report(
        starting_cash=starting_cash,
        interval_s=interval_s,
        start_ts=start_ts,
        end_ts=end_ts,
        trips=tuple(trips),
        summaries=tuple(summaries),
        equity=tuple(points),
    )


def _complete_curves(
    equity: Iterable[EquityPoint], starting_cash: float, start_ts: float
) -> list[EquityPoint]:
    """Points ordered by strategy, instrument and time; an instrument first sampled after the
    start gets a starting-cash point at the start (its net P&L was 0 until it traded)."""
    ordered = sorted(equity, key=lambda p: (p.strategy_id, p.instrument_token, p.ts))
    out: list[EquityPoint] = []
    previous: tuple[str, int] | None = None
    for point in ordered:
        key = (point.strategy_id, point.instrument_token)
        if key != previous and point.instrument_token != ALL_INSTRUMENTS and point.ts > start_ts:
            out.append(EquityPoint(start_ts, point.strategy_id, point.instrument_token, starting_cash))
        out.append(point)
        previous = key
    return out


def _summarise(
    key: tuple[str, int],
    counts: _Counts,
    curve: Sequence[float],
    interval_s: float,
    start_ts: float,
    end_ts: float,
) -> Summary:
    closed = [t for t in counts.trips if not t.is_open]
    gross = math.fsum(t.gross_pnl for t in counts.trips)
    wins = sum(1 for t in closed if t.net_pnl > 0)
    dd, dd_pct = max_drawdown(curve)
    return Summary(
        strategy_id=key[0],
        instrument_token=key[1],
        trades=len(closed),
        open_trades=len(counts.trips) - len(closed),
        fills=counts.fills,
        gross_pnl=gross,
        charges=counts.charges,
        net_pnl=gross - counts.charges,
        win_rate=wins / len(closed) if closed else 0.0,
        max_drawdown=dd,
        max_drawdown_pct=dd_pct,
        exposure=exposure(counts.trips, start_ts, end_ts),
        sharpe=sharpe_ratio(curve, interval_s),
    )

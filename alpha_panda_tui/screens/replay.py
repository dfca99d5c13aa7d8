"""Replay a tick file in the console: the panes as it runs, then its report.

The replay runs on the app's own event loop, on the replay's DirectBus (the
same ReplayDriver as `alpha-panda-tui replay FILE`). A UiBridge on that bus
folds every event into this screen's own UiState, which the panes read ten
times a second; the driver hands control back to the loop every few
thousand ticks, so keys and repaints keep flowing while it runs. The screen
never touches the live engine's state: it is not a LiveScreen, so the app
does not sync it.

When the file is done, the report (the same `Report` the CLI prints) is
built and written (`write_report` into the CLI's default report folder) off
the loop, and shown: a summary row per strategy and per instrument, and the
equity and drawdown curves of the row under the cursor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, DataTable, Label, Static
from textual.worker import Worker

from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.ui_state import UiState
from engine.bus.base import Bus
from engine.events import Namespace
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import PARQUET_SUFFIXES, TickFileError, read_ticks
from engine.research.charts import downsample, with_drawdown
from engine.research.params_grid import describe
from engine.research.replay import DEFAULT_SAMPLE_INTERVAL_S, ReplayDriver, ReplayResult
from engine.research.report import ALL_INSTRUMENTS, Report
from engine.research.report_files import (
    EQUITY_FILE,
    HTML_FILE,
    SUMMARY_FILE,
    TRADES_FILE,
    ist_time,
    money,
    symbol_of,
    write_report,
)
from engine.research.selection import ReplaySetupError, select_strategies
from engine.research.session import ResearchOptions, default_report_dir
from engine.settings import Settings
from engine.strategies.base import Strategy
from engine.strategies.errors import StrategyConfigError, StrategyParamError
from viewmodels.keys import Scope
from widgets.bindings import bindings
from widgets.equity_chart import EquityChart
from widgets.fill_list import FillList
from widgets.format import money as rupees
from widgets.key_footer import KeyFooter
from widgets.positions_table import PositionsTable
from widgets.replay_progress import Phase, Progress, ReplayProgress
from widgets.replay_report import ReportRow, ReportSummary
from widgets.risk_list import RiskList
from widgets.signal_list import SignalList
from widgets.tick_table import TickTable

log = logging.getLogger(__name__)

SYNC_INTERVAL_S = 0.1  # panes and progress line, from the replay's UiState
PROGRESS_EVERY = 1_000  # ticks between hand-backs to the event loop
UI_SLICE_EVERY_S = 0.05  # at least this often the replay pauses long enough for a full repaint
UI_SLICE_S = 0.004
CHART_POINTS = 600
COMPACT_BELOW_WIDTH = 120
COMPACT_BELOW_HEIGHT = 34
UI_GROUP = "replay.ui"
REPORT_FILES = ", ".join((TRADES_FILE, SUMMARY_FILE, EQUITY_FILE, HTML_FILE))
APP_CSS_PATH = Path(__file__).resolve().parent.parent / "app.tcss"

LIVE, REPORT, ERROR = "replay-live", "replay-report", "replay-error"
PANES: tuple[tuple[str, str], ...] = (
    ("replay-ticks", "Ticks"),
    ("replay-signals", "Signals"),
    ("replay-risk", "Risk decisions"),
    ("replay-positions", "Positions & P&L"),
    ("replay-equity", "Net P&L"),
    ("replay-fills", "Fills"),
)


class ReplayFailed(Exception):
    """A replay that cannot run or finish; the message is shown to the user as it is."""


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    result: ReplayResult
    report: Report
    out_dir: Path
    write_error: str  # "" when every report file was written


def display_path(path: Path) -> str:
    """Relative to the working directory when under it, else with ~ for the home directory."""
    absolute = path.expanduser().absolute()
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~")):
        try:
            relative = absolute.relative_to(base)
        except ValueError:
            continue
        return str(Path(prefix) / relative) if prefix else str(relative)
    return str(absolute)


def count_ticks(path: Path) -> int | None:
    """Data rows in a tick file, without parsing them (a CSV's line count); None if unknown."""
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        lines = 0
        last = b"\n"
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
        if last != b"\n":
            lines += 1
        return max(lines - 1, 0)  # the header
    except Exception:  # counting is only a nicety: the replay itself reports a bad file
        return None


def replay_details(
    path: Path,
    result: ReplayResult,
    strategy: str | None,
    params: Mapping[str, str],
    switches: str,
) -> list[tuple[str, str]]:
    """What was replayed and what the pipeline did, as (label, text) lines."""
    rejected = ", ".join(f"{rule} {n}" for rule, n in result.rejections_by_rule().items()) or "none"
    details = [
        ("file", display_path(path)),
        ("ticks", f"{result.ticks:,} from {ist_time(result.first_ts)} to {ist_time(result.last_ts)}"),
        ("strategies", ", ".join(result.strategies) + ("" if strategy else " (every enabled one)")),
        ("params", describe(params)),
        ("research", switches),
        (
            "pipeline",
            f"{len(result.signals)} signals, {len(result.rejections)} rejected ({rejected}), "
            f"{len(result.failures)} orders failed, {len(result.fills)} fills",
        ),
        ("interval", f"{result.sample_interval_s:g} s of feed time (equity samples, Sharpe)"),
    ]
    if result.dead_letters:
        details.append(("warning", f"{result.dead_letters} events failed in a handler (see the log)"))
    return details


def _build_and_write(
    result: ReplayResult,
    out_dir: Path,
    symbols: Mapping[int, str],
    title: str,
    details: Sequence[tuple[str, str]],
) -> tuple[Report, str]:
    report = result.report()
    try:
        write_report(report, out_dir, symbols, title=title, details=details)
    except OSError as exc:
        return report, str(exc)
    return report, ""


class ReplayScreen(Screen[None]):
    """`path` replayed with `strategy` (a name from the strategies file or a kind; None = every
    enabled strategy) and `params` (param texts, as `--param`). `show_timing=False` hides the
    wall-clock figures (ticks/s, elapsed), for reproducible screenshots."""

    CSS_PATH = "replay.tcss"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.REPLAY))

    def __init__(
        self,
        path: Path,
        settings: Settings,
        strategy: str | None = None,
        params: Mapping[str, str] | None = None,
        *,
        show_timing: bool = True,
        progress_every: int = PROGRESS_EVERY,
        instruments: InstrumentRegistry | None = None,
        sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        options: ResearchOptions | None = None,
        start: float | None = None,
        end: float | None = None,
        out_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.settings = settings
        self.strategy = strategy
        self.params: dict[str, str] = dict(params or {})
        self.show_timing = show_timing
        self.progress_every = progress_every
        self.instruments = instruments if instruments is not None else InstrumentRegistry.sample()
        self.sample_interval_s = sample_interval_s
        self.options = options if options is not None else ResearchOptions()
        self.start = start
        self.end = end
        self.out_dir = (
            out_dir if out_dir is not None else default_report_dir(settings, self.path, strategy, params)
        )
        self.symbols = {i.instrument_token: i.tradingsymbol for i in self.instruments}
        self.state = UiState(self.instruments)
        self.phase = Phase.STARTING
        self.ticks_done = 0
        self.total: int | None = None
        self.error = ""
        self.outcome: ReplayOutcome | None = None
        self.worker: Worker[None] | None = None
        self._driver: ReplayDriver | None = None
        self._started = 0.0
        self._elapsed: float | None = None
        self._sliced_at = 0.0
        self._sync_timer: Timer | None = None
        self._seen: dict[str, object] = {}
        self._chart_version = 0
        self.compact = False

    # -- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Label(self._title(), id="replay-title", classes="screen-title")
        yield ReplayProgress(id="replay-progress")
        with ContentSwitcher(initial=LIVE, id="replay-body"):
            with Grid(id=LIVE):
                yield TickTable(id="replay-ticks", classes="pane")
                yield SignalList(id="replay-signals", classes="pane")
                yield RiskList(id="replay-risk", classes="pane")
                yield PositionsTable(id="replay-positions", classes="pane")
                yield EquityChart(id="replay-equity", classes="chart", empty_title="no P&L yet")
                yield FillList(id="replay-fills", classes="pane")
            with VerticalScroll(id=REPORT):
                yield Static("", id="report-files", markup=False)
                yield ReportSummary(id="report-summary")
                with Horizontal(id="report-charts"):
                    yield EquityChart(id="report-equity", classes="chart", empty_title="no equity samples")
                    yield EquityChart(id="report-drawdown", classes="chart", empty_title="no equity samples")
                yield Static("", id="report-details", markup=False)
            with Vertical(id=ERROR):
                yield Static("", id="replay-error-text", markup=False)
                yield Static("escape: back", id="replay-error-hint")
        yield KeyFooter()

    def _title(self) -> str:
        who = self.strategy or "every enabled strategy"
        params = f" ({describe(self.params)})" if self.params else ""
        return f"Replay of {self.path.name}: {who}{params}"

    def on_mount(self) -> None:
        for pane, title in PANES:
            self.query_one(f"#{pane}").border_title = title
        self.query_one("#report-summary").border_title = "Summary"
        self._apply_layout(self.app.size.width, self.app.size.height)
        self._sync_timer = self.set_interval(SYNC_INTERVAL_S, self._sync, name="replay-sync")
        if self.start is None and self.end is None:
            self._count_ticks()
        self.worker = self._replay()

    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        self.compact = width < COMPACT_BELOW_WIDTH or height < COMPACT_BELOW_HEIGHT
        self.set_class(self.compact, "-compact")

    # -- the replay -----------------------------------------------------------------
    @work(exclusive=True, exit_on_error=False, group="replay-count")
    async def _count_ticks(self) -> None:
        self.total = await asyncio.to_thread(count_ticks, self.path)

    @work(exclusive=True, exit_on_error=False, group="replay")
    async def _replay(self) -> None:
        try:
            outcome = await self._run()
        except ReplayFailed as exc:
            self._finish(Phase.FAILED, error=str(exc))
            return
        except asyncio.CancelledError:
            self._finish(Phase.CANCELLED)
            raise
        except Exception as exc:
            log.exception("replay of %s failed", self.path)
            self._finish(Phase.FAILED, error=f"The replay failed: {type(exc).__name__}: {exc}")
            return
        self.outcome = outcome
        self._show_report(outcome)
        self._finish(Phase.FINISHED)

    def _strategies(self) -> list[Strategy]:
        if self.path.is_dir():
            raise ReplayFailed(f"Cannot replay {display_path(self.path)}: it is a folder, not a tick file.")
        if not self.path.is_file():
            raise ReplayFailed(f"Cannot replay {display_path(self.path)}: there is no such file.")
        try:
            return select_strategies(self.settings, self.instruments, self.strategy, self.params)
        except (ReplaySetupError, StrategyConfigError, StrategyParamError) as exc:
            raise ReplayFailed(f"Cannot replay: {exc}") from None

    async def _run(self) -> ReplayOutcome:
        strategies = self._strategies()
        settings = self.options.apply(self.settings)
        driver = self._driver = ReplayDriver(
            settings,
            strategies,
            self.instruments,
            sample_interval_s=self.sample_interval_s,
            bus_hook=self._watch,
        )
        self._started = self._sliced_at = time.perf_counter()
        self.phase = Phase.RUNNING
        try:
            result = await driver.run(
                read_ticks(self.path, self.instruments, self.start, self.end),
                on_progress=self._on_progress,
                progress_every=self.progress_every,
            )
        except TickFileError as exc:  # names the file, line and column
            raise ReplayFailed(f"Cannot read the tick file: {exc}") from None
        except (OSError, ValueError) as exc:  # not text, not Parquet, unreadable
            raise ReplayFailed(f"Cannot read the tick file {display_path(self.path)}: {exc}") from None
        self._elapsed = time.perf_counter() - self._started
        self.ticks_done = result.ticks
        if not result.ticks:
            raise ReplayFailed(f"There are no ticks to replay in {display_path(self.path)}.")
        self.phase = Phase.REPORTING
        self._sync()
        details = self._details(result)
        title = f"Replay of {self.path.name}"
        report, write_error = await asyncio.to_thread(
            _build_and_write, result, self.out_dir, self.symbols, title, details
        )
        return ReplayOutcome(result, report, self.out_dir, write_error)

    def _details(self, result: ReplayResult) -> list[tuple[str, str]]:
        switches = self.options.describe(self.settings)
        return replay_details(self.path, result, self.strategy, self.params, switches)

    def _watch(self, bus: Bus) -> None:
        UiBridge(bus, self.instruments, (Namespace.PAPER,), self.state, group=UI_GROUP).wire()

    async def _on_progress(self, ticks: int) -> None:
        self.ticks_done = ticks
        now = time.perf_counter()
        if now - self._sliced_at >= UI_SLICE_EVERY_S:
            self._sliced_at = now
            await asyncio.sleep(UI_SLICE_S)  # long enough for the app to run a whole repaint
        else:
            await asyncio.sleep(0)

    def _finish(self, phase: Phase, *, error: str = "") -> None:
        self.phase = phase
        self.error = error
        if self._elapsed is None and self._started:
            self._elapsed = time.perf_counter() - self._started
        if not self.is_attached:
            return
        if phase is Phase.FAILED:
            self.query_one("#replay-error-text", Static).update(error)
            self.query_one("#replay-body", ContentSwitcher).current = ERROR
        self._sync()
        if self._sync_timer is not None:
            self._sync_timer.stop()
        self.refresh_bindings()

    def cancel(self) -> None:
        """Stop the replay if it still runs."""
        self.workers.cancel_node(self)
        if not self.phase.is_over:
            self.phase = Phase.CANCELLED

    # -- keys -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_view":
            return self.phase is Phase.FINISHED
        return True

    def action_back(self) -> None:
        self.cancel()
        self.dismiss(None)

    def action_toggle_view(self) -> None:
        if self.phase is not Phase.FINISHED:
            return
        switcher = self.query_one("#replay-body", ContentSwitcher)
        switcher.current = LIVE if switcher.current == REPORT else REPORT
        if switcher.current == LIVE:
            self._sync_panes(force=True)
        else:
            self.query_one(ReportSummary).focus()

    # -- what the screen shows ------------------------------------------------------
    def progress(self) -> Progress:
        feed_ts = self.state.session_ts
        first_ts = self._driver.result.first_ts if self._driver is not None else 0.0
        elapsed: float | None = None
        if self.show_timing and self._started:
            elapsed = self._elapsed if self._elapsed is not None else time.perf_counter() - self._started
        return Progress(self.phase, self.ticks_done, self.total, first_ts, feed_ts, elapsed)

    def _sync(self) -> None:
        if not self.is_attached:
            return
        self.query_one(ReplayProgress).show(self.progress())
        if self.query_one("#replay-body", ContentSwitcher).current == LIVE:
            self._sync_panes()

    def _changed(self, name: str, version: object) -> bool:
        if self._seen.get(name) == version:
            return False
        self._seen[name] = version
        return True

    def _sync_panes(self, *, force: bool = False) -> None:
        state = self.state
        if force:
            self._seen.clear()
        if self._changed("ticks", state.ticks.revision):
            ticks = self.query_one(TickTable)
            ticks.hint = f"{len(state.ticks.rows)} instruments"
            ticks.set_rows(state.ticks.rows)
        if self._changed("signals", state.signals.revision):
            self.query_one(SignalList).set_rows(list(reversed(state.signals.rows)))
        if self._changed("risk", state.decisions.revision):
            self.query_one(RiskList).set_rows(list(reversed(state.decisions.rows)))
        if self._changed("fills", state.orders.revision):
            self.query_one(FillList).set_rows(list(reversed(state.orders.fills)))
        if self._changed("positions", state.pnl.revision):
            self.query_one(PositionsTable).set_rows(state.pnl.position_rows())
        chart = self.query_one("#replay-equity", EquityChart)
        if force or chart.due(state.pnl.revision):
            title = f"Net P&L {rupees(state.pnl.total(), signed=True)}"
            chart.show_series(state.pnl.series, state.pnl.revision, title)

    def _show_report(self, outcome: ReplayOutcome) -> None:
        if not self.is_attached:
            return
        where = display_path(outcome.out_dir)
        files = (
            f"Report files: {where} ({REPORT_FILES})"
            if not outcome.write_error
            else f"Could not write the report files to {where}: {outcome.write_error}"
        )
        self.query_one("#report-files", Static).update(files)
        self.query_one("#report-files").set_class(bool(outcome.write_error), "-error")
        summary = self.query_one(ReportSummary)
        summary.show_report(outcome.report, self.symbols)
        details = self._details(outcome.result)
        width = max(len(label) for label, _ in details)
        self.query_one("#report-details", Static).update(
            "\n".join(f"{label:<{width}}  {text}" for label, text in details)
        )
        self.query_one("#replay-body", ContentSwitcher).current = REPORT
        summary.focus()
        first = outcome.report.totals()
        if first:
            self._show_charts((first[0].strategy_id, ALL_INSTRUMENTS))

    @on(DataTable.RowHighlighted, "#report-summary")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.query_one(ReportSummary).report_row(event.row_key.value)
        if row is not None:
            self._show_charts(row)

    def _show_charts(self, row: ReportRow) -> None:
        outcome = self.outcome
        if outcome is None:
            return
        strategy_id, token = row
        report = outcome.report
        curve = report.curve(strategy_id, token)
        label = strategy_id if token == ALL_INSTRUMENTS else f"{strategy_id} {symbol_of(token, self.symbols)}"
        summary = report.summary(strategy_id, token)
        self._chart_version += 1
        end = curve[-1][1] if curve else report.starting_cash
        self.query_one("#report-equity", EquityChart).show_series(
            downsample(curve, CHART_POINTS), self._chart_version, f"{label}: equity {money(end)}"
        )
        falls = [(ts, -fall) for ts, fall in with_drawdown(curve)]
        self.query_one("#report-drawdown", EquityChart).show_series(
            downsample(falls, CHART_POINTS),
            self._chart_version,
            f"drawdown: max {money(summary.max_drawdown)} ({money(summary.max_drawdown_pct)}%)",
        )


def replay_screen_for(
    path: Path | str,
    settings: Settings,
    strategy: str | None = None,
    params: Mapping[str, str] | None = None,
) -> ReplayScreen:
    """The replay screen for a path as typed (`~` expanded); push it to run the replay."""
    return ReplayScreen(Path(path).expanduser(), settings, strategy or None, params)

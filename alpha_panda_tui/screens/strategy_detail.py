"""One strategy up close: state, params, its instruments' quotes, its recent signals and its P&L curve."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid, Vertical
from textual.widgets import Label, Static

from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.ui_state import UiState
from viewmodels.keys import Scope
from viewmodels.rows import StrategyRow
from widgets.bindings import bindings
from widgets.equity_chart import EquityChart
from widgets.format import money
from widgets.header_bar import HeaderBar
from widgets.key_footer import KeyFooter
from widgets.messages import StrategyToggleRequested
from widgets.signal_list import SignalList
from widgets.tick_table import TickTable


def describe(row: StrategyRow | None, name: str) -> str:
    if row is None:
        return f"{name}: the engine does not report this strategy"
    status = row.status
    state = "ON" if status.enabled else "OFF"
    if row.pending is not None:
        state += f" (turning {'on' if row.pending else 'off'})"
    namespaces = ", ".join(ns.value for ns in status.namespaces)
    return (
        f"{status.name} ({status.kind})  {state}  routes to {namespaces}  "
        f"signals {status.signals}  P&L {money(row.pnl, signed=True)}"
    )


def params_text(row: StrategyRow | None) -> str:
    """The order settings its signals carry (product and type first: they decide what a fill costs),
    then its params."""
    if row is None or not (row.status.params or row.status.orders):
        return "(the engine did not report params for this strategy)"
    pairs = (*row.status.orders, *row.status.params)
    width = max(len(name) for name, _ in pairs)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in pairs)


class StrategyDetailScreen(LiveScreen):
    BINDINGS: ClassVar[list[BindingType]] = [*bindings(Scope.DETAIL), *bindings(Scope.STRATEGY_DETAIL)]

    def __init__(self, strategy: str) -> None:
        super().__init__(classes="detail-screen")
        self.strategy = strategy
        self._seen: dict[str, object] = {}
        self._row: StrategyRow | None = None

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield Label(self.strategy, id="detail-title", classes="screen-title")
        with Grid(id="detail-grid"):
            with Vertical(id="detail-params", classes="pane"):
                yield Static("", id="params-body", markup=False)
            yield TickTable(id="detail-ticks", classes="pane")
            yield EquityChart(id="detail-chart", classes="chart", empty_title="no P&L for this strategy yet")
            yield SignalList(id="detail-signals", classes="pane")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#detail-params").border_title = "Params and orders"
        self.query_one("#detail-ticks").border_title = "Instruments"
        self.query_one("#detail-signals").border_title = "Recent signals"
        self.query_one("#detail-signals").focus()

    def _changed(self, name: str, version: object) -> bool:
        if self._seen.get(name) == version:
            return False
        self._seen[name] = version
        return True

    def sync(self, state: UiState, *, force: bool = False) -> None:
        row = self._row = state.strategies.find(self.strategy)
        if self._changed("header", (state.engine.revision, int(state.session_ts))):
            self.query_one(HeaderBar).show_status(state.status, state.session_ts)
        if self._changed("strategy", (row.version, row.pending) if row else None):
            self.query_one("#detail-title", Label).update(describe(row, self.strategy))
            self.query_one("#params-body", Static).update(params_text(row))
        tokens = row.status.instruments if row is not None else ()
        if self._changed("ticks", (state.ticks.revision, tokens)):
            by_token = state.ticks.by_token
            self.query_one(TickTable).set_rows([by_token[t] for t in tokens if t in by_token])
        if self._changed("signals", state.signals.revision):
            mine = [s for s in reversed(state.signals.rows) if s.strategy_id == self.strategy]
            self.query_one(SignalList).set_rows(mine)
        chart = self.query_one(EquityChart)
        if chart.due(state.pnl.revision):
            series = state.pnl.strategy_series.get(self.strategy, ())
            title = f"P&L {money(series[-1][1], signed=True)}" if series else ""
            chart.show_series(series, state.pnl.revision, title)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_toggle_this(self) -> None:
        row = self._row
        if row is not None:
            enabled = row.pending if row.pending is not None else row.status.enabled
            self.post_message(StrategyToggleRequested(self.strategy, not enabled))

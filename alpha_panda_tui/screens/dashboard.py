"""The dashboard: every pane at once on a large terminal, one group of panes at a time on a small one."""

from __future__ import annotations

import time
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Grid

from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.ui_state import UiState
from viewmodels.keys import Scope
from widgets.bindings import bindings
from widgets.equity_chart import EquityChart
from widgets.event_log import EventLog
from widgets.fill_list import FillList
from widgets.format import money
from widgets.header_bar import HeaderBar
from widgets.health_panel import HealthPanel
from widgets.key_footer import KeyFooter
from widgets.messages import OrderTraceRequested
from widgets.order_list import OrderList
from widgets.positions_table import PositionsTable
from widgets.risk_list import RiskList
from widgets.row_table import RowTable
from widgets.signal_list import SignalList
from widgets.strategy_list import StrategyList
from widgets.tick_table import TickTable
from widgets.view_bar import ViewBar

# Below either size the dashboard shows one view (group of panes) at a time, chosen with [ and ].
COMPACT_BELOW_WIDTH = 120
COMPACT_BELOW_HEIGHT = 34

VIEWS: tuple[tuple[str, str], ...] = (
    ("market", "Market"),
    ("portfolio", "Portfolio"),
    ("trading", "Trading"),
    ("system", "System"),
)

# Every pane and the view it lives in, in view order. Tab follows the layout: on a large terminal
# the panes as drawn (left to right, top to bottom); on a small one view by view, as here.
PANES: tuple[tuple[str, str, str], ...] = (
    ("ticks", "market", "Ticks"),
    ("positions", "portfolio", "Positions & P&L"),
    ("signals", "trading", "Signals"),
    ("risk", "trading", "Risk decisions"),
    ("orders", "trading", "Orders"),
    ("fills", "trading", "Fills"),
    ("strategies", "system", "Strategies"),
    ("health", "system", "Health"),
    ("log", "system", "Log"),
)
PANE_VIEW = {pane: view for pane, view, _ in PANES}

# Least seconds between repaints of a pane whose data keeps moving. The quotes repaint at the
# pull rate; lists whose every line shifts with each new row repaint less often, which keeps the
# cost of a busy market down (see benchmarks/tui.py).
PANE_INTERVAL_S: dict[str, float] = {
    "signals": 0.25,
    "risk": 0.25,
    "orders": 0.25,
    "log": 0.25,
    "positions": 0.5,
    "strategies": 0.5,
    "health": 1.0,
}


class DashboardScreen(LiveScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.DASHBOARD))

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.compact = False
        self.view = VIEWS[0][0]
        self._seen: dict[str, object] = {}
        self._painted_at: dict[str, float] = {}
        self._focus_pending: str | None = None  # a pane about to be focused once its view is shown

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        yield ViewBar(VIEWS, hint="[ ] switch", id="views")
        with Grid(id="board"):
            with Container(id="view-market", classes="view"):
                yield TickTable(id="ticks", classes="pane")
            with Container(id="view-portfolio", classes="view"):
                yield PositionsTable(id="positions", classes="pane")
                yield EquityChart(id="equity", classes="chart")
            with Grid(id="view-trading", classes="view"):
                yield SignalList(id="signals", classes="pane")
                yield RiskList(id="risk", classes="pane")
                yield OrderList(id="orders", classes="pane")
                yield FillList(id="fills", classes="pane")
            with Grid(id="view-system", classes="view"):
                yield StrategyList(id="strategies", classes="pane")
                yield HealthPanel(id="health", classes="pane")
                yield EventLog(id="log", classes="pane")
        yield KeyFooter()

    def on_mount(self) -> None:
        for pane, _, title in PANES:
            self.query_one(f"#{pane}").border_title = title
        self.query_one(StrategyList).hint = "1-9 / space: on/off"
        self.query_one(OrderList).hint = "enter: trace"
        self._apply_layout(self.app.size.width, self.app.size.height)
        self.query_one("#ticks").focus()

    # -- layout -------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        compact = width < COMPACT_BELOW_WIDTH or height < COMPACT_BELOW_HEIGHT
        if compact != self.compact:
            self.compact = compact
            self.set_class(compact, "-compact")
            self.app.refresh_bindings()
        self.show_view(self.view)

    def show_view(self, view: str) -> None:
        self.view = view
        for name, _ in VIEWS:
            self.query_one(f"#view-{name}").set_class(name == view, "-active")
        self.query_one(ViewBar).show(view)
        self._seen.clear()  # panes that were hidden are brought up to date on the next sync

    def cycle_view(self, step: int) -> None:
        names = [name for name, _ in VIEWS]
        view = names[(names.index(self.view) + step) % len(names)]
        self.show_view(view)
        self._focus_pane(next(pane for pane, pane_view, _ in PANES if pane_view == view), deferred=True)

    @on(ViewBar.Chosen)
    def _view_clicked(self, event: ViewBar.Chosen) -> None:
        if event.view != self.view:
            self.show_view(event.view)

    def pane_order(self) -> list[str]:
        """The panes in tab order: as drawn on a large terminal, view by view on a small one."""
        names = [pane for pane, _, _ in PANES]
        if self.compact:
            return names

        def drawn_at(pane: str) -> tuple[int, int]:
            region = self.query_one(f"#{pane}").region
            return (region.y, region.x)

        return sorted(names, key=drawn_at)

    def _cycle_pane(self, step: int) -> None:
        # Keys typed faster than a repaint all count: each step starts from the pane the previous one
        # chose, not from the focus (which Textual moves only after the view is shown).
        names = self.pane_order()
        focused = self.focused
        current = self._focus_pending or (focused.id if focused is not None else None)
        index = names.index(current) if current in names else -1
        target = names[(index + step) % len(names)]
        switch = self.compact and PANE_VIEW[target] != self.view
        if switch:
            self.show_view(PANE_VIEW[target])
        self._focus_pane(target, deferred=switch or self._focus_pending is not None)

    def _focus_pane(self, pane: str, *, deferred: bool) -> None:
        if not deferred:
            self._focus_pending = None
            self.set_focus(self.query_one(f"#{pane}"))
            return
        self._focus_pending = pane

        def focus_when_shown() -> None:
            if self._focus_pending == pane:
                self._focus_pending = None
                self.set_focus(self.query_one(f"#{pane}"))

        self.call_after_refresh(focus_when_shown)

    def action_next_pane(self) -> None:
        self._cycle_pane(1)

    def action_previous_pane(self) -> None:
        self._cycle_pane(-1)

    # -- selections the app's actions work on -------------------------------------
    def selected_strategy(self) -> str | None:
        row = self.query_one(StrategyList).cursor_row
        return row.status.name if row is not None else None

    def selected_order(self) -> str | None:
        row = self.query_one(OrderList).cursor_row
        return row.order_id if row is not None else None

    @on(RowTable.RowChosen, "#orders")
    def _order_chosen(self, event: RowTable.RowChosen) -> None:
        event.stop()
        self.post_message(OrderTraceRequested(str(event.key)))

    # -- live state -----------------------------------------------------------------
    def forget_painted(self) -> None:
        """The next sync shows another UiState (a restarted engine's): every pane is drawn anew."""
        self._seen.clear()
        self._painted_at.clear()
        self.query_one(EquityChart).forget()

    def _visible(self, pane: str) -> bool:
        return not self.compact or PANE_VIEW[pane] == self.view

    def _changed(self, name: str, version: object, now: float = 0.0, force: bool = True) -> bool:
        """True (and remembered) if the pane's data moved and the pane is due for a repaint."""
        if self._seen.get(name) == version:
            return False
        if not force and now - self._painted_at.get(name, float("-inf")) < PANE_INTERVAL_S.get(name, 0.0):
            return False
        self._seen[name] = version
        self._painted_at[name] = now
        return True

    def _due(self, pane: str, version: object, now: float, force: bool) -> bool:
        return self._visible(pane) and self._changed(pane, version, now, force)

    def sync(self, state: UiState, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._changed("header", (state.engine.revision, int(state.session_ts))):
            self.query_one(HeaderBar).show_status(state.status, state.session_ts)
        if self._due("ticks", state.ticks.revision, now, force):
            ticks = self.query_one(TickTable)
            ticks.hint = f"{len(state.ticks.rows)} instruments"
            ticks.set_rows(state.ticks.rows)
        if self._due("signals", state.signals.revision, now, force):
            self.query_one(SignalList).set_rows(list(reversed(state.signals.rows)))
        if self._due("risk", state.decisions.revision, now, force):
            self.query_one(RiskList).set_rows(list(reversed(state.decisions.rows)))
        if self._due("orders", state.orders.revision, now, force):
            self.query_one(OrderList).set_rows(list(reversed(state.orders.by_id.values())))
            self.query_one(FillList).set_rows(list(reversed(state.orders.fills)))
        if self._due("positions", state.pnl.revision, now, force):
            self.query_one(PositionsTable).set_rows(state.pnl.position_rows())
        if self._visible("positions"):
            self._sync_chart(state)
        if self._due("strategies", state.strategies.revision, now, force):
            self.query_one(StrategyList).set_rows(state.strategies.rows)
        if self._due("health", state.health.revision, now, force):
            self.query_one(HealthPanel).show_checks(state.health.checks, state.health.revision)
        if self._due("log", state.log.revision, now, force):
            self.query_one(EventLog).set_rows(list(reversed(state.log.lines)))

    def _sync_chart(self, state: UiState) -> None:
        chart = self.query_one(EquityChart)
        if not chart.due(state.pnl.revision):
            return
        pnl = state.pnl
        title = (
            f"Net P&L {money(pnl.total(), signed=True)}  "
            f"equity {money(pnl.equity())} = capital {money(pnl.capital())} + net P&L"
        )
        chart.show_series(state.pnl.series, state.pnl.revision, title)

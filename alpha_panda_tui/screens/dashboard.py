"""The dashboard: every pane at once on a large terminal, one group of panes at a time on a small one."""

from __future__ import annotations

from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Grid
from textual.widget import Widget
from textual.widgets import Footer, Tab, Tabs

from alpha_panda_tui.keymap import Scope, bindings
from alpha_panda_tui.messages import OrderTraceRequested
from alpha_panda_tui.screens.live import LiveScreen
from alpha_panda_tui.ui_state import UiState
from widgets.equity_chart import EquityChart
from widgets.event_log import EventLog
from widgets.fill_list import FillList
from widgets.format import money
from widgets.header_bar import HeaderBar
from widgets.health_panel import HealthPanel
from widgets.order_list import OrderList
from widgets.positions_table import PositionsTable
from widgets.risk_list import RiskList
from widgets.row_table import RowTable
from widgets.signal_list import SignalList
from widgets.strategy_list import StrategyList
from widgets.tick_table import TickTable

# Below either size the dashboard shows one view (group of panes) at a time, chosen with [ and ].
COMPACT_BELOW_WIDTH = 120
COMPACT_BELOW_HEIGHT = 34

VIEWS: tuple[tuple[str, str], ...] = (
    ("market", "Market"),
    ("portfolio", "Portfolio"),
    ("trading", "Trading"),
    ("system", "System"),
)

# Focus order for tab / shift+tab, and the view each pane lives in.
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


class DashboardScreen(LiveScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.DASHBOARD))

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.compact = False
        self.view = VIEWS[0][0]
        self._seen: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        tabs = Tabs(*(Tab(label, id=f"tab-{view}") for view, label in VIEWS), id="views")
        tabs.can_focus = False
        yield tabs
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
        yield Footer()

    def on_mount(self) -> None:
        for pane, _, title in PANES:
            self.query_one(f"#{pane}").border_title = title
        self.query_one("#strategies").border_subtitle = "1-9 / space: on/off"
        self.query_one("#orders").border_subtitle = "enter: trace"
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
        self.query_one("#views", Tabs).active = f"tab-{view}"
        self._seen.clear()  # panes that were hidden are brought up to date on the next sync

    def cycle_view(self, step: int) -> None:
        names = [name for name, _ in VIEWS]
        view = names[(names.index(self.view) + step) % len(names)]
        self.show_view(view)
        first = next(pane for pane, pane_view, _ in PANES if pane_view == view)
        self.call_after_refresh(self.query_one(f"#{first}").focus)

    @on(Tabs.TabActivated)
    def _tab_clicked(self, event: Tabs.TabActivated) -> None:
        view = (event.tab.id or "").removeprefix("tab-")
        if view and view != self.view:
            self.show_view(view)

    def _cycle_pane(self, step: int) -> None:
        names = [pane for pane, _, _ in PANES]
        focused = self.focused
        current = names.index(focused.id) if focused is not None and focused.id in names else -1
        target = names[(current + step) % len(names)]
        if self.compact and PANE_VIEW[target] != self.view:
            self.show_view(PANE_VIEW[target])
            self.call_after_refresh(self.query_one(f"#{target}").focus)
        else:
            self.query_one(f"#{target}").focus()

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
    def _visible(self, pane: str) -> bool:
        return not self.compact or PANE_VIEW[pane] == self.view

    def _changed(self, name: str, version: object) -> bool:
        if self._seen.get(name) == version:
            return False
        self._seen[name] = version
        return True

    def sync(self, state: UiState) -> None:
        if self._changed("header", (state.status_version, int(state.session_ts))):
            self.query_one(HeaderBar).show_status(state.status, state.session_ts)
        if self._visible("ticks") and self._changed("ticks", state.tick_version):
            ticks = self.query_one(TickTable)
            ticks.set_rows(state.tick_rows)
            if self._changed("instruments", len(state.tick_rows)):
                ticks.border_subtitle = f"{len(state.tick_rows)} instruments"
        if self._visible("signals") and self._changed("signals", state.signal_version):
            self.query_one(SignalList).set_rows(list(reversed(state.signals)))
        if self._visible("risk") and self._changed("risk", state.decision_version):
            self.query_one(RiskList).set_rows(list(reversed(state.decisions)))
        if self._visible("orders") and self._changed("orders", state.order_version):
            self.query_one(OrderList).set_rows(list(reversed(state.orders.values())))
            self.query_one(FillList).set_rows(list(reversed(state.fills)))
        if self._visible("positions") and self._changed("positions", state.pnl_version):
            self.query_one(PositionsTable).set_rows(state.position_rows())
        if self._visible("positions"):
            self._sync_chart(state)
        if self._visible("strategies") and self._changed("strategies", state.strategy_version):
            self.query_one(StrategyList).set_rows(state.strategies)
        if self._visible("health") and self._changed("health", state.health_version):
            self.query_one(HealthPanel).show_checks(state.health, state.health_version)
        if self._visible("log") and self._changed("log", state.log_version):
            self.query_one(EventLog).set_rows(list(reversed(state.log)))

    def _sync_chart(self, state: UiState) -> None:
        chart = self.query_one(EquityChart)
        if not chart.due(state.pnl_version):
            return
        title = f"Net P&L {money(state.total_pnl(), signed=True)}  equity {money(state.total_equity())}"
        chart.show_series(state.pnl_series, state.pnl_version, title)

    def pane(self, pane_id: str) -> Widget:
        return self.query_one(f"#{pane_id}")

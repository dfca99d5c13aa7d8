"""Screens and navigation: the order trace, strategy detail, focus cycling, small-terminal views, help."""

from __future__ import annotations

from textual.widgets import Label, Static

from alpha_panda_tui.screens.dashboard import PANES, DashboardScreen
from alpha_panda_tui.screens.help import HelpScreen
from alpha_panda_tui.screens.order_trace import NOT_SEEN, OrderTraceScreen
from alpha_panda_tui.screens.strategy_detail import StrategyDetailScreen
from engine.events import CommandAction
from tests.alpha_panda_tui.harness import SMALL, console
from widgets.order_list import OrderList
from widgets.tick_table import TickTable


def texts(screen: OrderTraceScreen) -> list[str]:
    return [str(w.render()) for w in screen.query(".stage-kind, .stage-text").results(Static)]


async def test_enter_on_an_order_shows_its_whole_lineage() -> None:
    async with console() as c:
        orders = c.app.screen.query_one(OrderList)
        orders.focus()
        await c.press("down", "down")  # newest first: the third row is the first order
        assert orders.cursor_row is not None and orders.cursor_row.order_id == "PAPER-000001"
        await c.press("enter")
        screen = c.app.screen
        assert isinstance(screen, OrderTraceScreen)
        shown = texts(screen)
        kinds = [t for t in shown if t.isupper()]
        assert kinds == ["TICK", "SIGNAL", "RISK", "ORDER", "FILL", "FILL"]
        body = "\n".join(shown)
        assert "RELIANCE  LTP" in body
        assert "sma_fast: BUY 10 RELIANCE MARKET" in body
        assert "ACCEPTED, quantity 10" in body
        assert "PAPER-000001-T1: BUY 5" in body and "PAPER-000001-T2: BUY 5" in body
        assert "remaining 0" in body
        assert NOT_SEEN not in body
        title = str(screen.query_one("#trace-title", Label).render())
        assert "FILLED" in title and "10/10" in title
        await c.press("escape")
        assert isinstance(c.app.screen, DashboardScreen)


async def test_t_traces_a_failed_order() -> None:
    async with console() as c:
        c.app.screen.query_one(OrderList).focus()
        await c.press("down", "t")
        screen = c.app.screen
        assert isinstance(screen, OrderTraceScreen) and screen.order_id == "PAPER-000002"
        shown = texts(screen)
        assert "FAILED" in shown
        assert any("stale quote" in t for t in shown)


async def test_s_opens_the_strategy_detail_with_params_and_signals() -> None:
    async with console() as c:
        await c.press("s")
        screen = c.app.screen
        assert isinstance(screen, StrategyDetailScreen) and screen.strategy == "sma_fast"
        params = str(screen.query_one("#params-body", Static).render())
        assert "fast" in params and "slow" in params and "20" in params
        assert "CNC LIMIT" in params and "ref +2 ticks" in params
        assert [r.symbol for r in screen.query_one(TickTable).rows] == ["RELIANCE", "TCS"]
        await c.press("space")
        assert [(cmd.action, cmd.target) for cmd in c.probe.commands] == [
            (CommandAction.STRATEGY_DISABLE, "sma_fast")
        ]


async def test_a_small_terminal_shows_one_view_and_tab_follows_focus_into_the_next() -> None:
    async with console(SMALL) as c:
        dashboard = c.app.screen
        assert isinstance(dashboard, DashboardScreen) and dashboard.compact
        assert dashboard.query_one("#ticks").display
        assert not dashboard.query_one("#view-trading").display
        await c.press("tab")
        assert dashboard.view == "portfolio" and c.app.focused is dashboard.query_one("#positions")
        await c.press("right_square_bracket")
        assert dashboard.view == "trading"
        assert c.app.focused is dashboard.query_one("#signals")
        await c.press("left_square_bracket", "left_square_bracket")
        assert dashboard.view == "market"


async def test_a_large_terminal_shows_every_pane_and_no_view_keys() -> None:
    async with console() as c:
        dashboard = c.app.screen
        assert isinstance(dashboard, DashboardScreen) and not dashboard.compact
        assert all(dashboard.query_one(f"#{pane}").display for pane, _, _ in PANES)
        assert c.app.check_action("next_view", ()) is False


async def test_help_lists_every_key_of_the_app() -> None:
    async with console(SMALL) as c:
        await c.press("question_mark")
        screen = c.app.screen
        assert isinstance(screen, HelpScreen)
        keys = {str(label.render()) for label in screen.query(".help-key").results(Label)}
        assert {"ctrl+k / !", "R", "p", "1-9", "? / f1", "q / ctrl+q", "tab", "space / enter"} <= keys
        await c.press("escape")
        assert isinstance(c.app.screen, DashboardScreen)

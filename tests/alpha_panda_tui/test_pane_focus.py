"""Tab and shift+tab: the order follows the layout, and keys typed faster than a repaint all count."""

from __future__ import annotations

from textual import events

from alpha_panda_tui.screens.dashboard import PANES, DashboardScreen
from tests.alpha_panda_tui.harness import SMALL, Console, console

AS_DRAWN = ["ticks", "positions", "signals", "risk", "strategies", "orders", "fills", "health", "log"]
VIEW_BY_VIEW = [pane for pane, _, _ in PANES]


def focused_id(c: Console) -> str | None:
    return c.app.focused.id if c.app.focused is not None else None


async def tab_through(c: Console, key: str, times: int) -> list[str | None]:
    seen = [focused_id(c)]
    for _ in range(times):
        await c.press(key)
        seen.append(focused_id(c))
    return seen


async def send_at_once(c: Console, key: str, times: int) -> None:
    """Keys queued together, as a fast typist or a terminal's key repeat delivers them."""
    for _ in range(times):
        c.app.post_message(events.Key(key, None))
    await c.settle()


async def test_on_a_large_terminal_tab_goes_left_to_right_top_to_bottom_as_drawn() -> None:
    async with console() as c:
        dashboard = c.app.screen
        assert isinstance(dashboard, DashboardScreen) and not dashboard.compact
        regions = {pane: dashboard.query_one(f"#{pane}").region for pane in AS_DRAWN}
        assert sorted(AS_DRAWN, key=lambda pane: (regions[pane].y, regions[pane].x)) == AS_DRAWN
        assert await tab_through(c, "tab", len(AS_DRAWN)) == [*AS_DRAWN, AS_DRAWN[0]]
        backwards = list(reversed(AS_DRAWN))
        assert await tab_through(c, "shift+tab", len(AS_DRAWN)) == [AS_DRAWN[0], *backwards]


async def test_on_a_small_terminal_tab_goes_view_by_view() -> None:
    async with console(SMALL) as c:
        dashboard = c.app.screen
        assert isinstance(dashboard, DashboardScreen) and dashboard.compact
        seen = await tab_through(c, "tab", len(VIEW_BY_VIEW))
        assert seen == [*VIEW_BY_VIEW, VIEW_BY_VIEW[0]]


async def test_three_tabs_sent_at_once_move_three_panes() -> None:
    async with console() as c:
        await send_at_once(c, "tab", 3)
        assert focused_id(c) == AS_DRAWN[3]
        await send_at_once(c, "shift+tab", 2)
        assert focused_id(c) == AS_DRAWN[1]


async def test_three_tabs_sent_at_once_on_a_small_terminal_cross_views() -> None:
    async with console(SMALL) as c:
        dashboard = c.app.screen
        assert isinstance(dashboard, DashboardScreen)
        await send_at_once(c, "tab", 3)
        assert focused_id(c) == "risk" and dashboard.view == "trading"
        assert dashboard.query_one("#risk").display and not dashboard.query_one("#view-portfolio").display
        await send_at_once(c, "tab", 4)
        assert focused_id(c) == "health" and dashboard.view == "system"
        await send_at_once(c, "shift+tab", 5)
        assert focused_id(c) == "signals" and dashboard.view == "trading"

"""The selected row stands out in every list: a solid bar in colour, reverse video under NO_COLOR."""

from __future__ import annotations

import pytest
from rich.color import Color, ColorSystem
from textual.widget import Widget

from alpha_panda_tui.screens.dashboard import PANES
from tests.alpha_panda_tui.harness import Console, console
from widgets.row_table import RowTable


def cursor_panes(c: Console) -> list[RowTable[object]]:
    tables = [c.app.screen.query_one(f"#{pane}", RowTable) for pane, _, _ in PANES]
    return [t for t in tables if len(t.rows) >= 2]


def in_256(colors: set[Color | None]) -> set[int | None]:
    return {color.downgrade(ColorSystem.EIGHT_BIT).number if color else None for color in colors}


def border(pane: Widget) -> tuple[str, int | None]:
    """The top border's line type and its colour as a 256-colour terminal shows it."""
    kind, color = pane.styles.border_top
    shown = (pane.background_colors[0] + color).rich_color
    return kind, shown.downgrade(ColorSystem.EIGHT_BIT).number


def backgrounds(table: RowTable[object], y: int) -> set[Color | None]:
    return {segment.style.bgcolor if segment.style else None for segment in table.render_line(y)}


async def test_the_selected_row_has_its_own_background_in_every_list() -> None:
    async with console() as c:
        panes = cursor_panes(c)
        assert {t.id for t in panes} >= {
            "ticks",
            "positions",
            "signals",
            "risk",
            "orders",
            "fills",
            "strategies",
        }
        for table in panes:
            table.focus()
            await c.press("down")
            assert table.cursor == 1
            selected = backgrounds(table, 2)
            assert len(selected) == 1, f"{table.id}: the row's own style shows through the cursor"
            others = backgrounds(table, 1) | backgrounds(table, 3)
            assert not selected & others, f"{table.id}: the selected row looks like the others"
            assert not in_256(selected) & in_256(others), f"{table.id}: alike in 256 colours"
            c.app.screen.set_focus(None)
            await c.settle()
            blurred = backgrounds(table, 2)
            assert len(blurred) == 1 and not blurred & (others | selected), (
                f"{table.id}: blurred cursor not shown"
            )
            assert not in_256(blurred) & in_256(others | selected), f"{table.id}: alike in 256 colours"


async def test_no_color_reverses_the_selected_row_and_underlines_it_when_unfocused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    async with console() as c:
        assert c.app.no_color
        for table in cursor_panes(c):
            table.focus()
            await c.press("down")
            assert all(s.style is not None and s.style.reverse for s in table.render_line(2)), table.id
            assert not any(s.style is not None and s.style.reverse for s in table.render_line(1)), table.id
            c.app.screen.set_focus(None)
            await c.settle()
            blurred = table.render_line(2)
            assert all(s.style is not None and s.style.underline and not s.style.reverse for s in blurred), (
                table.id
            )


async def test_pane_borders_show_when_unfocused_and_the_focused_one_stands_out() -> None:
    async with console() as c:
        screen = c.app.screen
        background = screen.styles.background.rich_color.downgrade(ColorSystem.EIGHT_BIT).number
        focused = screen.query_one("#ticks")
        assert focused.has_focus
        unfocused = [screen.query_one(f"#{pane}") for pane, _, _ in PANES[1:]]
        for pane in unfocused:
            assert border(pane)[1] != background, f"{pane.id}: border invisible on the background"
        assert border(focused)[1] != background
        assert {border(focused)} != {border(pane) for pane in unfocused}
        assert border(focused)[0] != border(unfocused[0])[0], "focus must show without colour too"

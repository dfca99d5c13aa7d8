"""RowTable: adaptive columns, repaints only what changed, a cursor that follows its row, scrolling."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from rich.color import Color
from rich.style import Style
from textual.app import App, ComposeResult

from widgets.row_table import Cell, Column, RowTable


@dataclass
class Row:
    key: str
    text: str
    version: int = 0


class Table(RowTable[Row]):
    COLUMNS = (
        Column("Key", 4),
        Column("Text", 6, flex=True),
        Column("Extra", 8, drop=1),
    )

    def row_key(self, row: Row) -> Hashable:
        return row.key

    def row_version(self, row: Row) -> int:
        return row.version

    def cells(self, row: Row) -> Sequence[Cell]:
        return ((row.key, None), (row.text, None), ("extra", None))


class StyledTable(Table):
    """Every row paints its own colours, as the order and risk lists do."""

    def row_style(self, row: Row) -> Style | None:
        return Style(color="green", bgcolor="blue", bold=True)

    def cells(self, row: Row) -> Sequence[Cell]:
        return ((row.key, Style(color="red")), (row.text, None), ("extra", None))


class TableApp(App[None]):
    CSS = "Table { height: 6; }"

    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[Hashable] = []

    def compose(self) -> ComposeResult:
        yield Table()

    def on_row_table_row_chosen(self, message: RowTable.RowChosen) -> None:
        self.chosen.append(message.key)


def rows(n: int, prefix: str = "r") -> list[Row]:
    return [Row(f"{prefix}{i}", f"text {i}") for i in range(n)]


def line(table: Table, y: int) -> str:
    return table.render_line(y).text


async def test_narrow_tables_drop_columns_and_the_flex_column_takes_the_rest() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 10)) as pilot:
        table = app.query_one(Table)
        table.set_rows(rows(2))
        await pilot.pause()
        assert line(table, 0).split() == ["Key", "Text", "Extra"]
        await pilot.resize_terminal(15, 10)
        await pilot.pause()
        assert line(table, 0).split() == ["Key", "Text"]
        assert len(line(table, 1)) == 15


async def test_only_changed_rows_are_rebuilt() -> None:
    app = TableApp()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(Table)
        data = rows(4)
        table.set_rows(data)
        await pilot.pause()
        built = table.strips_built
        table.set_rows(data)  # nothing changed
        await pilot.pause()
        assert table.strips_built == built
        data[2].text, data[2].version = "moved", 1
        table.set_rows(data)
        await pilot.pause()
        assert table.strips_built == built + 1
        assert "moved" in line(table, 3)


async def test_the_cursor_follows_its_row_once_the_user_moves_it() -> None:
    app = TableApp()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(Table)
        table.focus()
        table.set_rows(rows(3))
        table.set_rows(rows(1, "new") + rows(3))  # newest first: untouched, the cursor stays on top
        assert table.cursor == 0
        await pilot.press("down")
        picked = table.cursor_row
        assert picked is not None and picked.key == "r0"
        table.set_rows(rows(2, "newer") + rows(1, "new") + rows(3))
        assert table.cursor_row is not None and table.cursor_row.key == "r0"
        await pilot.press("enter")
        assert app.chosen == ["r0"]


async def test_long_tables_scroll_and_say_where_they_are() -> None:
    app = TableApp()
    async with app.run_test(size=(30, 10)) as pilot:
        table = app.query_one(Table)
        table.focus()
        table.hint = "hint"
        table.set_rows(rows(20))
        await pilot.pause()
        assert table.visible_rows == 5
        assert str(table.border_subtitle) == "hint · 1-5 of 20"
        await pilot.press("pagedown", "pagedown")
        assert table.cursor == 8 and table.top == 4
        assert str(table.border_subtitle) == "hint · 5-9 of 20"
        await pilot.press("end")
        assert table.top == 15 and "r19" in line(table, 5)


class CursorApp(App[None]):
    CSS = """
    StyledTable { height: 6; }
    StyledTable > .row-table--cursor { background: #ffff00; color: #000000; }
    StyledTable > .row-table--cursor-blurred { background: #808000; }
    """

    def compose(self) -> ComposeResult:
        yield StyledTable()
        yield Table(id="other")


def backgrounds(table: Table, y: int) -> set[Color | None]:
    return {segment.style.bgcolor if segment.style else None for segment in table.render_line(y)}


async def test_the_cursor_shows_over_a_row_that_paints_its_own_colours() -> None:
    app = CursorApp()
    async with app.run_test(size=(30, 14)) as pilot:
        table = app.query_one(StyledTable)
        table.set_rows(rows(3))
        table.focus()
        await pilot.press("down")
        await pilot.pause()
        assert backgrounds(table, 2) == {Color.parse("#ffff00")}
        assert {segment.style.color for segment in table.render_line(2) if segment.style} == {
            Color.parse("#000000")
        }
        assert backgrounds(table, 1) == backgrounds(table, 3) == {Color.parse("blue")}
        app.query_one("#other").focus()
        await pilot.pause()
        assert backgrounds(table, 2) == {Color.parse("#808000")}

"""Live quotes: one row per instrument, coloured by the direction of its last tick."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from rich.style import Style

from viewmodels.rows import TickRow
from widgets.format import percent, price, sparkline, volume
from widgets.row_table import Cell, Column, RowTable

ARROWS = {1: "▲", -1: "▼", 0: " "}


class TickTable(RowTable[TickRow]):
    COLUMNS = (
        Column("Symbol", 11),
        Column("", 1),
        Column("LTP", 10, right=True),
        Column("Chg%", 7, right=True),
        Column("Volume", 8, right=True, drop=2),
        Column("Bid", 9, right=True, drop=3),
        Column("Ask", 9, right=True, drop=3),
        Column("Trend", 8, flex=True, drop=1, tail=True),
    )
    EMPTY_TEXT = "waiting for ticks"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tick-table--up",
        "tick-table--down",
        "tick-table--gain",
        "tick-table--loss",
        "tick-table--trend",
    }

    def row_key(self, row: TickRow) -> Hashable:
        return row.token

    def row_version(self, row: TickRow) -> int:
        return row.version

    def cells(self, row: TickRow) -> Sequence[Cell]:
        direction: Style | None = None
        if row.direction > 0:
            direction = self.get_component_rich_style("tick-table--up", partial=True)
        elif row.direction < 0:
            direction = self.get_component_rich_style("tick-table--down", partial=True)
        change = self.get_component_rich_style(
            "tick-table--gain" if row.change_pct >= 0 else "tick-table--loss", partial=True
        )
        return (
            (row.symbol, direction),
            (ARROWS[row.direction], direction),
            (price(row.last_price), direction),
            (percent(row.change_pct), change),
            (volume(row.volume), None),
            (price(row.bid), None),
            (price(row.ask), None),
            (sparkline(row.spark, 40), self.get_component_rich_style("tick-table--trend", partial=True)),
        )

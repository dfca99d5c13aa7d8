"""Positions per portfolio, then the portfolio's realized, unrealized and charges."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from rich.style import Style

from viewmodels.rows import PositionRow
from widgets.format import money, price
from widgets.row_table import Cell, Column, RowTable


class PositionsTable(RowTable[PositionRow]):
    COLUMNS = (
        Column("Portfolio/Symbol", 16, flex=True),
        Column("Qty", 6, right=True),
        Column("Avg", 9, right=True, drop=2),
        Column("LTP", 9, right=True, drop=3),
        Column("Realized", 11, right=True),
        Column("Unrealized", 11, right=True),
        Column("Charges", 9, right=True, drop=1),
    )
    EMPTY_TEXT = "no positions yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "positions-table--total",
        "positions-table--gain",
        "positions-table--loss",
    }

    def row_key(self, row: PositionRow) -> Hashable:
        return row.key

    def row_version(self, row: PositionRow) -> int:
        return row.version

    def row_style(self, row: PositionRow) -> Style | None:
        return self.get_component_rich_style("positions-table--total") if row.is_total else None

    def _pnl(self, value: float) -> Cell:
        name = "positions-table--gain" if value >= 0 else "positions-table--loss"
        return (money(value, signed=True), self.get_component_rich_style(name, partial=True))

    def cells(self, row: PositionRow) -> Sequence[Cell]:
        if row.is_total:
            return (
                (row.portfolio_id, None),
                ("", None),
                ("", None),
                ("", None),
                self._pnl(row.realized_pnl),
                self._pnl(row.unrealized_pnl),
                (money(row.charges), None),
            )
        return (
            (f"  {row.symbol}", None),
            (str(row.quantity), None),
            (price(row.average_price), None),
            (price(row.last_price), None),
            self._pnl(row.realized_pnl),
            self._pnl(row.unrealized_pnl),
            ("", None),
        )

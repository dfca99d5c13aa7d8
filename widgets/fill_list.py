"""Fills, newest first, with their charges."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from engine.events import Side
from viewmodels.rows import FillRow
from widgets.format import ist_hms, money, price
from widgets.row_table import Cell, Column, RowTable


class FillList(RowTable[FillRow]):
    COLUMNS = (
        Column("Time", 8, drop=3),
        Column("Strategy", 10, drop=2),
        Column("Symbol", 10),
        Column("Side", 4),
        Column("Qty", 5, right=True),
        Column("Price", 9, right=True),
        Column("Charges", 8, right=True, drop=4),
        Column("Trade", 10, flex=True, drop=5),
    )
    EMPTY_TEXT = "no fills yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fill-list--buy", "fill-list--sell"}

    def row_key(self, row: FillRow) -> Hashable:
        return row.trade_id

    def row_version(self, row: FillRow) -> int:
        return row.version

    def cells(self, row: FillRow) -> Sequence[Cell]:
        side = self.get_component_rich_style(
            "fill-list--buy" if row.side is Side.BUY else "fill-list--sell", partial=True
        )
        return (
            (ist_hms(row.ts), None),
            (row.strategy_id, None),
            (row.symbol, None),
            (row.side.value, side),
            (str(row.quantity), None),
            (price(row.price), None),
            (money(row.charges), None),
            (row.trade_id, None),
        )

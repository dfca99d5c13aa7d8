"""Recent trading signals, newest first."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from engine.events import Side
from viewmodels.rows import SignalRow
from widgets.format import ist_hms, price
from widgets.row_table import Cell, Column, RowTable


class SignalList(RowTable[SignalRow]):
    COLUMNS = (
        Column("Time", 8, drop=3),
        Column("Strategy", 10, drop=2),
        Column("Symbol", 10),
        Column("Side", 4),
        Column("Qty", 5, right=True),
        Column("Price", 9, right=True, drop=4),
        Column("Reason", 10, flex=True, drop=5),
    )
    EMPTY_TEXT = "no signals yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"signal-list--buy", "signal-list--sell"}

    def row_key(self, row: SignalRow) -> Hashable:
        return row.event_id

    def row_version(self, row: SignalRow) -> int:
        return row.version

    def cells(self, row: SignalRow) -> Sequence[Cell]:
        side = self.get_component_rich_style(
            "signal-list--buy" if row.side is Side.BUY else "signal-list--sell", partial=True
        )
        return (
            (ist_hms(row.ts), None),
            (row.strategy_id, None),
            (row.symbol, None),
            (row.side.value, side),
            (str(row.quantity), None),
            (price(row.price), None),
            (row.reason, None),
        )

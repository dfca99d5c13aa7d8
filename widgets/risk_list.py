"""Risk decisions, newest first: accepted, or rejected with the rule and the reason."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from viewmodels.rows import DecisionRow
from widgets.format import ist_hms
from widgets.row_table import Cell, Column, RowTable


class RiskList(RowTable[DecisionRow]):
    COLUMNS = (
        Column("Time", 8, drop=3),
        Column("Risk", 6),
        Column("Strategy", 10, drop=2),
        Column("Symbol", 10),
        Column("Side", 4, drop=4),
        Column("Qty", 5, right=True, drop=4),
        Column("Rule: reason", 12, flex=True),
    )
    EMPTY_TEXT = "no risk decisions yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"risk-list--accepted", "risk-list--rejected"}

    def row_key(self, row: DecisionRow) -> Hashable:
        return row.event_id

    def row_version(self, row: DecisionRow) -> int:
        return row.version

    def cells(self, row: DecisionRow) -> Sequence[Cell]:
        verdict = self.get_component_rich_style(
            "risk-list--accepted" if row.accepted else "risk-list--rejected", partial=True
        )
        return (
            (ist_hms(row.ts), None),
            ("ACCEPT" if row.accepted else "REJECT", verdict),
            (row.strategy_id, None),
            (row.symbol, None),
            (row.side.value, None),
            (str(row.quantity), None),
            (f"{row.rule}: {row.reason}" if row.rule else row.reason, verdict if not row.accepted else None),
        )

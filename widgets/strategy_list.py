"""Strategies with their on/off state; space or Enter toggles the one under the cursor."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from textual.binding import BindingType

from viewmodels.keys import Scope
from viewmodels.rows import StrategyRow
from widgets.bindings import bindings
from widgets.format import money
from widgets.messages import StrategyToggleRequested
from widgets.row_table import Cell, Column, RowTable


class StrategyList(RowTable[StrategyRow]):
    COLUMNS = (
        Column("#", 1),
        Column("Strategy", 14),
        Column("State", 5),
        Column("Kind", 12, drop=3),
        Column("Signals", 7, right=True, drop=2),
        Column("P&L", 11, right=True),
        Column("Instruments", 8, flex=True, drop=1),
    )
    EMPTY_TEXT = "no strategies reported by the engine yet"
    BINDINGS: ClassVar[list[BindingType]] = list(bindings(Scope.STRATEGIES))
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "strategy-list--on",
        "strategy-list--off",
        "strategy-list--pending",
        "strategy-list--gain",
        "strategy-list--loss",
    }

    def row_key(self, row: StrategyRow) -> Hashable:
        return row.status.name

    def row_version(self, row: StrategyRow) -> int:
        return row.version

    def cells(self, row: StrategyRow) -> Sequence[Cell]:
        status = row.status
        if row.pending is not None:
            state = "→ON" if row.pending else "→OFF"
            state_style = self.get_component_rich_style("strategy-list--pending", partial=True)
        else:
            state = "ON" if status.enabled else "OFF"
            state_style = self.get_component_rich_style(
                "strategy-list--on" if status.enabled else "strategy-list--off", partial=True
            )
        pnl_style = self.get_component_rich_style(
            "strategy-list--gain" if row.pnl >= 0 else "strategy-list--loss", partial=True
        )
        return (
            (str(row.index) if row.index <= 9 else " ", None),
            (status.name, None),
            (state, state_style),
            (status.kind, None),
            (str(status.signals), None),
            (money(row.pnl, signed=True), pnl_style),
            (" ".join(row.symbols), None),
        )

    def action_toggle_selected(self) -> None:
        row = self.cursor_row
        if row is not None:
            enabled = row.pending if row.pending is not None else row.status.enabled
            self.post_message(StrategyToggleRequested(row.status.name, not enabled))

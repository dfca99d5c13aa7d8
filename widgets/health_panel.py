"""Every health check the engine ran, coloured by its status, with its message."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from engine.events import HealthCheckView
from widgets.row_table import Cell, Column, RowTable

MARKS = {"ok": "✓", "warn": "!", "fail": "✗", "skipped": "-"}


class HealthPanel(RowTable[HealthCheckView]):
    COLUMNS = (
        Column("", 1),
        Column("Check", 12),
        Column("Status", 7, drop=1),
        Column("Message", 8, flex=True),
    )
    EMPTY_TEXT = "no health checks reported yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "health-panel--ok",
        "health-panel--warn",
        "health-panel--fail",
        "health-panel--skipped",
    }

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._version = 0

    def show_checks(self, checks: Sequence[HealthCheckView], version: int) -> None:
        self._version = version
        self.set_rows(checks)

    def row_key(self, row: HealthCheckView) -> Hashable:
        return row.name

    def row_version(self, row: HealthCheckView) -> int:
        return self._version

    def cells(self, row: HealthCheckView) -> Sequence[Cell]:
        name = f"health-panel--{row.status}" if row.status in MARKS else "health-panel--warn"
        style = self.get_component_rich_style(name, partial=True)
        label = f"{row.name}*" if row.critical else row.name
        return (
            (MARKS.get(row.status, "?"), style),
            (label, None),
            (row.status.upper(), style),
            (row.message, None),
        )

"""The console's log of notable events (command results, rejections, dead letters), newest first."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from viewmodels.rows import LogLevel, LogLine
from widgets.format import ist_hms
from widgets.row_table import Cell, Column, RowTable

LEVEL_CLASSES = {
    LogLevel.INFO: "event-log--info",
    LogLevel.WARNING: "event-log--warning",
    LogLevel.ERROR: "event-log--error",
}


class EventLog(RowTable[LogLine]):
    COLUMNS = (
        Column("Time", 8, drop=1),
        Column("Event", 10, flex=True),
    )
    EMPTY_TEXT = "nothing notable yet"
    COMPONENT_CLASSES: ClassVar[set[str]] = set(LEVEL_CLASSES.values())

    def row_key(self, row: LogLine) -> Hashable:
        return row.seq

    def row_version(self, row: LogLine) -> int:
        return row.version

    def cells(self, row: LogLine) -> Sequence[Cell]:
        style = self.get_component_rich_style(LEVEL_CLASSES[row.level], partial=True)
        return ((ist_hms(row.ts), None), (row.text, style))

"""The event log pane's model: the latest lines, numbered."""

from __future__ import annotations

from collections import deque

from viewmodels.revision import Revised, changes
from viewmodels.rows import LogLevel, LogLine

MAX_LOG = 500


class LogPane(Revised):
    def __init__(self) -> None:
        super().__init__()
        self.lines: deque[LogLine] = deque(maxlen=MAX_LOG)
        self._seq = 0

    @changes
    def add(self, level: LogLevel, text: str, ts: float) -> None:
        self._seq += 1
        self.lines.append(LogLine(self._seq, ts, level, text))

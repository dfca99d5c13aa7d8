"""A replay report's summary: one row per strategy (its total first) and per instrument it traded.

Figures are formatted exactly as in the report's summary.csv, so what the
screen shows can be checked against the files it wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rich.text import Text
from textual.widgets import DataTable

from engine.research.report import ALL_INSTRUMENTS, Report
from engine.research.report_files import summary_cells

ReportRow = tuple[str, int]  # (strategy_id, instrument_token); ALL_INSTRUMENTS for a strategy's total

COLUMNS: tuple[tuple[str, bool], ...] = (  # (title, right-aligned)
    ("Strategy", False),
    ("Symbol", False),
    ("Trades", True),
    ("Gross", True),
    ("Charges", True),
    ("Net P&L", True),
    ("Win %", True),
    ("Max DD", True),
    ("DD %", True),
    ("Exposure %", True),
    ("Sharpe", True),
)


def row_key(strategy_id: str, instrument_token: int) -> str:
    return f"{strategy_id}/{instrument_token}"


class ReportSummary(DataTable[Text]):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "report-summary--total",
        "report-summary--gain",
        "report-summary--loss",
    }

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._rows: dict[str, ReportRow] = {}

    def on_mount(self) -> None:
        for title, right in COLUMNS:
            self.add_column(Text(title, justify="right" if right else "left"), key=title)

    def show_report(self, report: Report, symbols: Mapping[int, str]) -> None:
        self.clear()
        self._rows.clear()
        net_column = 5
        for summary in report.summaries:
            texts = summary_cells(summary, symbols)
            is_total = summary.instrument_token == ALL_INSTRUMENTS
            base = self.get_component_rich_style("report-summary--total", partial=True) if is_total else None
            cells: list[Text] = []
            for n, (text, (_, right)) in enumerate(zip(texts, COLUMNS, strict=True)):
                cell = Text(text, style=base or "", justify="right" if right else "left")
                if n == net_column and summary.net_pnl != 0:
                    name = "report-summary--gain" if summary.net_pnl > 0 else "report-summary--loss"
                    cell.stylize(self.get_component_rich_style(name, partial=True))
                cells.append(cell)
            key = row_key(summary.strategy_id, summary.instrument_token)
            self._rows[key] = (summary.strategy_id, summary.instrument_token)
            self.add_row(*cells, key=key)

    def cell_texts(self) -> list[list[str]]:
        """Every row's cells as plain text, in display order."""
        return [[cell.plain for cell in self.get_row_at(index)] for index in range(self.row_count)]

    def report_row(self, key: str | None) -> ReportRow | None:
        return self._rows.get(key) if key is not None else None

    @property
    def selected(self) -> ReportRow | None:
        """The (strategy, instrument) under the cursor."""
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.report_row(key)

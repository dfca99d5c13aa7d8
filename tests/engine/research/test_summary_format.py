"""One summary formatter: summary.csv, the terminal table and the replay screen show the same figures."""

from __future__ import annotations

from engine.events import Side
from engine.research.report import ALL_INSTRUMENTS, EquityPoint, build_report
from engine.research.report_files import summary_cells, summary_csv, summary_table
from tests.engine.research.test_report import INFY, RELIANCE, C, fill

SYMBOLS = {RELIANCE: "RELIANCE", INFY: "INFY"}


def test_summary_cells_show_the_csv_figures_with_trades_and_open_trades_in_one_column() -> None:
    fills = [
        fill(1, Side.BUY, 10, 100.0, 60.0, charges=1.25, token=RELIANCE),
        fill(2, Side.SELL, 10, 104.5, 120.0, charges=1.25, token=RELIANCE),
        fill(3, Side.BUY, 5, 200.0, 60.0, charges=1.0, token=INFY),  # left open
    ]
    moves = ((0.0, 0.0), (60.0, -3.0), (120.0, 40.0))
    equity = [EquityPoint(t, "s", ALL_INSTRUMENTS, C + d) for t, d in moves]
    report = build_report(fills, equity, starting_cash=C, interval_s=60.0)
    csv_rows = [line.split(",") for line in summary_csv(report, SYMBOLS).splitlines()[1:]]
    cells = [summary_cells(s, SYMBOLS) for s in report.summaries]
    assert len(cells) == len(csv_rows) == 3
    for csv_row, row in zip(csv_rows, cells, strict=True):
        strategy, _token, symbol, trades, open_trades, _fills, *figures = csv_row
        shown_trades = trades + (f"+{open_trades} open" if open_trades != "0" else "")
        assert row == [strategy, symbol, shown_trades, *figures]
    total = next(row for row in cells if row[1] == "ALL")
    assert total[2] == "1+1 open"
    assert total[3:6] == ["45.00", "3.50", "41.50"]  # gross, charges, net
    table = summary_table(report, SYMBOLS).splitlines()
    for row in cells:
        assert any(line.split() == " ".join(row).split() for line in table), row

"""A report as files: trades.csv, summary.csv, equity.csv and a self-contained report.html.

Every number is written with a fixed number of decimals and every time in
IST ISO-8601, so the same report always gives the same bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from engine.market.calendar import IST
from engine.research.charts import svg_chart, with_drawdown
from engine.research.report import ALL_INSTRUMENTS, Report, RoundTrip, Summary
from engine.research.text_table import text_table

TRADES_FILE = "trades.csv"
SUMMARY_FILE = "summary.csv"
EQUITY_FILE = "equity.csv"
HTML_FILE = "report.html"
HTML_MAX_TRADES = 2_000

TRADE_COLUMNS = (
    "strategy",
    "instrument_token",
    "symbol",
    "direction",
    "quantity",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "gross_pnl",
    "charges",
    "net_pnl",
    "status",
)
SUMMARY_COLUMNS = (
    "strategy",
    "instrument_token",
    "symbol",
    "trades",
    "open_trades",
    "fills",
    "gross_pnl",
    "charges",
    "net_pnl",
    "win_rate_pct",
    "max_drawdown",
    "max_drawdown_pct",
    "exposure_pct",
    "sharpe",
)
EQUITY_COLUMNS = ("time", "strategy", "instrument_token", "symbol", "equity", "drawdown")


def money(value: float) -> str:
    return f"{round(value, 2) + 0.0:.2f}"  # + 0.0 turns -0.0 into 0.0


def price(value: float) -> str:
    return f"{round(value, 4) + 0.0:.4f}"


def ratio(value: float) -> str:
    return f"{round(value, 4) + 0.0:.4f}"


def ist_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, IST).isoformat(timespec="milliseconds")


def symbol_of(token: int, symbols: Mapping[int, str]) -> str:
    if token == ALL_INSTRUMENTS:
        return "ALL"
    return symbols.get(token, str(token))


def trade_row(trip: RoundTrip, symbols: Mapping[int, str]) -> list[str]:
    return [
        trip.strategy_id,
        str(trip.instrument_token),
        symbol_of(trip.instrument_token, symbols),
        trip.direction,
        str(trip.quantity),
        ist_time(trip.entry_ts),
        price(trip.entry_price),
        ist_time(trip.exit_ts),
        price(trip.exit_price),
        money(trip.gross_pnl),
        money(trip.charges),
        money(trip.net_pnl),
        "open" if trip.is_open else "closed",
    ]


def summary_figures(row: Summary) -> list[str]:
    """The row's figures, as every summary (CSV, HTML, terminal, screen) shows them, from gross P&L on."""
    return [
        money(row.gross_pnl),
        money(row.charges),
        money(row.net_pnl),
        money(row.win_rate * 100.0),
        money(row.max_drawdown),
        money(row.max_drawdown_pct),
        money(row.exposure * 100.0),
        ratio(row.sharpe),
    ]


def summary_row(row: Summary, symbols: Mapping[int, str]) -> list[str]:
    """A summary.csv row, in SUMMARY_COLUMNS order."""
    return [
        row.strategy_id,
        str(row.instrument_token),
        symbol_of(row.instrument_token, symbols),
        str(row.trades),
        str(row.open_trades),
        str(row.fills),
        *summary_figures(row),
    ]


def summary_cells(row: Summary, symbols: Mapping[int, str]) -> list[str]:
    """A summary row as a person reads it (the terminal table, the replay screen): one trades column."""
    trades = str(row.trades) + (f"+{row.open_trades} open" if row.open_trades else "")
    return [row.strategy_id, symbol_of(row.instrument_token, symbols), trades, *summary_figures(row)]


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def trades_csv(report: Report, symbols: Mapping[int, str]) -> str:
    return _csv_text(TRADE_COLUMNS, [trade_row(t, symbols) for t in report.trips])


def summary_csv(report: Report, symbols: Mapping[int, str]) -> str:
    return _csv_text(SUMMARY_COLUMNS, [summary_row(s, symbols) for s in report.summaries])


def equity_csv(report: Report, symbols: Mapping[int, str]) -> str:
    rows: list[list[str]] = []
    series: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for point in report.equity:
        series.setdefault((point.strategy_id, point.instrument_token), []).append((point.ts, point.equity))
    for (strategy_id, token), curve in sorted(series.items()):
        for (ts, value), (_, fall) in zip(curve, with_drawdown(curve), strict=True):
            rows.append(
                [ist_time(ts), strategy_id, str(token), symbol_of(token, symbols), money(value), money(fall)]
            )
    return _csv_text(EQUITY_COLUMNS, rows)


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.neg { color: #b42318; } .pos { color: #067647; } .note { color: #666; font-size: 12px; }
"""

_LEFT_COLUMNS = frozenset({"strategy", "symbol", "direction", "status", "entry_time", "exit_time"})


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], signed: frozenset[str]) -> str:
    out = ["<table><tr>"]
    out.extend(f'<th class="{"l" if h in _LEFT_COLUMNS else ""}">{escape(h)}</th>' for h in header)
    out.append("</tr>")
    for row in rows:
        out.append("<tr>")
        for name, cell in zip(header, row, strict=True):
            classes = ["l"] if name in _LEFT_COLUMNS else []
            if name in signed and cell.startswith("-"):
                classes.append("neg")
            elif name in signed and cell not in ("0.00", "0.0000"):
                classes.append("pos")
            out.append(f'<td class="{" ".join(classes)}">{escape(cell)}</td>')
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def report_html(
    report: Report, symbols: Mapping[int, str], *, title: str, details: Sequence[tuple[str, str]] = ()
) -> str:
    """One HTML page with inline SVG charts and the tables; opens offline in any browser."""
    signed = frozenset({"gross_pnl", "net_pnl", "sharpe"})
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if details:
        parts.append("<table>")
        parts.extend(
            f'<tr><th class="l">{escape(k)}</th><td class="l">{escape(v)}</td></tr>' for k, v in details
        )
        parts.append("</table>")
    parts.append("<h2>Summary</h2>")
    parts.append(_table(SUMMARY_COLUMNS, [summary_row(s, symbols) for s in report.summaries], signed))
    parts.append(
        f'<p class="note">Sharpe: per-interval equity returns, interval {report.interval_s:g} s '
        "of feed time, "
        "annualised over 252 sessions of 375 minutes, risk-free 0. Exposure: share of the replayed span "
        "with an open position. Drawdown: fall of equity from its running peak.</p>"
    )
    for strategy_id in report.strategies:
        curve = report.curve(strategy_id)
        parts.append(f"<h2>{escape(strategy_id)}</h2>")
        parts.append(svg_chart(curve, f"{strategy_id}: equity (Rs)"))
        parts.append(
            svg_chart(
                with_drawdown(curve), f"{strategy_id}: drawdown (Rs below peak)", color="#b42318", fill=True
            )
        )
    parts.append("<h2>Trades</h2>")
    trips = report.trips[:HTML_MAX_TRADES]
    if len(report.trips) > HTML_MAX_TRADES:
        parts.append(
            f'<p class="note">first {HTML_MAX_TRADES} of {len(report.trips)} trades; '
            f"all are in {TRADES_FILE}</p>"
        )
    parts.append(_table(TRADE_COLUMNS, [trade_row(t, symbols) for t in trips], signed))
    parts.append("</body></html>\n")
    return "".join(parts)


def write_report(
    report: Report,
    out_dir: Path,
    symbols: Mapping[int, str],
    *,
    title: str,
    details: Sequence[tuple[str, str]] = (),
) -> list[Path]:
    """Write the four report files into `out_dir` (created); returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        TRADES_FILE: trades_csv(report, symbols),
        SUMMARY_FILE: summary_csv(report, symbols),
        EQUITY_FILE: equity_csv(report, symbols),
        HTML_FILE: report_html(report, symbols, title=title, details=details),
    }
    paths = []
    for name, text in files.items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------
# terminal
# --------------------------------------------------------------------------


def summary_table(report: Report, symbols: Mapping[int, str]) -> str:
    """The summary rows as an aligned text table (strategy totals first within each strategy)."""
    header = [
        "strategy",
        "symbol",
        "trades",
        "gross",
        "charges",
        "net P&L",
        "win %",
        "max DD",
        "DD %",
        "exposure %",
        "Sharpe",
    ]
    rows = [summary_cells(s, symbols) for s in report.summaries]
    return text_table(header, rows, left=frozenset({0, 1}))

"""`alpha-panda-tui replay FILE`: recorded ticks through the live pipeline, a report, or a sweep.

The lead's cli.py calls `add_replay_parser(subparsers)` when it builds the
parser and `run_replay_command(args, settings)` for the `replay` command.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.file_paths import not_a_file
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.tick_files import TickFileError
from engine.research.charts import terminal_charts
from engine.research.params_grid import ParamArgError, describe, is_sweep, parse_param_args
from engine.research.replay import DEFAULT_SAMPLE_INTERVAL_S, ReplayResult
from engine.research.report_files import ist_time, summary_table, write_report
from engine.research.selection import ReplaySetupError
from engine.research.session import ReplayJob, ResearchOptions, default_report_dir, run_job
from engine.research.sweep import format_ranking, run_sweep, sweep_csv
from engine.settings import FillPrice, Settings
from engine.strategies.errors import StrategyConfigError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
SWEEP_FILE = "sweep.csv"


def add_replay_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `replay` sub-command to an argparse subparsers object; returns its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="replay recorded ticks through the pipeline, as fast as possible, with a report",
        description=(
            "Replay a tick file (CSV or Parquet, see docs/tick-format.md) through the same strategy, "
            "risk, paper-execution and portfolio code as live trading, on tick time, and report. "
            "A --param with comma-separated values runs a parameter sweep."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="tick file (.csv, .parquet)")
    parser.add_argument(
        "--strategy",
        metavar="NAME_OR_KIND",
        help="a strategy name from the strategies file, or a kind (then it trades every instrument); "
        "default: every enabled strategy of the file",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="K=V[,V...]",
        help="override a strategy param; several values (fast=5,10,20) make a sweep over the grid",
    )
    parser.add_argument(
        "--from", dest="start", metavar="ISO", help="skip ticks before this time (IST if no offset)"
    )
    parser.add_argument(
        "--to", dest="end", metavar="ISO", help="skip ticks at or after this time (IST if no offset)"
    )
    parser.add_argument("--no-slippage", action="store_true", help="fill without slippage")
    parser.add_argument("--no-charges", action="store_true", help="fill without brokerage, taxes and fees")
    parser.add_argument(
        "--fill",
        choices=[f.value for f in FillPrice],
        default=None,
        help="market orders fill on the next tick (live-like, default) or at the signal tick's price",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="report folder")
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="sweep processes (default: CPU count)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_SAMPLE_INTERVAL_S,
        metavar="SECONDS",
        help="equity sampling interval in feed time, also the Sharpe interval (default 60)",
    )
    parser.add_argument("--no-charts", action="store_true", help="do not print the terminal charts")
    parser.add_argument(
        "--tui", action="store_true", help="run it in the console: panes as it goes, then the report"
    )
    return parser


def parse_time(text: str, option: str) -> float:
    """ISO-8601 date or date-time to epoch seconds; no offset means IST."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReplaySetupError(
            f"{option} {text!r} is not an ISO date or date-time (e.g. 2026-11-23T09:30 or 2026-11-23)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return moment.timestamp()


def run_replay_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run `replay` as parsed by add_replay_parser; prints errors as one clear line."""
    try:
        return _run(args, settings)
    except (ParamArgError, ReplaySetupError, StrategyConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except TickFileError as exc:
        print(f"error: cannot read the tick file: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(args: argparse.Namespace, settings: Settings) -> int:
    path: Path = args.file
    problem = not_a_file(path)
    if problem is not None:
        raise ReplaySetupError(f"tick file {str(path)!r} {problem}")
    if args.interval <= 0:
        raise ReplaySetupError(f"--interval must be positive, got {args.interval}")
    if args.workers is not None and args.workers < 1:
        raise ReplaySetupError(f"--workers must be at least 1, got {args.workers}")
    grid = parse_param_args(args.param)
    start = parse_time(args.start, "--from") if args.start else None
    end = parse_time(args.end, "--to") if args.end else None
    if start is not None and end is not None and end <= start:
        raise ReplaySetupError("--to must be later than --from")
    options = ResearchOptions(
        slippage=not args.no_slippage,
        charges=not args.no_charges,
        fill_price=FillPrice(args.fill) if args.fill else None,
    )
    if args.tui:
        if is_sweep(grid):
            raise ReplaySetupError("--tui replays one parameter set; run sweeps without --tui")
        from alpha_panda_tui.screens.replay_app import run_replay_tui

        return run_replay_tui(
            path,
            settings,
            args.strategy,
            {name: values[0] for name, values in grid.items()},
            options=options,
            start=start,
            end=end,
            out_dir=args.out,
            sample_interval_s=args.interval,
        )
    research = options.apply(settings)
    job = ReplayJob(path=path, strategy=args.strategy, start=start, end=end, sample_interval_s=args.interval)
    if is_sweep(grid):
        return _sweep(research, job, grid, args, options.describe(settings))
    params = {name: values[0] for name, values in grid.items()}
    return _single(research, dataclasses.replace(job, params=params), args, options.describe(settings))


def _single(settings: Settings, job: ReplayJob, args: argparse.Namespace, switches: str) -> int:
    instruments = InstrumentRegistry.sample()
    began = time.perf_counter()
    result = run_job(settings, job, instruments)
    elapsed = time.perf_counter() - began
    if not result.ticks:
        print(f"no ticks to replay in {job.path} (check --from/--to)")
        return EXIT_FAILED
    report = result.report()
    symbols = {inst.instrument_token: inst.tradingsymbol for inst in instruments}
    out = args.out or default_report_dir(settings, job.path, job.strategy, job.params)
    details = _details(job, result, switches)
    write_report(report, out, symbols, title=f"Replay of {job.path.name}", details=details)
    for key, value in details:
        print(f"{key:12} {value}")
    print()
    print(summary_table(report, symbols))
    if not args.no_charts:
        for strategy_id in report.strategies:
            print()
            print(terminal_charts(report.curve(strategy_id), strategy_id, color=_colour_wanted()))
    print()
    if result.dead_letters:
        print(
            f"warning: {result.dead_letters} events failed in a handler and were dead-lettered; see the log"
        )
    rate = result.ticks / elapsed if elapsed > 0 else 0.0
    print(f"replayed {result.ticks:,} ticks in {elapsed:.2f} s ({rate:,.0f} ticks/s)")
    print(f"report: {out} (trades.csv, summary.csv, equity.csv, report.html)")
    return EXIT_OK


def _colour_wanted() -> bool:
    """Colour only for a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _details(job: ReplayJob, result: ReplayResult, switches: str) -> list[tuple[str, str]]:
    rejected = ", ".join(f"{rule} {n}" for rule, n in result.rejections_by_rule().items()) or "none"
    return [
        ("file", str(job.path)),
        ("ticks", f"{result.ticks:,} from {ist_time(result.first_ts)} to {ist_time(result.last_ts)}"),
        ("strategies", ", ".join(result.strategies)),
        ("params", describe(job.params)),
        ("research", switches),
        (
            "pipeline",
            f"{len(result.signals)} signals, {len(result.rejections)} rejected ({rejected}), "
            f"{len(result.failures)} orders failed, {len(result.fills)} fills",
        ),
        ("interval", f"{result.sample_interval_s:g} s of feed time (equity samples, Sharpe)"),
    ]


def _sweep(
    settings: Settings,
    job: ReplayJob,
    grid: dict[str, list[str]],
    args: argparse.Namespace,
    switches: str,
) -> int:
    workers = args.workers or os.cpu_count() or 1
    began = time.perf_counter()
    outcome = run_sweep(settings, job, grid, workers=workers)
    elapsed = time.perf_counter() - began
    out: Path = args.out or default_report_dir(settings, job.path, job.strategy, sweep=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / SWEEP_FILE).write_text(sweep_csv(outcome), encoding="utf-8", newline="")
    print(f"sweep of {job.strategy} on {job.path} ({switches})")
    print(format_ranking(outcome))
    print()
    print(f"{len(outcome.runs)} runs in {elapsed:.2f} s on {workers} workers; ranking: {out / SWEEP_FILE}")
    return EXIT_OK if outcome.runs else EXIT_FAILED

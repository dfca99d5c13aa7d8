"""Parameter sweeps: every combination of `--param` values, replayed in parallel processes, ranked.

Each combination is an independent, deterministic replay (a fresh pipeline
in a worker process), so a sweep row equals a single replay with those
params. Combinations whose params are each valid but not together (e.g.
fast >= slow for a crossover) are skipped with the strategy's reason.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from engine.instruments import InstrumentRegistry
from engine.research.params_grid import describe, expand_grid
from engine.research.report import Summary
from engine.research.report_files import money, ratio
from engine.research.selection import (
    ReplaySetupError,
    build_choice,
    parse_strategy_params,
    resolve_strategy,
)
from engine.research.session import ReplayJob, run_job
from engine.research.text_table import text_table
from engine.settings import Settings
from engine.strategies.errors import StrategyParamError
from engine.strategies.loader import strategy_registry


@dataclass(frozen=True, slots=True)
class SweepRun:
    index: int  # position in the grid, the last tie-breaker of the ranking
    params: dict[str, str]
    summary: Summary  # the strategy's total row


@dataclass(frozen=True, slots=True)
class SkippedCombo:
    params: dict[str, str]
    reason: str


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    runs: list[SweepRun]  # ranked
    skipped: list[SkippedCombo]


def plan_sweep(
    settings: Settings,
    instruments: InstrumentRegistry,
    strategy: str,
    grid: Mapping[str, Sequence[str]],
) -> tuple[list[dict[str, str]], list[SkippedCombo]]:
    """The combinations to run and the ones skipped as invalid together.

    A value that is wrong on its own (unknown param, wrong type, out of
    range) is a usage error for the whole sweep: ReplaySetupError.
    """
    registry = strategy_registry(settings)
    choice = resolve_strategy(settings, instruments, strategy, registry)
    for name, values in grid.items():
        for value in values:
            parse_strategy_params(choice, {name: value}, registry)
    runnable: list[dict[str, str]] = []
    skipped: list[SkippedCombo] = []
    for combo in expand_grid(grid):
        params = parse_strategy_params(choice, combo, registry)
        try:
            build_choice(choice, params, instruments, registry)
        except StrategyParamError as exc:
            skipped.append(SkippedCombo(combo, str(exc)))
            continue
        runnable.append(combo)
    return runnable, skipped


def rank(runs: Sequence[SweepRun]) -> list[SweepRun]:
    """Best first: net P&L, then Sharpe (both descending), then grid order."""
    return sorted(runs, key=lambda r: (-round(r.summary.net_pnl, 2), -r.summary.sharpe, r.index))


def _run_combo(task: tuple[Settings, ReplayJob, int, dict[str, str]]) -> SweepRun:
    settings, job, index, combo = task
    result = run_job(settings, replace(job, params=combo))
    strategy_id = result.strategies[0]
    return SweepRun(index=index, params=combo, summary=result.report().summary(strategy_id))


def run_sweep(
    settings: Settings,
    job: ReplayJob,
    grid: Mapping[str, Sequence[str]],
    *,
    workers: int | None = None,
    instruments: InstrumentRegistry | None = None,
) -> SweepOutcome:
    """Replay every valid combination of `grid` for `job.strategy`, `workers` at a time."""
    if job.strategy is None:
        raise ReplaySetupError("a parameter sweep needs --strategy NAME_OR_KIND")
    known = instruments if instruments is not None else InstrumentRegistry.sample()
    combos, skipped = plan_sweep(settings, known, job.strategy, grid)
    tasks = [(settings, job, index, combo) for index, combo in enumerate(combos)]
    count = max(1, min(workers or os.cpu_count() or 1, len(tasks) or 1))
    if count == 1:
        runs = [_run_combo(task) for task in tasks]
    else:
        # spawn, not fork: a forked child could inherit locks held by the parent's threads
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            runs = list(pool.map(_run_combo, tasks))
    return SweepOutcome(runs=rank(runs), skipped=skipped)


RANKING_COLUMNS = (
    "rank",
    "params",
    "net_pnl",
    "gross_pnl",
    "charges",
    "sharpe",
    "max_drawdown",
    "max_drawdown_pct",
    "trades",
    "win_rate_pct",
)


def _ranking_rows(outcome: SweepOutcome) -> list[list[str]]:
    return [
        [
            str(position),
            describe(run.params),
            money(run.summary.net_pnl),
            money(run.summary.gross_pnl),
            money(run.summary.charges),
            ratio(run.summary.sharpe),
            money(run.summary.max_drawdown),
            money(run.summary.max_drawdown_pct),
            str(run.summary.trades),
            money(run.summary.win_rate * 100.0),
        ]
        for position, run in enumerate(outcome.runs, start=1)
    ]


def format_ranking(outcome: SweepOutcome) -> str:
    """The ranked table as text, then one note per skipped combination."""
    header = ["#", "params", "net P&L", "gross", "charges", "Sharpe", "max DD", "DD %", "trades", "win %"]
    rows = _ranking_rows(outcome)
    lines = [text_table(header, rows, left=frozenset({1}))]
    if not rows:
        lines.append("(no valid combination to run)")
    for skip in outcome.skipped:
        lines.append(f"skipped {describe(skip.params)}: {skip.reason}")
    return "\n".join(lines)


def sweep_csv(outcome: SweepOutcome) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(RANKING_COLUMNS)
    writer.writerows(_ranking_rows(outcome))
    return buffer.getvalue()

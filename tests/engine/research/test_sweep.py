"""Sweep grids: `--param` parsing, expansion, invalid combinations, ranking, and parallel runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.instruments import InstrumentRegistry
from engine.research.params_grid import ParamArgError, expand_grid, is_sweep, parse_param_args
from engine.research.report import ALL_INSTRUMENTS, Summary
from engine.research.selection import ReplaySetupError
from engine.research.session import ReplayJob, run_job
from engine.research.sweep import SweepOutcome, SweepRun, format_ranking, plan_sweep, rank, run_sweep
from engine.settings import load_settings
from tests.engine.research.helpers import simulated_session


def test_param_args_become_value_lists_in_the_order_given() -> None:
    grid = parse_param_args(["fast=5,10,20", "slow=30,50", "quantity = 3"])
    assert grid == {"fast": ["5", "10", "20"], "slow": ["30", "50"], "quantity": ["3"]}
    assert is_sweep(grid)
    assert not is_sweep(parse_param_args(["fast=5", "slow=30"]))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("fast", "expected NAME=VALUE"),
        ("=5", "expected NAME=VALUE"),
        ("fast=", "empty value"),
        ("fast=5,,10", "empty value"),
        ("fast=5,5", "listed twice"),
    ],
)
def test_malformed_param_args_are_explained(item: str, message: str) -> None:
    with pytest.raises(ParamArgError, match=message):
        parse_param_args([item])


def test_a_param_given_twice_is_refused() -> None:
    with pytest.raises(ParamArgError, match="given twice"):
        parse_param_args(["fast=5", "fast=10"])


def test_grid_expands_to_every_combination_last_param_fastest() -> None:
    assert expand_grid({"fast": ["5", "10"], "slow": ["30", "50"]}) == [
        {"fast": "5", "slow": "30"},
        {"fast": "5", "slow": "50"},
        {"fast": "10", "slow": "30"},
        {"fast": "10", "slow": "50"},
    ]
    assert expand_grid({}) == [{}]


def test_plan_skips_combinations_that_are_invalid_together_with_the_reason() -> None:
    runnable, skipped = plan_sweep(
        load_settings(),
        InstrumentRegistry.sample(),
        "ema_crossover",
        {"fast": ["5", "30"], "slow": ["20", "30"]},
    )
    assert runnable == [{"fast": "5", "slow": "20"}, {"fast": "5", "slow": "30"}]
    assert [s.params for s in skipped] == [{"fast": "30", "slow": "20"}, {"fast": "30", "slow": "30"}]
    assert "must be less than" in skipped[0].reason


def test_a_value_wrong_on_its_own_fails_the_whole_sweep() -> None:
    with pytest.raises(ReplaySetupError, match="'fast'"):
        plan_sweep(load_settings(), InstrumentRegistry.sample(), "ema_crossover", {"fast": ["5", "x"]})


def summary(net: float, sharpe: float) -> Summary:
    return Summary("s", ALL_INSTRUMENTS, 3, 0, 6, net + 1.0, 1.0, net, 0.5, 10.0, 0.001, 0.5, sharpe)


def test_ranking_is_by_net_pnl_then_sharpe_then_grid_order() -> None:
    runs = [
        SweepRun(0, {"fast": "1"}, summary(-5.0, 1.0)),
        SweepRun(1, {"fast": "2"}, summary(10.0, 0.5)),
        SweepRun(2, {"fast": "3"}, summary(10.0, 2.0)),
        SweepRun(3, {"fast": "4"}, summary(10.0, 2.0)),
    ]
    assert [r.index for r in rank(runs)] == [2, 3, 1, 0]
    text = format_ranking(SweepOutcome(runs=rank(runs), skipped=[]))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["#", "params", "net"]
    assert lines[1].split()[:3] == ["1", "fast=3", "10.00"]


def test_parallel_sweep_equals_single_replays_ranked(tmp_path: Path) -> None:
    path = simulated_session(tmp_path / "s.csv", rounds=600)
    settings = load_settings()
    job = ReplayJob(path=path, strategy="ema_crossover")
    grid = {"fast": ["3", "5", "40"], "slow": ["12", "30"]}
    outcome = run_sweep(settings, job, grid, workers=2)
    assert [s.params for s in outcome.skipped] == [{"fast": "40", "slow": "12"}, {"fast": "40", "slow": "30"}]
    assert len(outcome.runs) == 4
    nets = [r.summary.net_pnl for r in outcome.runs]
    assert nets == sorted(nets, reverse=True)
    for run in outcome.runs:
        single = run_job(settings, ReplayJob(path=path, strategy="ema_crossover", params=run.params))
        assert run.summary == single.report().summary("ema_crossover"), run.params
    assert any(r.summary.trades for r in outcome.runs), "the grid should trade on this session"

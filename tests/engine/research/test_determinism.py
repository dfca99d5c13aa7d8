"""Same file and settings: byte-identical report files and identical orders, run after run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alpha_panda_tui.replay_cli import add_replay_parser, run_replay_command
from engine.research.report_files import EQUITY_FILE, HTML_FILE, SUMMARY_FILE, TRADES_FILE
from engine.research.session import ReplayJob, ResearchOptions, run_job
from engine.settings import FillPrice, load_settings
from tests.engine.research.helpers import simulated_session


def replay_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_replay_parser(parser.add_subparsers(dest="command"))
    return run_replay_command(parser.parse_args(["replay", *argv]), load_settings())


@pytest.fixture(scope="module")
def session_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_session(tmp_path_factory.mktemp("ticks") / "session.csv", rounds=1500)


def test_two_runs_write_identical_report_files(session_file: Path, tmp_path: Path) -> None:
    args = ["--strategy", "ema_crossover", "--param", "fast=5", "--param", "slow=20", "--no-charts"]
    assert replay_cli(str(session_file), *args, "--out", str(tmp_path / "a")) == 0
    assert replay_cli(str(session_file), *args, "--out", str(tmp_path / "b")) == 0
    trades = (tmp_path / "a" / TRADES_FILE).read_bytes()
    assert trades.count(b"\n") > 20, "the run should trade, or there is nothing to compare"
    for name in (TRADES_FILE, SUMMARY_FILE, EQUITY_FILE, HTML_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@pytest.mark.parametrize("fill_price", [FillPrice.NEXT_TICK, FillPrice.SIGNAL_TICK])
def test_two_runs_place_the_same_orders_with_the_same_ids(session_file: Path, fill_price: FillPrice) -> None:
    settings = ResearchOptions(fill_price=fill_price).apply(load_settings())
    job = ReplayJob(path=session_file, strategy="ema_5_20")
    first, second = run_job(settings, job), run_job(settings, job)
    assert first.fills, "the shipped ema_5_20 should trade on this session"
    assert first.fills == second.fills  # order ids, trade ids, prices, charges, times
    assert first.signals == second.signals
    assert first.equity == second.equity
    assert first.fills[0].order_id.startswith("P-")

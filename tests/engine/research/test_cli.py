"""`alpha-panda-tui replay`: clear errors for bad input, the report folder, research switches."""

from __future__ import annotations

import argparse
import csv
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
    return simulated_session(tmp_path_factory.mktemp("ticks") / "cli.csv", rounds=400)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "ema_crosover"], "unknown strategy 'ema_crosover'. Did you mean 'ema_crossover'?"),
        (["--strategy", "ema_crossover", "--param", "fast"], "--param 'fast': expected NAME=VALUE"),
        (["--strategy", "ema_crossover", "--param", "fast=abc"], "param 'fast' must be an int"),
        (["--strategy", "ema_crossover", "--param", "nope=1"], "unknown param 'nope'"),
        (["--strategy", "ema_crossover", "--param", "fast=30", "--param", "slow=20"], "must be less than"),
        (["--param", "fast=5"], "--param needs --strategy"),
        (["--from", "yesterday"], "--from 'yesterday' is not an ISO date"),
        (["--from", "2026-11-23T10:00", "--to", "2026-11-23T09:00"], "--to must be later than --from"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    session_file: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert replay_cli(str(session_file), *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_cli(str(tmp_path / "nope.csv")) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_a_broken_file_names_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,instrument_token,last_price,last_quantity\n1795402800,738561,abc,1\n")
    assert replay_cli(str(path), "--strategy", "ema_crossover") == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "last_price" in err


def test_default_report_folder_is_derived_from_file_and_strategy(
    session_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert replay_cli(str(session_file), "--strategy", "ema_5_20", "--param", "fast=3") == 0
    out = load_settings().data_dir / "reports" / "cli-ema_5_20-fast=3"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [TRADES_FILE, SUMMARY_FILE, EQUITY_FILE, HTML_FILE]
    )
    printed = capsys.readouterr().out
    assert "ema_5_20: equity (Rs)" in printed  # the terminal chart
    assert str(out) in printed


def read_total(out: Path) -> dict[str, str]:
    with (out / SUMMARY_FILE).open() as fh:
        return next(row for row in csv.DictReader(fh) if row["symbol"] == "ALL")


def test_no_charges_and_no_slippage_switches(session_file: Path, tmp_path: Path) -> None:
    base = [str(session_file), "--strategy", "ema_crossover", "--no-charts"]
    assert replay_cli(*base, "--out", str(tmp_path / "live-like")) == 0
    assert replay_cli(*base, "--no-charges", "--no-slippage", "--out", str(tmp_path / "frictionless")) == 0
    live_like, frictionless = read_total(tmp_path / "live-like"), read_total(tmp_path / "frictionless")
    assert float(live_like["charges"]) > 0
    assert float(frictionless["charges"]) == 0
    assert float(frictionless["net_pnl"]) > float(live_like["net_pnl"])


def test_signal_tick_fills_at_the_signal_price(
    session_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ResearchOptions(slippage=False, fill_price=FillPrice.SIGNAL_TICK).apply(load_settings())
    result = run_job(settings, ReplayJob(path=session_file, strategy="ema_crossover"))
    assert result.fills
    signalled = {(s.instrument_token, s.signal_ts): s.reference_price for s in result.signals}
    for fill in result.fills:
        assert signalled[(fill.instrument_token, fill.fill_ts)] == fill.price

    args = ["--strategy", "ema_crossover", "--fill", "signal_tick", "--no-slippage", "--no-charts"]
    assert replay_cli(str(session_file), *args) == 0
    assert "slippage 0 bps, charges on, fill at signal_tick" in capsys.readouterr().out


def test_a_sweep_prints_a_ranked_table_and_writes_it(
    session_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    args = ["--strategy", "ema_crossover", "--param", "fast=3,5,25", "--param", "slow=20", "--workers", "1"]
    assert replay_cli(str(session_file), *args, "--out", str(out)) == 0
    printed = capsys.readouterr().out
    assert "skipped fast=25 slow=20: param 'fast' (25) must be less than param 'slow' (20)" in printed
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert float(rows[0]["net_pnl"]) >= float(rows[1]["net_pnl"])

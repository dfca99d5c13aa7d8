"""The live opt-in through the real CLI: every missing part is refused with one clear message and
exit 2 before anything starts; a strategy routed to zerodha is refused, never silently skipped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_OK

pytestmark = pytest.mark.slow

LIVE_WITHOUT_ZERODHA = {
    "config file": ("[zerodha]\nlive_orders = true\n", {}),
    "environment": (None, {"ALPHA_PANDA_ZERODHA__LIVE_ORDERS": "1"}),
}

ZERODHA_STRATEGY = """
[[strategy]]
name = "paper_one"
kind = "sma_crossover"
instruments = ["RELIANCE"]

[[strategy]]
name = "real_money"
kind = "rsi"
instruments = ["TCS"]
namespaces = ["paper", "zerodha"]
"""


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def _nothing_started(isolated_dirs: Path) -> bool:
    return not (isolated_dirs / "data" / "alpha_panda.db").exists()


@pytest.mark.parametrize("case", list(LIVE_WITHOUT_ZERODHA))
def test_live_orders_without_zerodha_enabled_is_refused(isolated_dirs: Path, case: str) -> None:
    toml, env = LIVE_WITHOUT_ZERODHA[case]
    if toml is not None:
        (isolated_dirs / "config" / "config.toml").write_text(toml, encoding="utf-8")
    result = _run("launch", "--headless", "--duration", "1", env=env)
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert result.stderr.startswith("Invalid configuration"), result.stderr
    assert "live_orders = true needs enabled = true" in result.stderr
    assert "Traceback" not in result.stderr
    assert _nothing_started(isolated_dirs)


def test_launch_live_without_the_setting_is_refused(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        '[zerodha]\nenabled = true\napi_key = "k"\n', encoding="utf-8"
    )
    result = _run("launch", "--headless", "--live", "--duration", "1", env={})
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert "`launch --live` needs zerodha.live_orders = true" in result.stderr
    assert "Traceback" not in result.stderr and "LIVE" not in result.stdout
    assert _nothing_started(isolated_dirs)


@pytest.mark.parametrize("setting", ["", "live_orders = true\n"])
def test_a_strategy_routed_to_zerodha_without_launch_live_is_refused_not_skipped(
    isolated_dirs: Path, setting: str
) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        f'[zerodha]\nenabled = true\napi_key = "k"\n{setting}', encoding="utf-8"
    )
    strategies = isolated_dirs / "config" / "strategies.toml"
    strategies.write_text(ZERODHA_STRATEGY, encoding="utf-8")
    result = _run("launch", "--headless", "--duration", "1", env={})
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith("Invalid strategies configuration"), result.stderr
    assert str(strategies) in result.stderr
    assert "strategy 'real_money'" in result.stderr and "field 'namespaces'" in result.stderr
    assert "the engine was not launched with --live" in result.stderr
    assert ("zerodha.live_orders is not true" in result.stderr) is (not setting)
    assert "Traceback" not in result.stderr


def test_live_orders_setting_with_zerodha_enabled_is_accepted(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        "[zerodha]\nenabled = true\nlive_orders = true\n", encoding="utf-8"
    )
    result = _run("doctor", env={})
    assert "live_orders" not in result.stderr
    assert not result.stderr.startswith("Invalid configuration"), result.stderr


def test_audit_without_a_database_says_so(isolated_dirs: Path) -> None:
    result = _run("audit", env={})
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.strip() == "no audit entries: no database yet (no engine has run with this data dir)"

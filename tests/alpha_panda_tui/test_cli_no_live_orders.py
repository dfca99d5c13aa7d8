"""Nothing in this version can reach a broker, so nothing may claim or ask for live orders.

Through the real CLI: `zerodha.live_orders` (file or environment) and a strategy routed to `zerodha`
are refused with one clear message and exit 2 before anything starts; never silently skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpha_panda_tui.exit_codes import EXIT_CONFIG

pytestmark = pytest.mark.slow

COMMANDS = [["doctor"], ["launch", "--headless", "--duration", "1"], ["status"]]

LIVE_ORDERS = {
    "config file": ("[zerodha]\nenabled = true\nlive_orders = true\n", {}),
    "environment": (None, {"ALPHA_PANDA_ZERODHA__ENABLED": "true", "ALPHA_PANDA_ZERODHA__LIVE_ORDERS": "1"}),
    "without enabled": ("[zerodha]\nlive_orders = true\n", {}),
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


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(LIVE_ORDERS))
def test_live_orders_setting_is_refused(isolated_dirs: Path, case: str, command: list[str]) -> None:
    toml, env = LIVE_ORDERS[case]
    if toml is not None:
        (isolated_dirs / "config" / "config.toml").write_text(toml, encoding="utf-8")
    result = _run(*command, env=env)
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert result.stderr.startswith("Invalid configuration"), result.stderr
    assert "zerodha.live_orders" in result.stderr
    assert "live orders are not available in this version" in result.stderr
    assert "Traceback" not in result.stderr
    assert "LIVE" not in result.stdout
    assert not (isolated_dirs / "data" / "alpha_panda.db").exists(), "something started"


def test_live_orders_false_is_accepted(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        "[zerodha]\nenabled = true\nlive_orders = false\n", encoding="utf-8"
    )
    result = _run("doctor", env={})
    assert "live_orders" not in result.stderr
    assert not result.stderr.startswith("Invalid configuration"), result.stderr


def test_strategy_routed_to_zerodha_is_refused_not_skipped(isolated_dirs: Path) -> None:
    strategies = isolated_dirs / "config" / "strategies.toml"
    strategies.write_text(ZERODHA_STRATEGY, encoding="utf-8")
    result = _run("launch", "--headless", "--duration", "1", env={})
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith("Invalid strategies configuration"), result.stderr
    assert str(strategies) in result.stderr
    assert "strategy 'real_money'" in result.stderr
    assert "field 'namespaces'" in result.stderr
    assert "live orders are not available in this version" in result.stderr
    assert "Traceback" not in result.stderr

"""Bad configuration through the real CLI: one message, exit 2, no traceback, no secret echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpha_panda_tui.exit_codes import EXIT_CONFIG

pytestmark = pytest.mark.slow

CASES = {
    "unclosed table": ("[risk\n", {}),
    "duplicate key": ("[risk]\nmax_quantity = 1\nmax_quantity = 2\n", {}),
    "non-JSON list env var": (None, {"ALPHA_PANDA_FEED__SYMBOLS": "json"}),
    "unknown database scheme": (None, {"ALPHA_PANDA_DATABASE__URL": "nonsense://x"}),
    "unknown symbol": ('[feed]\nsymbols = ["NOSUCH"]\n', {}),
    "numeric session start": ("[feed]\nsession_start = 0\n", {}),
    "misspelt secret": (None, {"ALPHA_PANDA_ZERODHA__API_SECRETT": "supersecret123"}),
    "misspelt section in an env var": (None, {"ALPHA_PANDA_RISKK__X": "supersecret123"}),
}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("command", [["doctor"], ["launch", "--headless", "--duration", "1"], ["status"]])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_one_message_and_exit_2(isolated_dirs: Path, case: str, command: list[str]) -> None:
    toml, env = CASES[case]
    if toml is not None:
        (isolated_dirs / "config" / "config.toml").write_text(toml, encoding="utf-8")
    result = _run(*command, env=env)
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert result.stderr.startswith("Invalid configuration"), result.stderr
    assert "Traceback" not in result.stderr
    assert "supersecret123" not in result.stdout + result.stderr
    assert "all critical checks passed" not in result.stdout
    assert not (isolated_dirs / "data" / "alpha_panda.db").exists(), "something started"


@pytest.mark.parametrize("command", [["doctor"], ["launch", "--headless", "--duration", "1"]])
def test_a_dotenv_line_that_cannot_be_parsed_is_exit_2_not_a_silently_missing_secret(
    isolated_dirs: Path, command: list[str]
) -> None:
    (isolated_dirs / ".env").write_text('ALPHA_PANDA_ZERODHA__API_SECRET="supersecret123\n', encoding="utf-8")
    result = _run(*command, env={})
    assert result.returncode == EXIT_CONFIG, result.stdout + result.stderr
    assert result.stderr.startswith(f"Invalid configuration: {isolated_dirs / '.env'} line 1"), result.stderr
    assert "Traceback" not in result.stderr and "python-dotenv" not in result.stderr
    assert "supersecret123" not in result.stdout + result.stderr
    assert not (isolated_dirs / "data" / "alpha_panda.db").exists(), "something started"


def test_doctor_warns_about_a_readable_config_holding_secrets(isolated_dirs: Path) -> None:
    config = isolated_dirs / "config" / "config.toml"
    config.write_text('[zerodha]\napi_key = "k3y-value"\napi_secret = "supersecret123"\n', encoding="utf-8")
    config.chmod(0o644)
    result = _run("doctor", env={})
    warning = [line for line in result.stdout.splitlines() if line.startswith("[warn] secret files")]
    assert warning and f"chmod 600 {config}" in warning[0], result.stdout
    assert "supersecret123" not in result.stdout + result.stderr
    config.chmod(0o600)
    result = _run("doctor", env={})
    assert "[ok  ] secret files" in result.stdout


BAD_ORDER_SETTINGS = """
[[strategy]]
name = "delivery"
kind = "sma_crossover"
instruments = ["RELIANCE"]
product = "CNC"
order_type = "LIMIT"
limit_offset_ticks = 1.5
"""


def test_a_bad_order_setting_names_the_file_strategy_and_field_and_exits_2(isolated_dirs: Path) -> None:
    strategies = isolated_dirs / "config" / "strategies.toml"
    strategies.write_text(BAD_ORDER_SETTINGS, encoding="utf-8")
    result = _run("launch", "--headless", "--duration", "1", env={})
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_CONFIG, output
    assert f"{strategies}: strategy 'delivery', field 'limit_offset_ticks'" in output
    assert "must be a whole number of ticks" in output and "got 1.5" in output
    assert "Traceback" not in output
    assert not (isolated_dirs / "data" / "alpha_panda.db").exists(), "something started"


def test_a_misspelt_environment_variable_is_named_with_a_suggestion(isolated_dirs: Path) -> None:
    result = _run("launch", "--headless", "--duration", "1", env={"ALPHA_PANDA_RISKK__X": "1"})
    assert result.returncode == EXIT_CONFIG
    assert result.stderr == (
        "Invalid configuration:\n"
        "  - ALPHA_PANDA_RISKK__X (in the environment): unknown setting (did you mean ALPHA_PANDA_RISK__X?)\n"
        "    fix: correct its name, or remove it: unset ALPHA_PANDA_RISKK__X\n"
    )


def test_a_folder_given_as_a_tick_file_is_called_a_folder(isolated_dirs: Path) -> None:
    replay = _run("replay", str(isolated_dirs), env={})
    assert replay.returncode == EXIT_CONFIG
    assert f"tick file {str(isolated_dirs)!r} is a folder, not a file" in replay.stderr
    launch = _run("launch", "--headless", "--duration", "1", "--replay", str(isolated_dirs), env={})
    assert launch.returncode == EXIT_CONFIG
    assert f"{isolated_dirs}: is a folder, not a file" in launch.stderr and "Traceback" not in launch.stderr

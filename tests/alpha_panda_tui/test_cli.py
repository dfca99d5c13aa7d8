from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alpha_panda_tui.cli import main


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_invalid_config_exits_2_with_one_clear_message() -> None:
    result = _run_cli("status", env={"ALPHA_PANDA_PAPER__SLIPPAGE_BPS": "lots"})
    assert result.returncode == 2
    assert "paper.slippage_bps" in result.stderr
    assert "ALPHA_PANDA_PAPER__SLIPPAGE_BPS" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_toml_config_names_the_field(isolated_dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated_dirs / "config" / "config.toml").write_text('[feed]\nsource = "carrier-pigeon"\n')
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "feed.source" in err and "carrier-pigeon" in err


def test_control_commands_without_an_engine_say_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["halt"]) == 1
    err = capsys.readouterr().err
    assert "no running engine" in err
    assert "launch --headless" in err

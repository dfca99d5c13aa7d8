"""`alpha-panda-tui stop`: the engine on this data dir stops as it does on SIGTERM, headless or with
its console; with no engine it says so and fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from alpha_panda_tui.exit_codes import EXIT_FAILED, EXIT_OK
from tests.alpha_panda_tui.test_console_process import run_in_terminal
from tests.alpha_panda_tui.test_host import _cli, _data_dir, headless  # noqa: F401 - a fixture

pytestmark = pytest.mark.slow


def test_stop_with_no_engine_says_so(isolated_dirs: Path) -> None:
    result = _cli("stop")
    assert result.returncode == EXIT_FAILED
    assert f"no running engine answers at {_data_dir() / 'control.sock'}" in result.stderr


def test_stop_ends_a_headless_engine(headless: subprocess.Popen[str]) -> None:  # noqa: F811
    result = _cli("stop", "--reason", "end of the day")
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.strip() == f"the engine (pid {headless.pid}) is stopping"
    assert headless.wait(30) == EXIT_OK
    log = (_data_dir() / "logs" / "engine.log").read_text(encoding="utf-8")
    assert "stop requested over the control socket: end of the day" in log
    assert "engine stopped" in log


def test_stop_ends_the_console_and_its_engine(isolated_dirs: Path) -> None:
    stopped: list[subprocess.CompletedProcess[str]] = []

    def stop(pid: int, fd: int) -> bool:
        stopped.append(_cli("stop"))
        return False

    code, _ = run_in_terminal(["launch"], stop, env={"ALPHA_PANDA_FEED__TICKS_PER_SECOND": "500"})
    assert stopped and stopped[0].returncode == EXIT_OK, stopped[0].stderr if stopped else "never stopped"
    assert code == EXIT_OK
    assert "engine stopped" in (_data_dir() / "logs" / "console.log").read_text(encoding="utf-8")

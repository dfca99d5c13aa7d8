"""`alpha-panda-tui stop` (or an attached console's stop): the engine on this data dir stops as it does
on SIGTERM, headless or with its console; with no engine it says so and fails."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from alpha_panda_tui.attach_link import LinkState
from alpha_panda_tui.exit_codes import EXIT_FAILED, EXIT_OK
from engine.events import CommandAction, EngineState, EngineStatus, EventType
from tests.alpha_panda_tui.test_console_process import run_in_terminal
from tests.alpha_panda_tui.test_host import _cli, _data_dir, headless  # noqa: F401 - a fixture
from tests.stream_harness import Console, until

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


async def test_a_console_attached_to_a_headless_engine_controls_it_and_sees_it_stop(
    headless: subprocess.Popen[str],  # noqa: F811
) -> None:
    path = _data_dir() / "control.sock"
    if len(str(path)) > 100:
        pytest.skip("the data dir's path is too long for a Unix socket here")
    console = Console(path, client="tester")
    async with console:
        hello, restarted = console.attaches[0]
        assert (hello.pid, hello.data_dir, hello.namespaces, restarted) == (
            headless.pid,
            str(_data_dir()),
            ("paper",),
            False,
        )
        await until(lambda: console.of_type(EventType.ENGINE_STATUS), "a status (once a second)")
        await console.command(CommandAction.HALT)
        await until(lambda: console.of_type(EventType.COMMAND_REPLY), "the halt's reply")
        await until(lambda: status_of(console).state is EngineState.HALTED, "the halted status")
        status = await asyncio.to_thread(_cli, "status")
        assert "consoles   1 attached: tester\n" in status.stdout, status.stdout + status.stderr
        await console.bus.stop_engine("end of the day")
        await until(lambda: console.bus.link.state is not LinkState.ATTACHED, "the link down")
        assert console.bus.link.detail == "the engine stopped; reconnecting"
        assert status_of(console).state is EngineState.STOPPED  # its last status came before the bye
        assert await asyncio.to_thread(headless.wait, 30) == EXIT_OK
    log = (_data_dir() / "logs" / "engine.log").read_text(encoding="utf-8")
    assert (
        "console 1 attached: tester" in log and "stop requested by console 1 (tester): end of the day" in log
    )


def status_of(console: Console) -> EngineStatus:
    status = console.of_type(EventType.ENGINE_STATUS)[-1].payload
    assert isinstance(status, EngineStatus)
    return status

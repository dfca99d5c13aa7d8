"""EngineHost as real processes: one engine per data dir (console included), private files, exit codes."""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alpha_panda_tui.control_client import EngineNotRunning, send
from alpha_panda_tui.exit_codes import EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_OK
from alpha_panda_tui.host import EngineHost, HostError
from engine.settings import load_settings
from tests.alpha_panda_tui.test_console_process import run_in_terminal

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "500", **extra}


def _cli(*args: str, umask: int | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(**env),
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def _data_dir() -> Path:
    return Path(os.environ["ALPHA_PANDA_DATA_DIR"])


def _start_headless() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )


def _wait_until_answering(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "the engine exited"
        try:
            if send(_data_dir() / "control.sock", {"op": "status"}).get("ok"):
                return
        except EngineNotRunning:
            pass
        time.sleep(0.1)
    raise AssertionError("the headless engine never answered on its control socket")


@pytest.fixture
def headless(isolated_dirs: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _start_headless()
    _wait_until_answering(proc)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _assert_refused(result: subprocess.CompletedProcess[str], pid: int) -> None:
    assert result.returncode == EXIT_ALREADY_RUNNING, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"an engine (pid {pid}) is already running on {_data_dir()}" in lines[0]
    assert "alpha-panda-tui status" in lines[0] and "ALPHA_PANDA_DATA_DIR" in lines[0]
    assert "`alpha-panda-tui attach`" in lines[0]
    assert "engine started" not in result.stderr and "Traceback" not in result.stderr


def _assert_still_controls(proc: subprocess.Popen[str], socket_inode: int) -> None:
    socket = _data_dir() / "control.sock"
    assert socket.stat().st_ino == socket_inode, "the running engine's control socket was replaced"
    reply = send(socket, {"op": "status"})
    assert reply["ok"] and reply["status"]["state"] == "running"
    assert proc.poll() is None


def test_a_second_headless_engine_is_refused_before_it_starts(headless: subprocess.Popen[str]) -> None:
    inode = (_data_dir() / "control.sock").stat().st_ino
    log_before = (_data_dir() / "logs" / "engine.log").read_text(encoding="utf-8")
    _assert_refused(_cli("launch", "--headless", "--duration", "5"), headless.pid)
    _assert_still_controls(headless, inode)
    log_after = (_data_dir() / "logs" / "engine.log").read_text(encoding="utf-8")
    assert log_after.count("engine started") == log_before.count("engine started") == 1


def test_the_console_is_refused_while_a_headless_engine_runs(headless: subprocess.Popen[str]) -> None:
    inode = (_data_dir() / "control.sock").stat().st_ino
    _assert_refused(_cli("launch", "--duration", "5"), headless.pid)
    _assert_still_controls(headless, inode)
    assert not (_data_dir() / "logs" / "console.log").exists(), "the refused console logged"
    os.kill(headless.pid, signal.SIGTERM)
    assert headless.wait(30) == EXIT_OK


def test_a_headless_engine_is_refused_while_the_console_runs(isolated_dirs: Path) -> None:
    refused: list[subprocess.CompletedProcess[str]] = []
    socket = _data_dir() / "control.sock"

    def second_engine(pid: int, fd: int) -> bool:
        try:
            inode = socket.stat().st_ino
            refused.append(_cli("launch", "--headless", "--duration", "5"))
            _assert_refused(refused[0], pid)
            assert socket.stat().st_ino == inode
            assert send(socket, {"op": "status"})["ok"], "the console's engine stopped answering"
        finally:
            os.kill(pid, signal.SIGTERM)  # the console quits whatever the checks found
        return False

    code, _ = run_in_terminal(["launch"], second_engine, env={"ALPHA_PANDA_FEED__TICKS_PER_SECOND": "500"})
    assert refused, "the second engine was never tried"
    assert code == EXIT_OK
    # the console is gone: its lock went with it
    assert _cli("launch", "--headless", "--duration", "1").returncode == EXIT_OK


def test_the_lock_is_released_on_exit_and_after_kill_9(isolated_dirs: Path) -> None:
    assert _cli("launch", "--headless", "--duration", "1").returncode == EXIT_OK
    proc = _start_headless()
    _wait_until_answering(proc)
    assert (_data_dir() / "engine.lock").read_text().strip() == str(proc.pid)
    proc.kill()  # SIGKILL: no clean-up at all
    proc.wait(10)
    result = _cli("launch", "--headless", "--duration", "1")
    assert result.returncode == EXIT_OK, result.stderr
    assert "already running" not in result.stderr


def test_files_are_private_whatever_the_umask(isolated_dirs: Path) -> None:
    data = _data_dir()
    data.chmod(0o755)  # as an older version (or umask 022) left it
    (data / "alpha_panda.db").touch(mode=0o644)
    (data / "alpha_panda.db").chmod(0o644)
    result = _cli("launch", "--headless", "--duration", "1.5", "--record", umask=0o022)
    assert result.returncode == EXIT_OK, result.stderr
    for folder in (data, data / "logs", data / "recordings"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [p for p in (*data.iterdir(), *(data / "logs").iterdir(), *(data / "recordings").iterdir())]
    names = {p.name for p in files}
    assert {"alpha_panda.db", "engine.lock", "engine.log"} <= names
    assert any(n.endswith(".csv") for n in names), "no recording was written"
    for path in files:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is {path.stat().st_mode:o}"
    recording = next((data / "recordings").iterdir())
    result = _cli("replay", str(recording), umask=0o022)
    assert result.returncode == EXIT_OK, result.stderr
    reports = [p for p in (data / "reports").rglob("*")]
    assert any(p.is_file() for p in reports), "the replay wrote no report"
    for path in reports:
        expected = 0o600 if path.is_file() else 0o700
        assert stat.S_IMODE(path.stat().st_mode) == expected, f"{path} is {path.stat().st_mode:o}"


def test_sqlite_wal_and_shm_are_private_while_the_engine_runs(isolated_dirs: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        preexec_fn=lambda: os.umask(0o022),
    )
    try:
        _wait_until_answering(proc)
        sidecars = [_data_dir() / f"alpha_panda.db-{s}" for s in ("wal", "shm")]
        assert all(p.exists() for p in sidecars), "SQLite runs in WAL mode"
        for path in sidecars:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        proc.terminate()
        proc.wait(30)


def test_status_into_a_closed_pipe_exits_without_a_traceback(headless: subprocess.Popen[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`head -2`) is gone before anything is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "alpha_panda_tui", "status"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=_env(),
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == EXIT_FAILED


def test_status_piped_to_head_prints_two_lines(headless: subprocess.Popen[str]) -> None:
    result = subprocess.run(
        f"'{sys.executable}' -m alpha_panda_tui status | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert result.stdout.splitlines()[0].startswith("engine     RUNNING")
    assert len(result.stdout.splitlines()) == 2
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_an_engine_that_cannot_start_says_why_and_releases_the_lock(isolated_dirs: Path) -> None:
    unreachable = "postgresql://nobody:hunter2secret@127.0.0.1:1/none"
    for args in (["launch", "--headless"], ["launch"]):
        result = _cli(*args, ALPHA_PANDA_DATABASE__URL=unreachable)
        assert result.returncode == EXIT_FAILED, result.stderr
        assert "cannot start the engine" in result.stderr
        assert "Traceback" not in result.stderr and "hunter2secret" not in result.stderr
    assert _cli("launch", "--headless", "--duration", "1").returncode == EXIT_OK


# -- exit codes from the engine's own report of an unclean stop (in process, a real engine) -----------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


async def _host_run(capsys: pytest.CaptureFixture[str], **engine_report: object) -> tuple[int, str]:
    host = EngineHost(load_settings(), log_file="engine.log", log_to_stderr=False)
    async with host:
        await host.start()
        for name, value in engine_report.items():
            setattr(host.engine, name, value)
    return host.exit_code, capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
async def test_a_clean_stop_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert await _host_run(capsys) == (EXIT_OK, "")


@pytest.mark.usefixtures("restore_logging")
async def test_a_fatal_engine_error_exits_1_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = await _host_run(capsys, fatal_error="ticks.csv line 812: bad price 'x'")
    assert code == EXIT_FAILED
    assert err.strip().splitlines() == [
        "alpha-panda-tui: the engine stopped on an error: ticks.csv line 812: bad price 'x'"
    ]
    log = (_data_dir() / "logs" / "engine.log").read_text(encoding="utf-8")
    assert "ticks.csv line 812" in log


@pytest.mark.usefixtures("restore_logging")
async def test_a_second_host_in_one_process_is_refused_too(capsys: pytest.CaptureFixture[str]) -> None:
    first = EngineHost(load_settings(), log_file="engine.log", log_to_stderr=False)
    async with first:
        second = EngineHost(load_settings(), log_file="engine.log", log_to_stderr=False)
        with pytest.raises(HostError) as refused:
            async with second:
                raise AssertionError("the second host entered")
        assert refused.value.exit_code == EXIT_ALREADY_RUNNING
        assert f"pid {os.getpid()}" in capsys.readouterr().err
    assert first.exit_code == EXIT_OK

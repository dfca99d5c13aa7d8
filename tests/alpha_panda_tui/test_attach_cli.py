"""`alpha-panda-tui attach`, `launch` next to a running engine, and `launch`'s detach, as real
processes on a real terminal (a pseudo-terminal)."""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
from collections.abc import Iterator

import pytest

from alpha_panda_tui.control_client import EngineNotRunning, send
from alpha_panda_tui.exit_codes import EXIT_ALREADY_RUNNING, EXIT_FAILED, EXIT_OK
from tests.alpha_panda_tui.attach_harness import ROOT, EngineProcess

pytestmark = pytest.mark.slow

WAIT_S = 30.0


class Terminal:
    """The CLI on a pseudo-terminal: read what it draws, type keys, close the terminal."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(ROOT)
            os.environ.clear()
            os.environ.update({**env, "TERM": "xterm-256color"})
            os.execv(sys.executable, [sys.executable, "-m", "alpha_panda_tui", *args])
        self.output = b""
        self.closed = False
        self.code: int | None = None

    def read_until(self, text: bytes, timeout: float = WAIT_S, *, after: int = 0) -> None:
        """Read until `text` shows (in what came after the first `after` bytes)."""
        deadline = time.monotonic() + timeout
        while text not in self.output[after:]:
            assert time.monotonic() < deadline, f"never saw {text!r}; got {self.output[-2000:]!r}"
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except OSError:
                    chunk = b""
                assert chunk, f"the terminal closed before {text!r}; got {self.output[-2000:]!r}"
                self.output += chunk

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def hang_up(self) -> None:
        os.close(self.fd)
        self.closed = True

    def running(self) -> bool:
        if self.code is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.code = os.waitstatus_to_exitcode(status)
        return False

    def wait(self, timeout: float = WAIT_S) -> int:
        deadline = time.monotonic() + timeout
        while self.running():
            if not self.closed:  # keep draining, or a full terminal buffer blocks the writer
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if ready:
                    try:
                        self.output += os.read(self.fd, 1 << 16)
                    except OSError:
                        pass
            else:
                time.sleep(0.05)
            assert time.monotonic() < deadline, "the process did not exit"
        assert self.code is not None
        return self.code

    def kill(self) -> None:
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            self.wait()
        if not self.closed:
            os.close(self.fd)


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    process = EngineProcess()
    try:
        yield process
    finally:
        process.close()


def _answers(engine: EngineProcess) -> bool:
    try:
        return bool(send(engine.socket, {"op": "status"}).get("ok"))
    except EngineNotRunning:
        return False


def test_attach_with_no_engine_says_how_to_start_one(engine: EngineProcess) -> None:
    result = engine.cli("attach")
    assert result.returncode == EXIT_FAILED
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"no running engine answers at {engine.socket}" in lines[0]
    assert "launch --headless" in lines[0]


def test_launch_off_a_terminal_next_to_a_running_engine_names_attach(engine: EngineProcess) -> None:
    engine.start()
    for args in (["launch", "--duration", "5"], ["launch", "--headless", "--duration", "5"]):
        result = engine.cli(*args)
        assert result.returncode == EXIT_ALREADY_RUNNING, result.stderr
        assert "`alpha-panda-tui attach`" in result.stderr and "already running" in result.stderr
    assert engine.running() and _answers(engine)


def test_launch_on_a_terminal_offers_to_attach_and_quitting_leaves_the_engine(engine: EngineProcess) -> None:
    engine.start()
    assert engine.proc is not None
    terminal = Terminal(["launch"], engine.env())
    try:
        terminal.read_until(b"Attach a console to it instead? [Y/n]")
        terminal.type(b"\r")
        terminal.read_until(f"ATTACHED pid {engine.proc.pid}".encode())
        terminal.type(b"q")
        assert terminal.wait() == EXIT_OK
        assert b"keeps running" in terminal.output
    finally:
        terminal.kill()
    assert engine.running() and _answers(engine)


def test_detaching_launch_keeps_the_engine_running_headless_until_it_is_stopped(
    engine: EngineProcess,
) -> None:
    terminal = Terminal(["launch"], engine.env())
    try:
        terminal.read_until(b"Alpha Panda")
        terminal.read_until(b"RUNNING")
        terminal.type(b"D")
        terminal.read_until(b"alpha-panda-tui attach")
        assert b"the engine keeps running in this process" in terminal.output
        terminal.hang_up()  # the SSH session goes away: the engine does not
        time.sleep(1.0)
        assert terminal.running()
        fills = engine.status().fills
        deadline = time.monotonic() + WAIT_S
        while engine.status().fills <= fills:
            assert time.monotonic() < deadline, "the detached engine stopped trading"
            time.sleep(0.2)
        os.kill(terminal.pid, signal.SIGTERM)
        assert terminal.wait() == EXIT_OK
    finally:
        terminal.kill()
    log = (engine.data_dir / "logs" / "console.log").read_text(encoding="utf-8")
    assert "console detached" in log and log.index("console detached") < log.index("engine stopped")


def test_attach_read_only_on_a_terminal_then_detach(engine: EngineProcess) -> None:
    engine.start()
    assert engine.proc is not None
    terminal = Terminal(["attach", "--read-only"], engine.env())
    try:
        terminal.read_until(f"ATTACHED pid {engine.proc.pid}".encode())
        terminal.read_until(b"READ-ONLY")
        terminal.type(b"!")
        terminal.read_until(b"read-only console")
        terminal.type(b"D")
        assert terminal.wait() == EXIT_OK
        assert b"keeps running" in terminal.output
    finally:
        terminal.kill()
    assert engine.running() and engine.status().state.value == "running"


def test_attach_over_kafka_needs_the_broker_named(engine: EngineProcess) -> None:
    result = engine.cli("attach", "--bus", "kafka")
    assert result.returncode == EXIT_FAILED
    assert "--bootstrap HOST:PORT" in result.stderr


def test_stop_in_launchs_console_asks_then_stops_its_engine(engine: EngineProcess) -> None:
    terminal = Terminal(["launch"], engine.env())
    try:
        terminal.read_until(b"RUNNING")
        terminal.type(b"X")
        terminal.read_until(b"STOP THE ENGINE")
        terminal.type(b"n")
        time.sleep(0.7)  # past the repeat guard of destructive keys
        assert terminal.running() and _answers(engine)
        mark = len(terminal.output)
        terminal.type(b"X")
        terminal.read_until(b"STOP THE ENGINE", after=mark)
        terminal.type(b"y")
        assert terminal.wait() == EXIT_OK
    finally:
        terminal.kill()
    log = (engine.data_dir / "logs" / "console.log").read_text(encoding="utf-8")
    assert "engine stopped" in log and "console detached" not in log

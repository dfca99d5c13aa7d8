"""`alpha-panda-tui launch` in a real terminal: it exits cleanly, engine stopped and flushed, on quit,
on SIGTERM, and when the terminal goes away (SSH session closed)."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GIVE_UP_S = 30.0
FIRST_FRAME = b"Alpha Panda"


def run_in_terminal(
    args: list[str],
    after_first_frame: Callable[[int, int], bool] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Run the CLI on a pseudo-terminal; `after_first_frame(pid, fd)` may act once the console shows.

    Returns the exit code and what the console wrote. `after_first_frame` returns True if it
    closed the terminal.
    """
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.environ["TERM"] = "xterm-256color"
        os.environ.update(env or {})
        os.execv(sys.executable, [sys.executable, "-m", "alpha_panda_tui", *args])
    output = b""
    acted = closed = False
    started = time.monotonic()
    while time.monotonic() - started < GIVE_UP_S:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        if after_first_frame is not None and not acted and FIRST_FRAME in output:
            acted = True
            closed = after_first_frame(pid, fd)
            if closed:
                break
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not closed:
        os.close(fd)
    assert FIRST_FRAME in output, "the console never drew its first frame"
    return os.waitstatus_to_exitcode(status), output


def console_log() -> str:
    return (Path(os.environ["ALPHA_PANDA_DATA_DIR"]) / "logs" / "console.log").read_text(encoding="utf-8")


def assert_stopped_cleanly() -> None:
    log = console_log()
    assert "engine started" in log
    assert log.index("engine stopped") < log.index("console closed")
    assert (Path(os.environ["ALPHA_PANDA_DATA_DIR"]) / "alpha_panda.db").exists()


def test_launch_runs_then_exits_cleanly() -> None:
    code, output = run_in_terminal(["launch", "--duration", "1.5"])
    assert code == 0
    assert_stopped_cleanly()
    assert palette_colours(output) - GREYS, "a 256-colour terminal gets colours, not only greys"


def test_no_color_draws_in_greys_only() -> None:
    code, output = run_in_terminal(["launch", "--duration", "1.5"], env={"NO_COLOR": "1"})
    assert code == 0
    assert_stopped_cleanly()
    used = palette_colours(output)
    assert used, "the console drew nothing"
    assert used <= GREYS, f"hues despite NO_COLOR: {sorted(used - GREYS)}"


GREYS = {0, 7, 8, 15, 16, 231, *range(232, 256)}  # black, white and the 256-colour grey ramp


def palette_colours(output: bytes) -> set[int]:
    """Every 256-colour palette index the console used (foreground and background)."""
    return {int(n) for n in re.findall(rb"[34]8;5;(\d+)", output)}


def test_sigterm_stops_the_engine_and_exits() -> None:
    def terminate(pid: int, fd: int) -> bool:
        os.kill(pid, signal.SIGTERM)
        return False

    assert run_in_terminal(["launch"], terminate)[0] == 0
    assert_stopped_cleanly()


def test_a_vanished_terminal_stops_the_engine_and_exits() -> None:
    def hang_up(pid: int, fd: int) -> bool:
        os.close(fd)  # the terminal is gone: the console gets SIGHUP
        return True

    assert run_in_terminal(["launch"], hang_up)[0] == 0
    assert_stopped_cleanly()

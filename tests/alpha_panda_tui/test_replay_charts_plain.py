"""`replay`'s terminal charts: plain text into a pipe or under NO_COLOR, colour only on a terminal,
and a time axis in the unit that fits a 20-second file (seconds, not a fraction of an hour)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.instruments import InstrumentRegistry
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import write_ticks

pytestmark = pytest.mark.slow

REGISTRY = InstrumentRegistry.sample()
ESC = "\x1b"


def _twenty_seconds(path: Path) -> Path:
    clock = ManualClock(SimulatedSessionClock().now())
    feed = SimulatedFeed(list(REGISTRY), clock=clock, seed=5)
    ticks = []
    for _ in range(20):
        clock.advance(1.0)
        ticks.extend(feed.next_batch(len(REGISTRY)))
    write_ticks(path, ticks, REGISTRY)
    return path


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env |= {"ALPHA_PANDA_DATA_DIR": str(root / "data"), "ALPHA_PANDA_CONFIG_DIR": str(root / "config")}
    return env | extra


def _replay_args(root: Path) -> list[str]:
    path = _twenty_seconds(root / "twenty.csv")
    return [sys.executable, "-m", "alpha_panda_tui", "replay", str(path), "--strategy", "ema_crossover"]


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run with stdout on a pseudo-terminal; everything it wrote there."""
    master, slave = pty.openpty()
    with subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, env=env) as proc:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=120)
    os.close(master)
    assert proc.returncode == 0
    return b"".join(chunks).decode(errors="replace")


def test_replay_into_a_pipe_prints_plain_charts_in_seconds(isolated_dirs: Path) -> None:
    result = subprocess.run(
        _replay_args(isolated_dirs), capture_output=True, text=True, timeout=120, env=_env(isolated_dirs)
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ema_crossover: equity (Rs)" in result.stdout
    assert ESC not in result.stdout
    axis = [line for line in result.stdout.splitlines() if line.strip().startswith("0s")]
    assert axis and "5s" in axis[0] and "15s" in axis[0], result.stdout
    assert "hours" not in result.stdout


def test_replay_on_a_terminal_has_colour_unless_no_color(isolated_dirs: Path) -> None:
    args = _replay_args(isolated_dirs)
    assert ESC in _on_a_terminal(args, _env(isolated_dirs))
    plain = _on_a_terminal(args, _env(isolated_dirs, NO_COLOR="1"))
    assert "ema_crossover: equity (Rs)" in plain and ESC not in plain

"""`launch --headless` as a real process, driven from "another terminal" over the control socket."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alpha_panda_tui.control_client import EngineNotRunning, send
from engine.events import Namespace
from engine.storage.database import Database
from engine.storage.repository import load_fills
from tests.strategy_configs import CHATTY_STRATEGIES_TOML as STRATEGIES_TOML

pytestmark = pytest.mark.slow


def _env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ALPHA_PANDA_DATA_DIR": str(root / "data"),
        "ALPHA_PANDA_CONFIG_DIR": str(root / "config"),
        "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "3000",
        "ALPHA_PANDA_FEED__SESSION_SPEED": "20",
        "ALPHA_PANDA_RISK__MAX_ORDERS_PER_MINUTE": "100000",
        "ALPHA_PANDA_STATUS_INTERVAL_S": "1",
    }


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(root),
    )


@pytest.fixture
def headless(isolated_dirs: Path) -> Iterator[subprocess.Popen[str]]:
    (isolated_dirs / "config" / "strategies.toml").write_text(STRATEGIES_TOML, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(isolated_dirs),
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def _wait_for_fills(
    socket: Path, proc: subprocess.Popen[str], minimum: int, timeout: float = 30
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "engine exited"
        try:
            reply = send(socket, {"op": "status"})
        except EngineNotRunning:
            time.sleep(0.2)
            continue
        status = reply["status"]
        assert isinstance(status, dict)
        if int(status["fills"]) >= minimum:
            return status
        time.sleep(0.2)
    raise AssertionError("the headless engine made no fills in time")


def test_second_terminal_controls_a_headless_engine_and_sigterm_loses_no_fill(
    isolated_dirs: Path, headless: subprocess.Popen[str]
) -> None:
    socket = isolated_dirs / "data" / "control.sock"
    _wait_for_fills(socket, headless, minimum=5)

    status = _cli(isolated_dirs, "status")
    assert status.returncode == 0, status.stderr
    assert "RUNNING" in status.stdout and "ticks/s" in status.stdout

    listing = _cli(isolated_dirs, "strategy", "list")
    assert re.search(r"momo\s+momentum\s+enabled", listing.stdout), listing.stdout

    disable = _cli(isolated_dirs, "strategy", "disable", "momo")
    assert disable.returncode == 0 and "strategy momo disabled" in disable.stdout
    assert re.search(r"momo\s+momentum\s+disabled", _cli(isolated_dirs, "strategy", "list").stdout)

    unknown = _cli(isolated_dirs, "strategy", "enable", "nope")
    assert unknown.returncode == 1 and "no strategy named 'nope'" in unknown.stdout

    halt = _cli(isolated_dirs, "halt", "--reason", "lunch")
    assert halt.returncode == 0, halt.stdout + halt.stderr
    assert "HALTED (lunch)" in _cli(isolated_dirs, "status").stdout
    assert _cli(isolated_dirs, "resume").returncode == 0
    assert "RUNNING" in _cli(isolated_dirs, "status").stdout

    _wait_for_fills(socket, headless, minimum=20)
    headless.send_signal(signal.SIGTERM)  # mid-run: ticks, orders and fills in flight
    output, _ = headless.communicate(timeout=30)
    assert headless.returncode == 0, output
    assert "strategy momo disabled by cli" in output  # what was done to the engine is in its log
    final = re.search(r"final: .*\| fills ([\d,]+) \|", output)
    assert final, output
    published = int(final.group(1).replace(",", ""))
    assert not socket.exists()

    async def stored() -> int:
        db = Database(f"sqlite:///{isolated_dirs / 'data' / 'alpha_panda.db'}")
        await db.connect()
        try:
            return len(await load_fills(db, Namespace.PAPER))
        finally:
            await db.close()

    assert asyncio.run(stored()) == published


def test_headless_replay_of_a_recorded_file_runs_to_the_end(isolated_dirs: Path) -> None:
    from engine.clock import ManualClock
    from engine.instruments import InstrumentRegistry
    from engine.market.session_clock import SimulatedSessionClock
    from engine.market.simulated import SimulatedFeed
    from engine.market.tick_files import write_ticks

    (isolated_dirs / "config" / "strategies.toml").write_text(STRATEGIES_TOML, encoding="utf-8")
    registry = InstrumentRegistry.sample()
    clock = ManualClock(SimulatedSessionClock().now())
    feed = SimulatedFeed(list(registry), clock=clock, seed=5)
    ticks = []
    for _ in range(150):
        clock.advance(1.0)
        ticks.extend(feed.next_batch(len(registry)))
    path = isolated_dirs / "session.csv"
    write_ticks(path, ticks, registry)

    result = subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless", "--replay", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**_env(isolated_dirs), "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "20000"},
    )
    assert result.returncode == 0, result.stderr
    assert "feed finished" in result.stderr
    assert f"ticks {len(ticks):,}" in result.stderr
    fills = re.search(r"final: .*\| fills ([\d,]+) \|", result.stderr)
    assert fills and int(fills.group(1).replace(",", "")) > 0, result.stderr[-600:]


def test_launch_with_a_missing_replay_file_says_so(isolated_dirs: Path) -> None:
    result = _cli(isolated_dirs, "launch", "--headless", "--replay", str(isolated_dirs / "nope.csv"))
    assert result.returncode == 2
    assert "nope.csv: does not exist" in result.stderr and "Traceback" not in result.stderr

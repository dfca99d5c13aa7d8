"""One engine state across restarts: a saved halt lifted by any path gives the kill switch back.

The real engine on SQLite in a temp dir, the console on its bus (Pilot), the control socket
and the `status` CLI: all of them must say the same thing at every step.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from alpha_panda_tui.app import AlphaPandaApp, make_app
from alpha_panda_tui.control_client import EngineNotRunning, request, send
from engine.control import ControlServer
from engine.events import EngineState
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from tests.alpha_panda_tui.harness import WIDE, wait_for
from tests.strategy_configs import CHATTY_STRATEGIES_TOML
from widgets.header_bar import HeaderBar
from widgets.key_footer import KeyFooter

KILL_SWITCH = "Kill switch: halt all trading now (asks to confirm)"
RESUME = "Resume trading after a halt (asks to confirm)"


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(
        feed={"ticks_per_second": 500},
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 100},
    )


@asynccontextmanager
async def launched(
    settings: Settings,
) -> AsyncIterator[tuple[Engine, ControlServer, AlphaPandaApp, Pilot[int]]]:
    """What `alpha-panda-tui launch` runs: the engine, its control socket and the console."""
    engine = Engine(settings)
    app = make_app(engine, debounce_s=0.0, animate=False)
    control = ControlServer(engine.bus, settings.control_socket, engine.status)
    control.wire()
    await engine.start()
    await control.start()
    try:
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: app.state.status is not None)
            yield engine, control, app, pilot
    finally:
        await control.stop()
        await engine.stop()


async def cli_status(settings: Settings) -> str:
    """`alpha-panda-tui status` from another terminal (a real process)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alpha_panda_tui",
        "status",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    return out.decode().splitlines()[0]


async def shows(engine: Engine, app: AlphaPandaApp, pilot: Pilot[int], state: EngineState) -> None:
    """Engine, control socket, header, footer, palette and key handling agree on `state`."""
    await wait_for(lambda: app.state.engine_state is state)
    app.pull_now(force=True)
    await pilot.pause()
    assert engine.status().state is state
    reply = await request(engine.settings.control_socket, {"op": "status"})
    assert reply["status"]["state"] == state.value
    header = app.screen.query_one(HeaderBar).render().plain
    assert f" {state.value.upper()}" in header, header
    footer = {action: enabled for _, _, action, enabled in KeyFooter.shown_keys(app.screen)}
    palette = [entry.name for entry in app.palette_entries()]
    halted = state is EngineState.HALTED
    assert ("resume_trading" in footer) is halted
    assert ("kill_switch" in footer) is not halted
    assert (RESUME in palette) is halted
    assert (KILL_SWITCH in palette) is not halted
    assert app.check_action("kill_switch", ()) is not halted


async def halt_in_the_console_then_quit(settings: Settings) -> None:
    async with launched(settings) as (engine, _, app, pilot):
        await shows(engine, app, pilot, EngineState.RUNNING)
        await pilot.press("exclamation_mark", "y")
        await wait_for(lambda: engine.halted)
        await shows(engine, app, pilot, EngineState.HALTED)


@pytest.mark.slow
async def test_a_saved_halt_resumed_in_the_console_gives_the_kill_switch_back(settings: Settings) -> None:
    await halt_in_the_console_then_quit(settings)
    async with launched(settings) as (engine, _, app, pilot):
        await shows(engine, app, pilot, EngineState.HALTED)  # the halt survived the restart
        assert (await cli_status(settings)).startswith("engine     HALTED")
        await pilot.press("R", "y")
        await wait_for(lambda: not engine.halted)
        await shows(engine, app, pilot, EngineState.RUNNING)
        assert (await cli_status(settings)).startswith("engine     RUNNING")
        await pilot.press("ctrl+k", "y")  # and the kill switch works again
        await wait_for(lambda: engine.halted)
        await shows(engine, app, pilot, EngineState.HALTED)


@pytest.mark.slow
async def test_a_saved_halt_resumed_over_the_control_socket_gives_the_kill_switch_back(
    settings: Settings,
) -> None:
    await halt_in_the_console_then_quit(settings)
    async with launched(settings) as (engine, _, app, pilot):
        await shows(engine, app, pilot, EngineState.HALTED)
        reply = await request(settings.control_socket, {"op": "command", "action": "resume"})
        assert reply["ok"], reply
        await shows(engine, app, pilot, EngineState.RUNNING)
        await pilot.press("exclamation_mark", "y")
        await wait_for(lambda: engine.halted)
        await shows(engine, app, pilot, EngineState.HALTED)


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "alpha_panda_tui", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _headless() -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else "the engine exited"
        try:
            send(load_settings().control_socket, {"op": "status"})
            return proc
        except EngineNotRunning:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the headless engine never answered")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


@pytest.mark.slow
def test_a_saved_halt_resumed_headless_gives_the_kill_switch_back(settings: Settings) -> None:
    first = _headless()
    try:
        _cli("halt", "--reason", "end of day")
        assert _cli("status").startswith("engine     HALTED (end of day)")
    finally:
        _stop(first)
    again = _headless()
    try:
        assert _cli("status").startswith("engine     HALTED (end of day)")
        _cli("resume")
        assert _cli("status").startswith("engine     RUNNING")
        _cli("halt", "--reason", "again")
        assert _cli("status").startswith("engine     HALTED (again)")
    finally:
        _stop(again)


@pytest.mark.slow
async def test_a_saved_latch_shows_latched_and_l_resets_it(settings: Settings) -> None:
    first = Engine(settings, paced=False)
    await first.start()
    await first.state_store.put_state("risk:paper:latch", {"global": None, "strategies": {"momo": "lost"}})
    await first.stop()
    async with launched(settings) as (engine, _, app, pilot):
        await shows(engine, app, pilot, EngineState.LATCHED)
        assert "LATCHED: paper:momo" in app.screen.query_one(HeaderBar).render().plain
        footer = {action for _, _, action, _ in KeyFooter.shown_keys(app.screen)}
        assert "reset_latches" in footer
        assert (await cli_status(settings)).startswith("engine     LATCHED")
        await pilot.press("L", "y")
        await wait_for(lambda: not engine.latched)
        await shows(engine, app, pilot, EngineState.RUNNING)
        footer = {action for _, _, action, _ in KeyFooter.shown_keys(app.screen)}
        assert "reset_latches" not in footer

"""The console attached to a headless engine process (`alpha-panda-tui attach`): what it shows at
once, what its keys do to the engine, and that closing it never stops the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from alpha_panda_tui.attach_link import LinkState
from alpha_panda_tui.control_client import command, day_snapshot
from alpha_panda_tui.screens.confirm import ConfirmScreen
from engine.events import CommandAction, EngineState, EngineStatus
from tests.alpha_panda_tui.attach_harness import AttachedConsole, EngineProcess, attached
from tests.alpha_panda_tui.harness import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def engine() -> Iterator[EngineProcess]:
    process = EngineProcess()
    try:
        process.start()
        yield process
    finally:
        process.close()


def _fills(engine: EngineProcess) -> int:
    return engine.status().fills


def _wait_for_fills(engine: EngineProcess, minimum: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while _fills(engine) < minimum:
        assert time.monotonic() < deadline, "the engine made no fills"
        assert engine.running()
        time.sleep(0.1)


async def _settled(engine: EngineProcess) -> EngineStatus:
    """The engine's status once its fills stopped moving (unchanged over a second)."""
    previous = engine.status()
    while True:
        await asyncio.sleep(1.0)
        status = engine.status()
        if (status.orders, status.fills) == (previous.orders, previous.fills):
            return status
        previous = status


async def test_the_attached_console_shows_the_engines_day_at_once(engine: EngineProcess) -> None:
    _wait_for_fills(engine, 3)
    assert engine.call(command, engine.socket, CommandAction.FEED_PAUSE).ok  # a still picture to compare
    await wait_for(lambda: engine.status().feed_paused)
    expected = await _settled(engine)  # orders placed on the last ticks fill after the pause
    stored = engine.call(day_snapshot, engine.socket)
    async with attached(engine) as console:
        state = console.app.state
        await console.until(lambda: len(state.orders.fills) >= len(stored.fills))
        shown = state.status
        assert shown is not None
        assert shown.state is expected.state and shown.feed_paused
        assert [(s.name, s.enabled) for s in shown.strategies] == [
            (s.name, s.enabled) for s in expected.strategies
        ]
        assert [row.status.name for row in state.strategies.rows] == [s.name for s in expected.strategies]
        assert set(state.orders.by_id) == {order.order_id for order in stored.orders}
        assert len(state.orders.fills) == len(stored.fills) == expected.fills
        assert set(state.pnl.portfolios) == {p.portfolio_id for p in stored.portfolios}
        net = sum(p.realized_pnl + p.unrealized_pnl - p.charges for p in stored.portfolios)
        assert state.pnl.total() == pytest.approx(net)
        badge = console.app.screen.query_one("#header")
        assert f"ATTACHED pid {engine.proc.pid if engine.proc else 0}" in str(badge.render())


async def test_a_toggle_and_a_halt_from_the_console_take_effect_in_the_engine(engine: EngineProcess) -> None:
    async with attached(engine) as console:
        first = engine.status().strategies[0]
        assert first.enabled
        await console.press("1")
        await wait_for(lambda: not engine.status().strategies[0].enabled)
        await console.press("exclamation_mark")
        assert isinstance(console.app.screen, ConfirmScreen)
        await console.press("y")
        await wait_for(lambda: engine.status().state is EngineState.HALTED)
        await console.until(lambda: console.app.halted)  # and the console shows it
        assert "kill switch in the console" in engine.status().halted_reason


async def test_detach_closes_the_console_and_leaves_the_engine_trading(engine: EngineProcess) -> None:
    async with attached(engine) as console:
        await console.pilot.press("D")
        await console.pilot.pause()
        assert console.app.detached
        assert console.app.return_code == 0
    before = _fills(engine)
    _wait_for_fills(engine, before + 3)
    assert engine.status().state is EngineState.RUNNING


async def test_quit_closes_the_console_and_never_stops_the_engine(engine: EngineProcess) -> None:
    async with attached(engine) as console:
        await console.pilot.press("q")
        await console.pilot.pause()
        assert console.app.return_code == 0 and not console.app.engine_stopping
    before = _fills(engine)
    _wait_for_fills(engine, before + 3)
    assert engine.running()


async def test_stopping_the_engine_asks_first_naming_it_then_stops_it(engine: EngineProcess) -> None:
    assert engine.proc is not None
    async with attached(engine) as console:
        await console.press("X")
        dialog = console.app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert f"pid {engine.proc.pid} on {engine.data_dir}" in dialog.message
        await console.press("n")  # no: nothing happens
        assert engine.running() and engine.status().state is EngineState.RUNNING
        await console.press("X")
        await console.press("y")
        await wait_for(lambda: console.app.engine_stopping, timeout=10)
    assert engine.proc.wait(30) == 0


async def test_a_read_only_console_watches_and_its_keys_do_nothing(engine: EngineProcess) -> None:
    async with attached(engine, read_only=True) as console:
        app = console.app
        footer = {active.binding.action for active in app.active_bindings.values()}
        assert "kill_switch" not in footer and "pause_feed" not in footer and "quit" in footer
        palette = [entry.name for entry in app.palette_entries()]
        assert not any(name.startswith(("Disable strategy", "Enable strategy")) for name in palette)
        for key in ("1", "exclamation_mark", "ctrl+k", "p", "X", "R", "L", "F", "c"):
            await console.press(key)
            assert not isinstance(app.screen, ConfirmScreen), key
        assert not app.state.issued_commands and not app.state.strategies.pending
        status = engine.status()
        assert status.state is EngineState.RUNNING and not status.feed_paused
        assert all(s.enabled for s in status.strategies)
        assert any("read-only console" in notice for notice in console.notices())
        header = str(app.screen.query_one("#header").render())
        assert "READ-ONLY" in header


async def test_the_console_keeps_the_last_picture_and_reconnects_to_a_restarted_engine(
    engine: EngineProcess,
) -> None:
    async with attached(engine) as console:
        app = console.app
        first_run = console.bus.link.hello
        assert first_run is not None
        before = app.state
        shown_strategies = [row.status.name for row in before.strategies.rows]
        assert await asyncio.to_thread(engine.terminate) == 0
        await console.until(lambda: console.bus.link.state is LinkState.LOST)
        await console.pilot.pause(1.1)
        await console.settle()
        header = str(app.screen.query_one("#header").render())
        assert "engine gone" in header and "last picture kept" in header
        assert (
            app.state is before and [row.status.name for row in app.state.strategies.rows] == shown_strategies
        )

        await asyncio.to_thread(engine.start)
        await console.until(lambda: console.bus.link.attaches == 2, timeout=20)
        second_run = console.bus.link.hello
        assert second_run is not None and second_run.run_id != first_run.run_id
        await console.until(lambda: app.state is not before and app.state.status is not None)
        assert app.state.status is not None and app.state.status.state is EngineState.RUNNING
        assert [row.status.name for row in app.state.strategies.rows] == shown_strategies
        header = str(app.screen.query_one("#header").render())
        assert f"ATTACHED pid {second_run.pid}" in header
        await console.press("1")  # and it controls the new run
        await wait_for(lambda: not engine.status().strategies[0].enabled)


async def test_two_consoles_see_the_same_engine(engine: EngineProcess) -> None:
    async with attached(engine) as one, attached(engine, read_only=True) as two:
        await one.press("exclamation_mark")
        await one.press("y")
        await one.until(lambda: one.app.halted)
        await two.until(lambda: two.app.halted)
        assert engine.call(command, engine.socket, CommandAction.FEED_PAUSE).ok
        await wait_for(lambda: engine.status().feed_paused)
        await one.until(lambda: one.app.feed_paused)
        await two.until(lambda: two.app.feed_paused)
        expected = engine.status()

        def picture(console: AttachedConsole) -> tuple[object, ...]:
            state = console.app.state
            status = state.status
            assert status is not None
            return (
                status.state,
                status.halted_reason,
                [(s.name, s.enabled) for s in status.strategies],
                sorted(state.orders.by_id),
                len(state.orders.fills),
            )

        stored = engine.call(day_snapshot, engine.socket)
        engines = (
            expected.state,
            expected.halted_reason,
            [(s.name, s.enabled) for s in expected.strategies],
            sorted(order.order_id for order in stored.orders),
            expected.fills,
        )
        await one.until(lambda: picture(one) == engines)
        await two.until(lambda: picture(two) == engines)

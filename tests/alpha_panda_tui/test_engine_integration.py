"""The console on the real engine: its keys change the engine's state, through the bus only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot

from alpha_panda_tui.app import AlphaPandaApp, make_app
from engine.events import EngineState
from engine.instruments import InstrumentRegistry
from engine.runtime import Engine
from engine.settings import FeedSource, load_settings
from tests.alpha_panda_tui.harness import WIDE, wait_for
from tests.tick_file_builders import write_file_turning_bad
from widgets.header_bar import HeaderBar


@asynccontextmanager
async def running() -> AsyncIterator[tuple[Engine, AlphaPandaApp, Pilot[int]]]:
    engine = Engine(load_settings(feed={"ticks_per_second": 200}), persist=False)
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    try:
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: bool(app.state.strategies.rows))  # the engine's first status arrived
            yield engine, app, pilot
    finally:
        await engine.stop()


async def test_a_digit_really_disables_the_engines_strategy() -> None:
    async with running() as (engine, app, pilot):
        first = app.state.strategies.rows[0].status.name
        assert engine.strategy_runner.is_enabled(first)
        await pilot.press("1")
        await wait_for(lambda: not engine.strategy_runner.is_enabled(first))
        await wait_for(
            lambda: (row := app.state.strategies.find(first)) is not None and not row.status.enabled
        )


async def test_kill_switch_halts_the_engine_and_resume_lifts_it() -> None:
    async with running() as (engine, app, pilot):
        await pilot.press("ctrl+k", "y")
        await wait_for(lambda: engine.halted)
        await wait_for(lambda: app.halted)  # the next status shows it, and the footer offers Resume
        await pilot.press("R", "y")
        await wait_for(lambda: not engine.halted)


async def test_p_pauses_the_engines_feed() -> None:
    async with running() as (engine, app, pilot):
        await wait_for(lambda: app.state.ticks.seen > 0)
        await pilot.press("p")
        await wait_for(lambda: engine.feed.paused)
        await wait_for(lambda: app.feed_paused)
        await pilot.press("p")
        await wait_for(lambda: not engine.feed.paused)


async def test_a_replay_that_turns_bad_shows_the_engine_stopped_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    write_file_turning_bad(path, rounds=400, instruments=InstrumentRegistry.sample())
    settings = load_settings(
        feed={"source": FeedSource.REPLAY.value, "replay_file": str(path), "ticks_per_second": 2000}
    )
    engine = Engine(settings, persist=False)
    app = make_app(engine, debounce_s=0.0, animate=False)
    await engine.start()
    try:
        async with app.run_test(size=WIDE) as pilot:
            await wait_for(lambda: app.state.engine_state is EngineState.RUNNING, timeout=10)
            await wait_for(lambda: app.state.engine_state is EngineState.STOPPED, timeout=30)
            await pilot.pause()
            app.pull_now(force=True)
            await pilot.pause()
            header = app.screen.query_one(HeaderBar).render().plain
            assert "STOPPED: the replay feed failed:" in header
            assert any("engine STOPPED: the replay feed failed" in line.text for line in app.state.log.lines)
    finally:
        await engine.stop()

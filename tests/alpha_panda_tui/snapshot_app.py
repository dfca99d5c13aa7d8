"""The console for snapshot tests: a seeded session (frozen clock, seeded prices) already on screen.

The session is published on a DirectBus before the app starts, so the state is
complete at the first paint: no timing can make two runs differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from alpha_panda_tui.app import AlphaPandaApp, make_app
from alpha_panda_tui.screens.live import LiveScreen
from engine.bus import DirectBus
from tests.alpha_panda_tui.harness import INSTRUMENTS
from tests.alpha_panda_tui.scenario import Scenario

SMALL = (80, 24)
WIDE = (160, 48)

RunBefore = Callable[[Pilot[int]], Awaitable[None]]


def seeded_app(status: dict[str, Any] | None = None, **options: Any) -> AlphaPandaApp:
    """`options` go to make_app (settings, login_handler, ...); `status`: a last engine status
    (Scenario.status arguments) published after the session."""
    bus = DirectBus()
    app = make_app(bus=bus, instruments=INSTRUMENTS, animate=False, **options)

    async def seed() -> None:
        scenario = Scenario(bus, INSTRUMENTS)
        await scenario.session()
        if status is not None:
            await scenario.status(**status)

    asyncio.run(seed())
    return app


async def settle(pilot: Pilot[int]) -> None:
    await pilot.pause()
    assert isinstance(pilot.app, AlphaPandaApp)
    pilot.app.pull_now(force=True)
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def opening(make_screen: Callable[[], LiveScreen]) -> RunBefore:
    async def run_before(pilot: Pilot[int]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, AlphaPandaApp)
        app.open_live_screen(make_screen())
        await settle(pilot)

    return run_before


def pressing(*keys: str) -> RunBefore:
    async def run_before(pilot: Pilot[int]) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)

    return run_before

"""Shared by the console tests: a real bus, the console on it, a probe that records what the console sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from textual.pilot import Pilot

from alpha_panda_tui.app import AlphaPandaApp, make_app
from alpha_panda_tui.engine_link import EngineLink
from engine.bus import InProcessBus
from engine.bus.base import Bus
from engine.events import Command, Event, Namespace
from engine.instruments import InstrumentRegistry
from engine.topics import CONTROL_COMMANDS
from tests.alpha_panda_tui.scenario import Scenario

INSTRUMENTS = InstrumentRegistry.sample()
WIDE = (160, 48)
SMALL = (80, 24)
WAIT_LIMIT_S = 5.0


@dataclass
class Probe:
    """Another consumer of control commands: sees exactly what the engine would receive."""

    bus: Bus
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bus.subscribe([CONTROL_COMMANDS], "probe", self._on_event)

    async def _on_event(self, event: Event) -> None:
        self.events.append(event)

    @property
    def commands(self) -> list[Command]:
        """Commands the console sent (the scenario also sends one, as the CLI would)."""
        return [e.payload for e in self.events if isinstance(e.payload, Command) and e.source == "tui"]


@dataclass
class Console:
    app: AlphaPandaApp
    pilot: Pilot[int]
    bus: InProcessBus
    scenario: Scenario
    probe: Probe

    async def settle(self) -> None:
        """Let the bus deliver everything, pull all of it into the screen, and let the screen repaint."""
        await self.bus.drain()
        await self.pilot.pause()
        self.app.pull_now(force=True)
        await self.pilot.pause()

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.settle()


async def wait_for(condition: Callable[[], bool], timeout: float = WAIT_LIMIT_S) -> None:
    """Wait until the condition holds (the engine runs its own tasks); fail if it never does."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110 - another task's state, not an Event we own
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError("the condition never held") from None


@asynccontextmanager
async def console(
    size: tuple[int, int] = WIDE,
    *,
    session: bool = True,
    namespaces: tuple[Namespace, ...] = (Namespace.PAPER,),
    link: EngineLink | None = None,
) -> AsyncIterator[Console]:
    bus = InProcessBus()
    probe = Probe(bus)
    app = make_app(
        bus=bus, instruments=INSTRUMENTS, namespaces=namespaces, debounce_s=0.0, animate=False, link=link
    )
    await bus.start()
    scenario = Scenario(bus, INSTRUMENTS)
    if session:
        await scenario.session()
    try:
        async with app.run_test(size=size, notifications=True) as pilot:
            harness = Console(app, pilot, bus, scenario, probe)
            await harness.settle()
            yield harness
    finally:
        await bus.stop()

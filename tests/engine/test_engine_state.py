"""The engine's state comes from the risk managers at every status, across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import Command, CommandAction, EngineState, Namespace, make_event
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.topics import CONTROL_COMMANDS
from tests.strategy_configs import CHATTY_STRATEGIES_TOML


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings()


async def command(engine: Engine, action: CommandAction, target: str = "") -> None:
    event = make_event(Command(action=action, target=target), namespace=Namespace.SHARED, source="t", key="c")
    await engine.bus.publish(CONTROL_COMMANDS, event)
    await engine.bus.drain()


async def test_a_saved_latch_then_halt_then_resume_then_reset(settings: Settings) -> None:
    first = Engine(settings, paced=False)
    await first.start()
    assert first.state is EngineState.RUNNING
    await first.state_store.put_state("risk:paper:latch", {"global": None, "strategies": {"momo": "lost"}})
    await first.stop()
    assert first.state is EngineState.STOPPED

    engine = Engine(settings, paced=False)
    await engine.start()
    try:
        assert engine.state is engine.status().state is EngineState.LATCHED
        assert engine.status().loss_latches == ("paper:momo",)
        await command(engine, CommandAction.HALT)
        assert engine.state is engine.status().state is EngineState.HALTED  # a halt over a latch
        await command(engine, CommandAction.RESUME)
        assert engine.status().state is EngineState.LATCHED  # the latch is still there
        await command(engine, CommandAction.RESET_LOSS_LATCH)
        assert engine.state is engine.status().state is EngineState.RUNNING
        assert engine.status().loss_latches == ()
    finally:
        await engine.stop()

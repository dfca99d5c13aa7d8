"""`attach --bus kafka`: the console on an engine running on the Kafka bus (a real tansu broker),
from the newest offsets on plus the day snapshot it asks for; its kill switch reaches the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alpha_panda_tui.attach_cli import kafka_app
from alpha_panda_tui.screens.confirm import ConfirmScreen
from engine.bus import KafkaBus
from engine.events import EngineState
from engine.runtime import Engine
from engine.settings import load_settings
from tests.alpha_panda_tui.harness import INSTRUMENTS, WIDE, wait_for
from tests.engine.bus.conftest import kafka_bootstrap, tansu_binary  # noqa: F401 - the broker fixtures
from tests.strategy_configs import EMA_FAST_TOML

pytestmark = pytest.mark.kafka

kafka_console_bus = pytest.importorskip("alpha_panda_tui.attach_kafka").kafka_console_bus

WAIT_S = 20.0


@pytest.fixture
async def engine(kafka_bootstrap: str, isolated_dirs: Path) -> AsyncIterator[Engine]:  # noqa: F811
    (isolated_dirs / "config" / "strategies.toml").write_text(EMA_FAST_TOML, encoding="utf-8")
    settings = load_settings(
        bus={"kind": "kafka", "kafka_bootstrap": kafka_bootstrap, "kafka_group_prefix": "engine"},
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 100},
    )
    engine = Engine(settings, paced=False)
    assert isinstance(engine.bus, KafkaBus)
    await engine.start()
    yield engine
    await engine.stop()


async def test_a_kafka_console_shows_the_day_and_its_kill_switch_halts_the_engine(
    engine: Engine,
    kafka_bootstrap: str,  # noqa: F811
) -> None:
    for _ in range(40):  # a morning's trading before the console attaches
        await engine.pump(20)
    if engine.writer is not None:
        await engine.writer.flush()
    fills = engine.status().fills
    assert fills > 0
    bus = kafka_console_bus(kafka_bootstrap)
    app = kafka_app(
        bus, kafka_bootstrap, settings=None, instruments=INSTRUMENTS, read_only=False, animate=False
    )
    await bus.start()
    try:
        async with app.run_test(size=WIDE, notifications=True) as pilot:
            await wait_for(lambda: bool(app.state.trading_day), WAIT_S)
            assert len(app.state.orders.fills) == fills
            header = str(app.screen.query_one("#header").render())
            assert "ATTACHED" in header
            await pilot.press("exclamation_mark")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await wait_for(lambda: engine.status().state is EngineState.HALTED, WAIT_S)
            await engine.publish_status()  # as a paced engine does once a halt is answered
            await wait_for(lambda: app.state.halted, WAIT_S)
            await pilot.press("X")  # not over Kafka: it says so at once, and asks nothing
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmScreen)
            assert any("cannot stop the engine" in str(n.message) for n in app._notifications)
            await pilot.press("q")
            await pilot.pause()
        assert engine.status().state is EngineState.HALTED  # quitting the console left it as it was
    finally:
        await bus.stop()

"""Consoles attached to a real running engine through its control socket: snapshot then stream,
commands, read-only consoles, answers only to the asker, a console that stops reading (cut off, the
engine unhurt), several consoles at once, garbage from a console, the engine stopping."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import DaySnapshot, EventType
from engine.settings import Settings
from tests.stream_harness import Console, chatty_settings, serving, socket_dir, until


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    return chatty_settings(isolated_dirs)


async def test_snapshot_then_stream(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path) as console:
            engine = served.engine
            await engine.pump(2_000)
            request_id = await console.ask_day_snapshot()
            await until(lambda: console.of_type(EventType.DAY_SNAPSHOT), "the day snapshot")
            [snapshot_event] = console.of_type(EventType.DAY_SNAPSHOT)
            snapshot = snapshot_event.payload
            assert isinstance(snapshot, DaySnapshot) and snapshot.request_id == request_id
            assert snapshot.status.fills == engine.status().fills > 0
            before = len(console.of_type(EventType.ORDER_FILLED))
            fills_before = engine.status().fills
            await engine.pump(2_000)
            made = engine.status().fills - fills_before
            assert made > 0
            await until(
                lambda: len(console.of_type(EventType.ORDER_FILLED)) == before + made, "the new fills"
            )
            assert console.of_type(EventType.MARKET_TICK)
            hello, restarted = console.attaches[0]
            assert (hello.run_id, restarted) == (served.server.streams.run_id, False)
            assert [c.client for c in served.server.streams.consoles()] == ["test"]

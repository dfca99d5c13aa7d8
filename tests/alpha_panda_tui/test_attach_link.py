"""SocketBus, the attached console's link to an engine, on a real engine and a real Unix socket: it
waits for an engine that is not there yet, says when the link is down and refuses to send then,
re-attaches after the engine restarts (telling the console it is a new run) and after being cut off
(the same run)."""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
from pathlib import Path

import pytest

from alpha_panda_tui.attach_link import Hello, LinkDown, LinkState, LinkStatus, SocketBus
from alpha_panda_tui.bridge import UiBridge
from engine.control_stream import frame_bytes
from engine.events import CommandAction, DaySnapshot, Event, EventType, encode_event
from engine.settings import Settings
from tests.stream_harness import WAIT_S, Console, RawConsole, chatty_settings, serving, socket_dir, until


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    return chatty_settings(isolated_dirs)


class GatedConsole(Console):
    """A console whose event handler waits while its gate is shut: it stops reading its stream."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(socket_path)
        self.gate = asyncio.Event()
        self.gate.set()
        self.states: list[tuple[LinkState, str]] = []
        self.bus.on_link = self._on_link

    def _on_link(self, link: LinkStatus) -> None:
        self.states.append((link.state, link.detail))

    async def _on_event(self, event: Event) -> None:
        await self.gate.wait()
        await super()._on_event(event)


async def test_a_console_started_before_the_engine_attaches_when_it_comes(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        console = Console(path)
        await console.bus.start()
        try:
            await until(lambda: console.bus.link.state is LinkState.LOST, "the link lost")
            assert console.bus.link.detail == f"no engine answers at {path}; trying again"
            with pytest.raises(LinkDown, match="not attached to the engine"):
                await console.command(CommandAction.HALT)
            async with serving(settings, path) as served:
                assert await console.bus.wait_attached(WAIT_S)
                [(hello, restarted)] = console.attaches
                assert not restarted and hello.run_id == served.server.streams.run_id
                assert (hello.read_only, hello.namespaces, hello.data_dir) == (False, ("paper",), str(folder))
                await console.command(CommandAction.HALT)
                await until(lambda: served.engine.halted, "the halt")
        finally:
            await console.bus.stop()


async def test_a_frame_longer_than_the_read_limit_arrives_whole(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path, read_limit=256) as console:
            await served.engine.pump(1_000)
            request_id = await console.ask_day_snapshot()
            await until(lambda: console.of_type(EventType.DAY_SNAPSHOT), "the day snapshot")
            [snapshot] = [e.payload for e in console.of_type(EventType.DAY_SNAPSHOT)]
            assert isinstance(snapshot, DaySnapshot) and snapshot.request_id == request_id
            assert len(encode_event(console.of_type(EventType.DAY_SNAPSHOT)[0])) > 4 * 256
            assert snapshot.status.ticks == 1_000


async def test_the_console_re_attaches_to_a_restarted_engine_as_a_new_run(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        console = Console(path)
        try:
            async with serving(settings, path) as first:
                await console.bus.start()
                assert await console.bus.wait_attached(WAIT_S)
                await first.engine.pump(500)
            await until(lambda: not console.bus.attached, "the link down")
            assert console.bus.link.state is LinkState.LOST
            assert console.bus.link.detail == "the engine stopped; reconnecting"
            with pytest.raises(LinkDown):
                await console.ask_day_snapshot()
            async with serving(settings, path) as second:
                await until(lambda: len(console.attaches) == 2, "the second attach")
                (hello1, restarted1), (hello2, restarted2) = console.attaches
                assert (restarted1, restarted2) == (False, True)
                assert hello2.run_id == second.server.streams.run_id != hello1.run_id
                assert console.bus.link.attaches == 2 and console.bus.link.hello == hello2
                request_id = await console.ask_day_snapshot()
                await until(lambda: console.of_type(EventType.DAY_SNAPSHOT), "the new engine's snapshot")
                [snapshot] = [e.payload for e in console.of_type(EventType.DAY_SNAPSHOT)]
                assert isinstance(snapshot, DaySnapshot) and snapshot.request_id == request_id
                ticks_before = len(console.of_type(EventType.MARKET_TICK))
                await second.engine.pump(100)
                await until(lambda: len(console.of_type(EventType.MARKET_TICK)) > ticks_before, "new ticks")
        finally:
            await console.bus.stop()


async def test_a_console_cut_off_for_falling_behind_says_so_and_re_attaches(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with (
            serving(settings, path, max_behind=1_000, close_timeout_s=WAIT_S) as served,
            GatedConsole(path) as console,
        ):
            streams = served.server.streams
            console.gate.clear()  # the console stops reading
            pumps = 0
            while streams.cut_off == 0:
                assert pumps < 400, "the console was never cut off"
                await served.engine.pump(500)
                pumps += 1
                await asyncio.sleep(0.01)  # the engine's writer to this console gets its turn
            assert served.engine.status().ticks == pumps * 500
            console.gate.set()  # it reads again: what was sent, then the bye, then it re-attaches
            await until(lambda: len(console.attaches) == 2, "the re-attach")
            cut = [detail for state, detail in console.states if state is LinkState.CUT_OFF]
            assert len(cut) == 1 and "events behind the engine; re-attach; re-attaching" in cut[0]
            assert [restarted for _, restarted in console.attaches] == [False, False]  # the same run
            assert len(streams.consoles()) == 1 and streams.attached == 2
            fills = len(console.of_type(EventType.ORDER_FILLED))
            await served.engine.pump(2_000)
            await until(lambda: len(console.of_type(EventType.ORDER_FILLED)) > fills, "new fills")


async def test_the_console_s_state_on_the_socket_bus_equals_the_one_on_the_engine_s_bus(
    settings: Settings,
) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served:
            engine = served.engine
            embedded = UiBridge(engine.bus, engine.instruments, engine.active_namespaces)
            embedded.wire()
            link = SocketBus(path, client="test")
            attached = UiBridge(link, engine.instruments, engine.active_namespaces)
            attached.wire()
            await link.start()
            try:
                assert await link.wait_attached(WAIT_S)
                for _ in range(6):
                    await engine.pump(500)
                fills = engine.status().fills
                assert fills > 0
                await until(lambda: len(attached.state.orders.fills) == fills, "every fill on the console")
                mine, theirs = attached.state, embedded.state
                assert list(mine.orders.by_id.items()) == list(theirs.orders.by_id.items())
                assert list(mine.orders.fills) == list(theirs.orders.fills)
                assert list(mine.signals.rows) == list(theirs.signals.rows)
                assert list(mine.decisions.rows) == list(theirs.decisions.rows)
                assert mine.pnl.portfolios == theirs.pnl.portfolios
            finally:
                await link.stop()


class FaultyConsole(Console):
    """A console whose handler fails on every fill."""

    async def _on_event(self, event: Event) -> None:
        if event.type is EventType.ORDER_FILLED:
            raise RuntimeError("a bug in the console")
        await super()._on_event(event)


async def test_a_console_handler_that_fails_is_logged_and_the_link_stays(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, FaultyConsole(path) as console:
            await served.engine.pump(2_000)
            fills = served.engine.status().fills
            assert fills > 0
            stats = console.bus.stats.groups["ui"]
            await until(lambda: stats.dead_lettered == fills, "every fill given up on")
            placed = len(console.of_type(EventType.ORDER_PLACED))
            await served.engine.pump(2_000)
            await until(lambda: len(console.of_type(EventType.ORDER_PLACED)) > placed, "new orders")
            assert console.bus.link.state is LinkState.ATTACHED and console.bus.link.attaches == 1
            assert "the console could not handle an event from paper.orders.filled" in caplog.text
            assert not console.bus.refused  # nothing was sent to the engine


async def test_the_engine_is_told_who_attached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CLIENT", "10.1.2.3 50022 22")
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served:
            link = SocketBus(path)
            await link.start()
            try:
                assert await link.wait_attached(WAIT_S)
                [info] = served.server.streams.consoles()
                me = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"
                assert info.client == f"{me} via ssh from 10.1.2.3"
            finally:
                await link.stop()


async def test_an_idle_engine_sends_heartbeats(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served:
            served.server.streams.heartbeat_s = 0.05
            raw = await RawConsole.attach(path)
            assert (await raw.frame())["kind"] == "hello"
            assert [await raw.frame() for _ in range(3)] == [{"kind": "heartbeat"}] * 3  # nothing else to say
            raw.close()


async def test_a_link_gone_silent_is_hung_up_and_attached_again() -> None:
    """An engine end that stops sending (a tunnel gone dead) looks like this: a hello, then nothing."""
    hello = Hello(
        pid=1, run_id="r", data_dir="/d", namespaces=(), version="", read_only=False, started_at=0.0
    )
    hung: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(frame_bytes(hello))
        hung.append(writer)  # kept open, never written to again

    with socket_dir() as folder:
        path = folder / "control.sock"
        server = await asyncio.start_unix_server(silent, path=str(path))
        link = SocketBus(path, reconnect_s=0.05, silence_s=0.3)
        states: list[tuple[LinkState, str]] = []
        link.on_link = lambda status: states.append((status.state, status.detail))
        async with server:
            await link.start()
            try:
                await until(lambda: link.link.attaches == 2, "the second attach")
                assert (LinkState.LOST, "nothing heard from the engine for 0.3 s; reconnecting") in states
            finally:
                await link.stop()
                for writer in hung:
                    writer.close()

"""Consoles attached to a real running engine through its control socket: snapshot then stream,
commands, read-only consoles, answers only to the asker, a console that stops reading (cut off, the
engine unhurt), several consoles at once, garbage from a console, the engine stopping."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from alpha_panda_tui.attach_link import LinkState
from alpha_panda_tui.control_client import request
from engine.control import StatusReply
from engine.control_stream import Publish, frame_bytes
from engine.events import (
    Command,
    CommandAction,
    CommandReply,
    DaySnapshot,
    DaySnapshotRequest,
    EngineState,
    EngineStatus,
    Event,
    EventType,
    MarketTick,
    Namespace,
    encode_event,
    make_event,
)
from engine.health.consoles import ConsolesCheck
from engine.health.registry import CheckStatus
from engine.settings import Settings
from engine.topics import CONTROL_COMMANDS
from tests.stream_harness import (
    WAIT_S,
    Console,
    RawConsole,
    Served,
    chatty_settings,
    serving,
    socket_dir,
    until,
)


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
            # every tick reached the console or was replaced by a newer one of its instrument first
            streams = served.server.streams
            await until(
                lambda: (
                    len(console.of_type(EventType.MARKET_TICK)) + streams.consoles()[0].conflated == 4_000
                ),
                "every tick sent or conflated",
            )
            assert streams.consoles()[0].conflated > 0 and streams.consoles()[0].behind == 0
            hello, restarted = console.attaches[0]
            assert (hello.run_id, restarted) == (served.server.streams.run_id, False)
            assert [c.client for c in streams.consoles()] == ["test"]


async def test_a_command_takes_effect_and_its_reply_goes_only_to_the_console_that_sent_it(
    settings: Settings,
) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path) as alice, Console(path) as bob:
            command_id = await alice.command(CommandAction.HALT)
            await until(lambda: alice.of_type(EventType.COMMAND_REPLY), "the command's reply")
            assert served.engine.halted
            [reply] = [e.payload for e in alice.of_type(EventType.COMMAND_REPLY)]
            assert isinstance(reply, CommandReply) and reply.command_id == command_id and reply.ok
            # the command and every service's result go to every console; the reply to its sender only
            await until(lambda: len(bob.of_type(EventType.COMMAND_RESULT)) == len(reply.results), "results")
            for console in (alice, bob):
                assert [e.id for e in console.of_type(EventType.COMMAND)] == [command_id]
            assert not bob.of_type(EventType.COMMAND_REPLY)
            request_id = await bob.ask_day_snapshot()
            await until(lambda: bob.of_type(EventType.DAY_SNAPSHOT), "bob's day snapshot")
            await alice.command(CommandAction.RESUME)  # after bob's snapshot: alice has it by now, or never
            await until(lambda: len(alice.of_type(EventType.COMMAND_REPLY)) == 2, "the second reply")
            assert not served.engine.halted
            assert not alice.of_type(EventType.DAY_SNAPSHOT)
            [snapshot] = [e.payload for e in bob.of_type(EventType.DAY_SNAPSHOT)]
            assert isinstance(snapshot, DaySnapshot) and snapshot.request_id == request_id
            assert [c.published for c in served.server.streams.consoles()] == [2, 1]


async def test_a_read_only_console_watches_and_asks_but_cannot_command_or_stop(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path, read_only=True) as console:
            assert console.attaches[0][0].read_only
            command_id = await console.command(CommandAction.HALT)
            await console.bus.stop_engine("from a read-only console")
            await until(lambda: len(console.refusals) == 2, "two refusals")
            assert console.refusals[0] == (command_id, "read-only console: commands are not accepted")
            assert console.refusals[1] == ("", "read-only console: it cannot stop the engine")
            assert not served.engine.halted and served.stops == []
            await console.ask_day_snapshot()  # requests are fine
            await until(lambda: console.of_type(EventType.DAY_SNAPSHOT), "the day snapshot")
            await served.engine.pump(500)
            await until(lambda: console.of_type(EventType.MARKET_TICK), "ticks")
            assert not console.of_type(EventType.COMMAND)  # the refused command was never published
            [info] = served.server.streams.consoles()
            assert (info.read_only, info.published, info.refused) == (True, 1, 2)


async def test_a_console_may_stop_the_engine_through_its_host(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path) as console:
            await console.bus.stop_engine("end of the day")
            await until(lambda: served.stops == ["stop"], "the stop request")
            reply = await request(path, {"op": "stop", "reason": "from the CLI"})
            assert reply == {"ok": True, "stopping": True, "pid": os.getpid()}
            assert served.stops == ["stop", "stop"]
            assert console.refusals == []


async def test_an_engine_without_a_host_to_stop_it_says_so(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path, stoppable=False), Console(path) as console:
            reply = await request(path, {"op": "stop"})
            assert reply["ok"] is False and "cannot be stopped over its control socket" in reply["error"]
            await console.bus.stop_engine("please")
            await until(lambda: console.refusals != [], "the refusal")
            assert console.refusals == [("", "this engine cannot be stopped from a console")]


def has_fills(console: Console, fills: int) -> Callable[[], bool]:
    return lambda: len(console.of_type(EventType.ORDER_FILLED)) == fills


def publish_frame(event: Event, topic: str = CONTROL_COMMANDS) -> bytes:
    return frame_bytes(Publish(msgspec.Raw(encode_event(event)), topic)).rstrip(b"\n")


async def pumped_fills(settings: Settings, path: Path, pumps: int) -> int:
    """Fills made by an engine with no console attached, pumped `pumps` times 500 ticks."""
    async with serving(settings, path) as served:
        for _ in range(pumps):
            await served.engine.pump(500)
        return served.engine.status().fills


async def test_a_console_that_stops_reading_is_cut_off_and_the_engine_keeps_pace(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with (
            serving(settings, path, max_behind=1_000, close_timeout_s=WAIT_S) as served,
            Console(path) as healthy,
        ):
            frozen = await RawConsole.attach(path)  # never reads, until it is cut off
            streams = served.server.streams
            await until(lambda: len(streams.consoles()) == 2, "two consoles")
            pumps = 0
            while streams.cut_off == 0:
                assert pumps < 400, "the frozen console was never cut off"
                await served.engine.pump(500)
                pumps += 1
                await until(has_fills(healthy, served.engine.status().fills), "the healthy console's fills")
            status = served.engine.status()
            assert status.ticks == pumps * 500  # every tick handled: the frozen console held nothing up
            assert [c.client for c in streams.consoles()] == ["test"]
            check = await ConsolesCheck(streams).check()
            assert check.message == "1 attached: test; 1 cut off for falling behind since the engine started"
            frames = await frozen.rest()
            frozen.close()
            assert frames[0]["kind"] == "hello"
            assert frames[-1]["kind"] == "bye" and frames[-1]["cut_off"] is True
            assert "events behind the engine; re-attach" in frames[-1]["reason"]
            fills = status.fills
            await until(lambda: len(healthy.of_type(EventType.ORDER_FILLED)) == fills, "every fill")
        assert fills == await pumped_fills(settings, path, pumps)  # as many as with no console at all


async def test_two_consoles_see_the_same_events(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path) as one, Console(path) as two:
            for _ in range(4):
                await served.engine.pump(500)
            fills = served.engine.status().fills
            assert fills > 0
            for console in (one, two):
                await until(has_fills(console, fills), "every fill")
            non_ticks = [
                [e.id for e in console.events if e.type is not EventType.MARKET_TICK]
                for console in (one, two)
            ]
            assert non_ticks[0] == non_ticks[1] and len(non_ticks[0]) > fills


async def test_garbage_from_a_console_is_refused_and_the_stream_goes_on(settings: Settings) -> None:
    tick = MarketTick(instrument_token=1, last_price=1.0, exchange_ts=0.0)
    halt = Command(action=CommandAction.HALT)
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served:
            raw = await RawConsole.attach(path)
            assert (await raw.frame())["kind"] == "hello"
            garbage = [
                b"not json",
                b"[1, 2]",
                b'{"kind": "publish", "event": {"x": 1}}',
                b'{"kind": "dance"}',
                publish_frame(
                    make_event(halt, namespace=Namespace.SHARED, source="t", key="k"), "market.ticks"
                ),
                publish_frame(make_event(tick, namespace=Namespace.SHARED, source="t", key="k")),
            ]
            for line in garbage:
                await raw.send(line + b"\n")
                refused = await raw.frame_of("refused")
                assert refused["reason"], line
            assert not served.engine.halted
            request_event = make_event(DaySnapshotRequest(), namespace=Namespace.SHARED, source="t", key="k")
            await raw.send(publish_frame(request_event) + b"\n")
            answer = await raw.frame_of("event")
            while answer["event"]["type"] != EventType.DAY_SNAPSHOT.value:
                answer = await raw.frame_of("event")
            assert answer["event"]["payload"]["request_id"] == request_event.id
            await raw.send(b"x" * 70_000 + b"\n")  # longer than a frame may be: cut off
            bye = await raw.frame_of("bye")
            assert bye["cut_off"] is True and "longer than" in bye["reason"]
            assert await raw.frame() == {}
            raw.close()
            await served.engine.pump(200)
            assert served.engine.status().ticks == 200
            assert served.server.streams.consoles() == []


async def test_at_most_max_consoles_attach(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path, max_consoles=2), Console(path), Console(path):
            third = await RawConsole.attach(path)
            refusal = await third.frame()
            assert refusal["ok"] is False and "2 consoles are attached already" in refusal["error"]
            assert await third.frame() == {}
            third.close()


async def test_a_stopping_engine_sends_its_last_status_then_says_bye(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        console = Console(path)
        try:
            async with serving(settings, path) as served:
                await console.bus.start()
                assert await console.bus.wait_attached(WAIT_S)
                await served.engine.pump(100)
            # the engine stopped (and told its consoles last)
            await until(lambda: console.bus.link.state is not LinkState.ATTACHED, "the link down")
            assert console.bus.link.detail.startswith("the engine stopped")
            statuses = [e.payload for e in console.of_type(EventType.ENGINE_STATUS)]
            assert isinstance(statuses[-1], EngineStatus) and statuses[-1].state is EngineState.STOPPED
        finally:
            await console.bus.stop()


async def test_status_names_the_attached_consoles(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served, Console(path, client="alice@laptop pid 42"):
            async with Console(path, read_only=True, client="bob"):
                reply = msgspec.convert(await request(path, {"op": "status"}), StatusReply)
                assert [(c.client, c.read_only) for c in reply.consoles] == [
                    ("alice@laptop pid 42", False),
                    ("bob", True),
                ]
                check = await ConsolesCheck(served.server.streams).check()
                assert check.message == "2 attached: alice@laptop pid 42, bob (read-only)"
                assert (check.status, check.critical) == (CheckStatus.OK, False)
            await until(lambda: len(served.server.streams.consoles()) == 1, "bob detached")
            reply = msgspec.convert(await request(path, {"op": "status"}), StatusReply)
            assert [c.client for c in reply.consoles] == ["alice@laptop pid 42"]
        check = await ConsolesCheck(served.server.streams).check()
        assert check.message == "none attached"


async def flood_until_cut_off(served: Served) -> None:
    """Pump ticks (yielding to the consoles' writers between pumps) until a console is cut off."""
    for _ in range(400):
        if served.server.streams.cut_off:
            return
        await served.engine.pump(500)
        await asyncio.sleep(0.01)
    raise AssertionError("no console was cut off")


async def test_a_console_that_never_reads_again_is_let_go(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path, max_behind=1_000, close_timeout_s=0.2) as served:
            frozen = await RawConsole.attach(path)
            await flood_until_cut_off(served)
            streams = served.server.streams
            await until(lambda: streams.closing == 0, "its connection closed, unread")
            frames = await frozen.rest()  # what the kernel held for it, then the end
            frozen.close()
            assert frames[0]["kind"] == "hello" and streams.consoles() == []


async def test_a_frozen_console_does_not_hold_up_the_engine_s_stop(settings: Settings) -> None:
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path, max_behind=10**9, close_timeout_s=0.2) as served:
            frozen = await RawConsole.attach(path)
            for _ in range(80):  # far more than the socket holds
                await served.engine.pump(500)
                await asyncio.sleep(0.01)
            assert served.server.streams.consoles()[0].behind > 0  # its writer waits on the socket
            await asyncio.wait_for(served.server.stop("the engine stopped"), WAIT_S)
            assert served.server.streams.consoles() == []
            frames = await frozen.rest()
            frozen.close()
            assert frames[0]["kind"] == "hello" and "bye" not in [f.get("kind") for f in frames]


async def test_the_hello_comes_first_however_fast_ticks_flow(settings: Settings) -> None:
    """A tick streamed between the attach and the writer's first batch must not go ahead of the hello."""
    with socket_dir() as folder:
        path = folder / "control.sock"
        async with serving(settings, path) as served:
            pumping = asyncio.create_task(served.engine.pump(20_000))
            try:
                consoles = [
                    await RawConsole.attach(path, {"op": "attach", "client": f"c{n}"}) for n in range(12)
                ]
                firsts = [await console.frame() for console in consoles]
            finally:
                await pumping
            for console in consoles:
                console.close()
            assert [frame.get("kind") for frame in firsts] == ["hello"] * len(consoles)

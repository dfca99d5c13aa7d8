"""Commands as request and response, against a real engine with two broker namespaces (a paper and a
zerodha risk manager) and a real ControlServer on a real Unix socket: one reply per command carrying
every service's result, a service that does not answer named in a timeout reply, replies decoded into
the engine's structs, and the same answer to a command whoever sends it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import msgspec
import pytest

from alpha_panda_tui import control_client
from alpha_panda_tui.control_client import ControlError, request
from engine.bus.direct import DirectBus
from engine.commands import CommandRouter
from engine.control import ControlServer
from engine.events import (
    Command,
    CommandAction,
    CommandReply,
    CommandResult,
    DaySnapshot,
    EngineState,
    EngineStatus,
    Event,
    Namespace,
    make_event,
)
from engine.runtime import Engine
from engine.settings import load_settings
from engine.state import MemoryStateStore
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS

COMMAND_TIMEOUT_S = 0.5


class TwoBrokerEngine(Engine):
    """The engine with a risk manager (and portfolio) for the paper and the zerodha namespace."""

    def _build_services(self) -> None:
        self.active_namespaces = (Namespace.PAPER, Namespace.ZERODHA)
        super()._build_services()

    def _zerodha_execution(self) -> None:
        return None  # commands only: no Kite behind the zerodha namespace here


class StuckStateStore(MemoryStateStore):
    """A state store whose writes hang (a database that stopped answering) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.released = asyncio.Event()

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        await self.released.wait()
        await super().put_state(key, value)


class Running:
    """A started, paced engine and its control socket, on an event loop in a thread."""

    def __init__(self, socket_path: Path, *, stuck: Namespace | None = None) -> None:
        self.socket_path = socket_path
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="engine-loop", daemon=True)
        self.thread.start()
        self.engine = TwoBrokerEngine(load_settings(), persist=False)
        self.engine.commands.timeout_s = COMMAND_TIMEOUT_S
        self.stuck: StuckStateStore | None = None
        if stuck is not None:
            self.stuck = self.run(self._stuck_store())
            self.engine.risk[stuck].state_store = self.stuck
        self.server = ControlServer(
            self.engine.bus, socket_path, self.engine.status, reply_wait_s=COMMAND_TIMEOUT_S + 2.0
        )
        self.server.wire()
        self.run(self._start())

    @staticmethod
    async def _stuck_store() -> StuckStateStore:
        return StuckStateStore()  # its asyncio.Event belongs to the engine's loop

    async def _start(self) -> None:
        if self.stuck is not None:
            self.stuck.released.set()  # the risk manager loads its state at start
        await self.engine.start()
        if self.stuck is not None:
            self.stuck.released.clear()
        await self.server.start()

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            if self.stuck is not None:
                self.stuck.released.set()
            await self.server.stop()
            await self.engine.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@contextlib.contextmanager
def running(data_dir: Path | None = None, **kwargs: Any) -> Iterator[Running]:
    # a short directory: a Unix socket path is limited to ~107 bytes
    with tempfile.TemporaryDirectory(prefix="cmd-") as folder:
        socket_path = (data_dir or Path(folder)) / "control.sock"
        engine = Running(socket_path, **kwargs)
        try:
            yield engine
        finally:
            engine.close()


@pytest.fixture
def engine() -> Iterator[Running]:
    with running() as started:
        yield started


def test_a_halt_is_answered_by_one_reply_with_every_namespace_result(engine: Running) -> None:
    began = time.perf_counter()
    reply = control_client.command(engine.socket_path, CommandAction.HALT, reason="lunch")
    took = time.perf_counter() - began
    print(f"\nhalt round trip over the control socket (client process side): {took * 1000:.1f} ms")
    assert isinstance(reply, CommandReply) and all(isinstance(r, CommandResult) for r in reply.results)
    assert reply.ok and reply.action is CommandAction.HALT and reply.missing == ()
    assert sorted((r.service, r.message) for r in reply.results) == [
        ("risk.paper", "paper: trading halted (lunch)"),
        ("risk.zerodha", "zerodha: trading halted (lunch)"),
    ]
    # answered when the last risk manager answered, not after a fixed wait nor the timeout
    assert took < COMMAND_TIMEOUT_S
    assert engine.engine.state is EngineState.HALTED
    status = control_client.status(engine.socket_path)
    assert isinstance(status, EngineStatus)
    assert status.state is EngineState.HALTED and status.halted_reason == "lunch"


def test_a_second_halt_keeps_the_first_reason_and_a_resume_when_running_is_a_no_op(
    engine: Running, caplog: pytest.LogCaptureFixture
) -> None:
    control_client.command(engine.socket_path, CommandAction.HALT, reason="lunch")
    again = control_client.command(engine.socket_path, CommandAction.HALT, reason="tea")
    assert again.ok
    assert sorted(r.message for r in again.results) == [
        "paper: already halted (lunch); reason kept",
        "zerodha: already halted (lunch); reason kept",
    ]
    assert control_client.status(engine.socket_path).halted_reason == "lunch"

    assert control_client.command(engine.socket_path, CommandAction.RESUME).ok
    caplog.clear()
    noop = control_client.command(engine.socket_path, CommandAction.RESUME)
    assert noop.ok and sorted(r.message for r in noop.results) == [
        "paper: trading was not halted",
        "zerodha: trading was not halted",
    ]
    assert not [r for r in caplog.records if "kill switch released" in r.getMessage()]


def test_unknown_strategy_names_are_failed_answers(engine: Running) -> None:
    reset = control_client.command(engine.socket_path, CommandAction.RESET_LOSS_LATCH, target="nosuch")
    assert not reset.ok and len(reset.results) == 2
    assert all(not r.ok and "no strategy named 'nosuch'" in r.message for r in reset.results)
    known = control_client.command(engine.socket_path, CommandAction.RESET_LOSS_LATCH, target="ema_5_20")
    assert known.ok
    assert all("no daily loss latch set for strategy ema_5_20" in r.message for r in known.results)
    toggle = control_client.command(engine.socket_path, CommandAction.STRATEGY_ENABLE, target="nope")
    assert not toggle.ok and [r.service for r in toggle.results] == ["strategy_runner"]
    assert "no strategy named 'nope'" in toggle.results[0].message


def test_an_action_this_engine_cannot_do_is_a_failed_answer_that_says_why(engine: Running) -> None:
    reply = control_client.command(engine.socket_path, CommandAction.ACKNOWLEDGE_MISMATCH, target="nosuch")
    assert not reply.ok and reply.missing == ()
    [result] = reply.results
    assert (result.service, result.ok) == ("commands", False)
    assert result.message.startswith("no position mismatch to acknowledge: this engine does not reconcile")


def test_a_service_that_does_not_answer_is_named_in_a_timeout_reply(caplog: pytest.LogCaptureFixture) -> None:
    with running(stuck=Namespace.ZERODHA) as engine:
        began = time.perf_counter()
        reply = control_client.command(engine.socket_path, CommandAction.HALT, reason="lunch")
        took = time.perf_counter() - began
        assert not reply.ok
        assert reply.missing == ("risk.zerodha",) and reply.timeout_s == COMMAND_TIMEOUT_S
        assert [(r.service, r.ok) for r in reply.results] == [("risk.paper", True)]
        assert COMMAND_TIMEOUT_S * 0.9 <= took < COMMAND_TIMEOUT_S + 2.0
        assert engine.engine.commands.timed_out == 1
    warned = [r.getMessage() for r in caplog.records if r.name == "engine.commands"]
    assert warned == [f"command halt: no answer from risk.zerodha within {COMMAND_TIMEOUT_S:g} s"]


def test_a_console_on_the_bus_gets_the_same_one_reply(engine: Running) -> None:
    """A command published on the bus (as the console does) is answered on engine.status by one
    CommandReply with every result: the socket is not special."""

    async def ask() -> list[CommandReply]:
        bus = engine.engine.bus
        replies: list[CommandReply] = []
        answered = asyncio.Event()

        async def on_status(event: Event) -> None:
            if isinstance(event.payload, CommandReply) and event.payload.command_id == command.id:
                replies.append(event.payload)
                answered.set()

        bus.subscribe([ENGINE_STATUS], "test-console", on_status)
        command = make_event(
            Command(action=CommandAction.HALT, reason="console", issued_by="tui"),
            namespace=Namespace.SHARED,
            source="tui",
            key="halt",
        )
        await bus.publish(CONTROL_COMMANDS, command)
        await asyncio.wait_for(answered.wait(), COMMAND_TIMEOUT_S + 1)
        await asyncio.sleep(COMMAND_TIMEOUT_S + 0.2)  # no second reply, not even a late timeout one
        return replies

    (reply,) = engine.run(ask())
    assert reply.ok and {r.service for r in reply.results} == {"risk.paper", "risk.zerodha"}


def test_the_day_snapshot_over_the_socket(engine: Running) -> None:
    snapshot = control_client.day_snapshot(engine.socket_path, max_orders=10, max_fills=10)
    assert isinstance(snapshot, DaySnapshot) and isinstance(snapshot.status, EngineStatus)
    assert snapshot.trading_day and snapshot.status.state is EngineState.RUNNING
    with pytest.raises(ControlError, match="max_orders must be a whole number from 0 to 2,000"):
        control_client.day_snapshot(engine.socket_path, max_orders=-1)
    raw = asyncio.run(request(engine.socket_path, {"op": "day_snapshot", "max_fills": "ten"}))
    assert raw == {"ok": False, "error": "max_fills must be a whole number from 0 to 2,000"}


async def test_a_reply_of_the_wrong_shape_is_a_control_error() -> None:
    with tempfile.TemporaryDirectory(prefix="cmd-") as folder:
        path = Path(folder) / "control.sock"

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readline()
            writer.write(msgspec.json.encode({"ok": True, "status": {"state": "dancing"}}) + b"\n")
            writer.close()

        server = await asyncio.start_unix_server(handler, path=str(path))
        async with server:
            with pytest.raises(ControlError, match="unexpected reply from the engine"):
                await asyncio.to_thread(control_client.status, path)


async def test_results_that_arrive_before_their_command_are_kept() -> None:
    """Consumer groups race: a service's answer may reach the router before the command does (here, on
    a bus that runs handlers in the order they subscribed, the answering service subscribed first)."""
    bus = DirectBus()
    replies: list[CommandReply] = []

    async def feed(event: Event) -> None:
        if isinstance(event.payload, Command):
            result = CommandResult(
                command_id=event.id,
                action=event.payload.action,
                ok=True,
                message="feed paused",
                service="feed",
            )
            await bus.publish(ENGINE_STATUS, event.child(result, source="feed", key="feed"))

    async def on_status(event: Event) -> None:
        if isinstance(event.payload, CommandReply):
            replies.append(event.payload)

    bus.subscribe([CONTROL_COMMANDS], "feed", feed)
    router = CommandRouter(bus, {CommandAction.FEED_PAUSE: ("feed",)}, timeout_s=5)
    router.wire()
    bus.subscribe([ENGINE_STATUS], "test", on_status)
    pause = Command(action=CommandAction.FEED_PAUSE)
    command = make_event(pause, namespace=Namespace.SHARED, source="t", key="")
    await bus.publish(CONTROL_COMMANDS, command)
    assert [(r.ok, r.results[0].message, r.missing) for r in replies] == [(True, "feed paused", ())]
    await router.stop()


async def test_an_action_no_service_handles_is_answered_at_once_and_failed() -> None:
    bus = DirectBus()
    replies: list[CommandReply] = []

    async def on_status(event: Event) -> None:
        if isinstance(event.payload, CommandReply):
            replies.append(event.payload)

    router = CommandRouter(
        bus, {}, unavailable={CommandAction.CONFIRM_LIVE: "this engine was not launched live"}, timeout_s=60
    )
    router.wire()
    bus.subscribe([ENGINE_STATUS], "test", on_status)
    for action in (CommandAction.CONFIRM_LIVE, CommandAction.FEED_PAUSE):
        await bus.publish(
            CONTROL_COMMANDS,
            make_event(Command(action=action), namespace=Namespace.SHARED, source="t", key=""),
        )
    assert [(r.ok, [(x.service, x.ok, x.message) for x in r.results], r.missing) for r in replies] == [
        (False, [("commands", False, "this engine was not launched live")], ()),
        (False, [("commands", False, "this engine has no service that handles feed_pause")], ()),
    ]
    await router.stop()


def test_logs_are_quiet_on_the_happy_path(engine: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    for action in (CommandAction.FEED_PAUSE, CommandAction.FEED_RESUME):
        assert control_client.command(engine.socket_path, action).ok
    assert not [r for r in caplog.records if r.name == "engine.commands"]

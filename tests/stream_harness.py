"""A real engine (unpaced, no database, chatty strategies) with its control server on a real Unix socket,
and consoles attached to it: SocketBus consoles that record what they are streamed, and raw ones."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from alpha_panda_tui.attach_link import Hello, SocketBus
from engine.control import ControlServer
from engine.events import (
    Command,
    CommandAction,
    DaySnapshotRequest,
    Event,
    EventType,
    Namespace,
    make_event,
)
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.topics import CONTROL_COMMANDS, console_topics
from tests.strategy_configs import CHATTY_STRATEGIES_TOML

WAIT_S = 15.0  # a bound for waits that end as soon as their condition holds


def chatty_settings(root: Path) -> Settings:
    """Settings whose strategies make plenty of signals, orders and fills in a few thousand ticks."""
    (root / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 100_000, "max_open_positions": 100})


@contextlib.contextmanager
def socket_dir() -> Iterator[Path]:
    # a short directory: a Unix socket path is limited to ~107 bytes
    with tempfile.TemporaryDirectory(prefix="cs-") as folder:
        yield Path(folder)


@dataclass
class Served:
    engine: Engine
    server: ControlServer
    stops: list[str] = field(default_factory=list)  # one entry per stop request


@contextlib.asynccontextmanager
async def serving(settings: Settings, socket_path: Path, **options: Any) -> AsyncIterator[Served]:
    """A started engine and its control server; stopped as the host stops them (consoles told last)."""
    engine = Engine(settings, paced=False, persist=False)
    stops: list[str] = []
    server = ControlServer(
        engine.bus,
        socket_path,
        engine.status,
        namespaces=engine.active_namespaces,
        on_stop=lambda: stops.append("stop"),
        version="test",
        **options,
    )
    server.wire()
    await engine.start()
    await server.start()
    try:
        yield Served(engine, server, stops)
    finally:
        await server.stop_listening()
        await engine.stop()
        await server.stop("the engine stopped")


class Console:
    """A SocketBus console that records every event it is streamed, and its attaches."""

    def __init__(self, socket_path: Path, *, read_only: bool = False, client: str = "test") -> None:
        self.bus = SocketBus(socket_path, read_only=read_only, client=client, reconnect_s=0.05)
        self.events: list[Event] = []
        self.attaches: list[tuple[Hello, bool]] = []
        self.refusals: list[tuple[str, str]] = []
        self.bus.subscribe(console_topics((Namespace.PAPER,)), "ui", self._on_event)
        self.bus.on_attached = self._on_attached
        self.bus.on_refused = lambda event_id, reason: self.refusals.append((event_id, reason))

    async def _on_event(self, event: Event) -> None:
        self.events.append(event)

    async def _on_attached(self, hello: Hello, restarted: bool) -> None:
        self.attaches.append((hello, restarted))

    async def __aenter__(self) -> Console:
        await self.bus.start()
        assert await self.bus.wait_attached(WAIT_S), self.bus.link
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.bus.stop()

    def of_type(self, kind: EventType) -> list[Event]:
        return [e for e in self.events if e.type is kind]

    async def ask_day_snapshot(self) -> str:
        request = DaySnapshotRequest(max_orders=100, max_fills=100)
        event = make_event(request, namespace=Namespace.SHARED, source="tui", key="day_snapshot")
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id

    async def command(self, action: CommandAction, target: str = "") -> str:
        command = Command(action=action, target=target, reason="from a test console", issued_by="tui")
        event = make_event(command, namespace=Namespace.SHARED, source="tui", key=target or action.value)
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event.id


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Wait until `condition` holds (checked every few ms); fail naming `what` if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class RawConsole:
    """A console on a plain non-blocking socket: it reads only when told to (or never)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    async def attach(cls, socket_path: Path, request: dict[str, Any] | None = None) -> RawConsole:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, str(socket_path))
        console = cls(sock)
        await console.send(msgspec.json.encode(request or {"op": "attach", "client": "raw"}) + b"\n")
        return console

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def frame(self) -> dict[str, Any]:
        """The next frame, as a dict ({} at the end of the stream)."""
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buffer:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 1 << 20), WAIT_S)
            if not chunk:
                return {}
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        frame = msgspec.json.decode(line)
        assert isinstance(frame, dict)
        return frame

    async def frame_of(self, kind: str) -> dict[str, Any]:
        """The next frame of this kind (others skipped); {} if the stream ends first."""
        while True:
            frame = await self.frame()
            if not frame or frame.get("kind") == kind:
                return frame

    async def rest(self) -> list[dict[str, Any]]:
        """Every frame up to the end of the stream."""
        frames = []
        while frame := await self.frame():
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.sock.close()

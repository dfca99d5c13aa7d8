"""SocketBus: a console's bus when it is attached to an engine running elsewhere, through its control socket.

Services written against the Bus (the UiBridge above all) run on it unchanged: `subscribe` as on any
bus, and the events the engine streams to this console (engine/control_stream.py) are delivered to
the handlers of their topics, with the bus's redelivery guard and retries. `publish` sends a command or
a request to the engine (only on control.commands; LinkDown when not attached: nothing was sent).

The link looks after itself: when the engine stops, the socket breaks or the engine cuts this console
off, `link` says so and the bus attaches again (waiting `reconnect_s`, doubling up to
`max_reconnect_s` while no engine answers). After each hello, `on_attached(hello, restarted)` runs
before any event of the new connection is delivered; `restarted` is True when the engine is another
run than the one before (its state is new: rebuild the picture). It must not wait for events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import msgspec

from engine.backoff import Backoff
from engine.bus.base import Bus, Subscription
from engine.control_stream import (
    Bye,
    EventFrame,
    Hello,
    Publish,
    Refused,
    ServerFrame,
    StopEngine,
    frame_bytes,
)
from engine.events import Event, MalformedEvent, decode_event, encode_event
from engine.topics import CONTROL_COMMANDS

__all__ = ["Hello", "LinkDown", "LinkState", "LinkStatus", "SocketBus"]

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 2.0
HELLO_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 5.0
MAX_FRAME_BYTES = 64 * 1024 * 1024  # a DaySnapshot with its recent events is one frame


class LinkState(StrEnum):
    CONNECTING = "connecting"
    ATTACHED = "attached"
    LOST = "lost"  # no engine answers, or it went away: reconnecting
    CUT_OFF = "cut_off"  # the engine cut this console off (it fell behind): re-attaching
    REFUSED = "refused"  # the engine refused the attach (e.g. too many consoles): trying again


@dataclass(slots=True)
class LinkStatus:
    state: LinkState = LinkState.CONNECTING
    detail: str = ""  # in words, for the header
    since: float = field(default_factory=time.monotonic)  # when the state began (monotonic seconds)
    hello: Hello | None = None  # the engine's last hello (kept while the link is down)
    attaches: int = 0  # hellos received


class LinkDown(ConnectionError):
    """Not attached to the engine now: nothing was sent."""


_server_frames = msgspec.json.Decoder(ServerFrame)


class SocketBus(Bus):
    def __init__(
        self,
        socket_path: Path,
        *,
        read_only: bool = False,
        client: str = "",
        reconnect_s: float = 1.0,
        max_reconnect_s: float = 5.0,
    ) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.read_only = read_only
        self.client = client
        self.link = LinkStatus()
        self.on_attached: Callable[[Hello, bool], Awaitable[None]] | None = None
        self.on_link: Callable[[LinkStatus], None] | None = None  # every change of `link`
        self.on_refused: Callable[[str, str], None] | None = None  # (event id or "", reason)
        self.refused: list[tuple[str, str]] = []  # the latest refusals, newest last
        self._backoff = Backoff(reconnect_s, cap=max(reconnect_s, max_reconnect_s))
        self._routes: dict[str, list[Subscription]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._attached = asyncio.Event()

    # -- Bus -----------------------------------------------------------------------------------------
    def _on_subscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            self._routes.setdefault(topic, []).append(sub)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="socket-bus")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._hang_up()

    async def publish(self, topic: str, event: Event) -> None:
        """Send a command or request to the engine; LinkDown when not attached (nothing was sent)."""
        if topic != CONTROL_COMMANDS:
            raise ValueError(f"an attached console publishes on {CONTROL_COMMANDS} only, not {topic!r}")
        await self._send(frame_bytes(Publish(msgspec.Raw(encode_event(event)), topic)))
        self._count_published(topic)

    async def stop_engine(self, reason: str) -> None:
        """Ask the engine to stop (as SIGTERM would); a refusal arrives through `on_refused`."""
        await self._send(frame_bytes(StopEngine(reason)))

    async def wait_attached(self, timeout: float) -> bool:
        """Wait (up to `timeout`) until attached; True if attached."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._attached.wait()
        return self._attached.is_set()

    @property
    def attached(self) -> bool:
        return self._attached.is_set()

    async def _send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or not self._attached.is_set():
            raise LinkDown(
                f"not attached to the engine ({self.link.detail or self.link.state.value}); nothing was sent"
            )
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
        except (OSError, TimeoutError, RuntimeError) as exc:
            raise LinkDown(f"the link to the engine broke while sending ({exc})") from None

    # -- the link ------------------------------------------------------------------------------------
    def _set(self, state: LinkState, detail: str) -> None:
        link = self.link
        if state is not link.state or detail != link.detail:
            link.state, link.detail, link.since = state, detail, time.monotonic()
            if self.on_link is not None:
                self.on_link(link)

    async def _run(self) -> None:
        while True:
            try:
                attached = await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler's or a frame's failure must not end the link
                log.exception("the link to the engine failed")
                self._set(LinkState.LOST, f"the link to the engine failed ({exc}); reconnecting")
                attached = False
            finally:
                self._attached.clear()
                await self._hang_up()
            if attached:
                self._backoff.reset()
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self) -> bool:
        """One connection, from attach to its end; True if it was attached."""
        self._set(LinkState.CONNECTING, f"connecting to {self.socket_path}")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.socket_path), limit=MAX_FRAME_BYTES), CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError):
            self._set(LinkState.LOST, f"no engine answers at {self.socket_path}; trying again")
            return False
        self._writer = writer
        request = {"op": "attach", "read_only": self.read_only, "client": self.client}
        try:
            writer.write(msgspec.json.encode(request) + b"\n")
            await asyncio.wait_for(writer.drain(), SEND_TIMEOUT_S)
            line = await asyncio.wait_for(reader.readline(), HELLO_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            self._set(
                LinkState.LOST, f"the engine did not answer the attach ({exc or 'timeout'}); trying again"
            )
            return False
        hello = self._hello(line)
        if hello is None:
            return False
        previous = self.link.hello
        restarted = previous is not None and previous.run_id != hello.run_id
        self.link.hello = hello
        self.link.attaches += 1
        self._attached.set()
        self._set(LinkState.ATTACHED, f"attached to the engine, pid {hello.pid}")
        if self.on_attached is not None:
            await self.on_attached(hello, restarted)
        await self._read(reader)
        return True

    def _hello(self, line: bytes) -> Hello | None:
        if not line:
            self._set(LinkState.LOST, "the engine closed the connection before its hello; trying again")
            return None
        try:
            frame = _server_frames.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            try:
                reply = msgspec.json.decode(line)
            except msgspec.DecodeError:
                reply = None
            error = reply.get("error") if isinstance(reply, dict) else None
            self._set(
                LinkState.REFUSED, f"the engine refused: {error}" if error else "unexpected reply to attach"
            )
            return None
        if not isinstance(frame, Hello):
            self._set(LinkState.REFUSED, f"unexpected first frame from the engine: {type(frame).__name__}")
            return None
        return frame

    async def _read(self, reader: asyncio.StreamReader) -> None:
        decode = _server_frames.decode
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                self._set(LinkState.LOST, "the engine closed the connection; reconnecting")
                return
            except (OSError, asyncio.LimitOverrunError) as exc:
                self._set(LinkState.LOST, f"the connection to the engine broke ({exc}); reconnecting")
                return
            frame = decode(line)
            if isinstance(frame, EventFrame):
                await self._dispatch(frame)
            elif isinstance(frame, Bye):
                state = LinkState.CUT_OFF if frame.cut_off else LinkState.LOST
                self._set(state, f"{frame.reason}; {'re-attaching' if frame.cut_off else 'reconnecting'}")
                return
            elif isinstance(frame, Refused):
                self._note_refused(frame)

    async def _dispatch(self, frame: EventFrame) -> None:
        subs = self._routes.get(frame.topic)
        if not subs:
            return
        try:
            event = decode_event(frame.event)
        except MalformedEvent as exc:
            log.warning("dropped an event from the engine that does not decode: %s", exc)
            return
        for sub in subs:
            await self._deliver(sub, frame.topic, event)

    def _note_refused(self, frame: Refused) -> None:
        self.refused.append((frame.event_id, frame.reason))
        del self.refused[:-20]
        log.warning("the engine refused %s: %s", frame.event_id or "a frame", frame.reason)
        if self.on_refused is not None:
            self.on_refused(frame.event_id, frame.reason)

    async def _hang_up(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

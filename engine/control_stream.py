"""Console streams: the engine's events, live, to every console attached through the control socket.

A console sends `{"op": "attach", "read_only": false, "client": "alice@laptop pid 42"}` as its first
line and the connection stays open: the server answers with a `hello` frame (or an error reply
`{"ok": false, "error": "..."}` and closes), then streams one frame per line (see the structs below).

The engine is never slowed down by a console. One subscription (group "consoles") takes every event a
console shows; its handler only appends to each console's outbox and never waits. Per console:

- ticks are conflated per instrument: only the newest one waits to be sent;
- every other event waits in order; a console more than `max_behind` events behind is cut off with a
  `bye` frame saying so (it can re-attach), and its connection closed (aborted if that does not finish);
- a writer task sends what waits in batches (at most one write per `flush_interval_s`) and waits for
  the socket to drain before the next write; it never holds up the others. With nothing to send for
  `heartbeat_s` it sends a heartbeat, so a console can tell a dead link from a quiet engine.

Answers go only to the console that asked: a DaySnapshot or OrderTrace to the console that published
its request, a CommandReply to the console that published its command. Commands, their
CommandResults and everything else go to every console. A console publishes only requests and
commands on control.commands; a read-only console may not publish a command nor stop the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from engine.bus.base import Bus
from engine.events import (
    Command,
    CommandReply,
    DaySnapshot,
    DaySnapshotRequest,
    DeadLetter,
    Event,
    EventType,
    MalformedEvent,
    MarketTick,
    Namespace,
    OrderTrace,
    OrderTraceRequest,
    decode_event,
    encode_event,
)
from engine.tasks import cancel_and_wait
from engine.topics import (
    CONTROL_COMMANDS,
    ENGINE_STATUS,
    MARKET_TICKS,
    TopicMap,
    console_topics,
    dlq_topic,
)

log = logging.getLogger(__name__)

STREAM_GROUP = "consoles"
MAX_CONSOLES = 16
MAX_BEHIND = 20_000  # events (ticks aside) waiting for one console before it is cut off
FLUSH_INTERVAL_S = 0.05
CLOSE_TIMEOUT_S = 3.0  # for a closing connection to flush; then it is aborted
HELLO_TIMEOUT_S = 5.0
MAX_ASKED = 256  # a console's requests awaiting their answer; older ones are forgotten
MAX_FRAME_BYTES = 64 * 1024  # a console's frame (its publish of a request or a command)
MAX_BATCH_FRAMES = 4_096  # frames in one write
HEARTBEAT_S = 2.0  # with nothing to send for this long, a heartbeat is sent


# -- frames, one JSON object per line, tagged by "kind" ------------------------------------------
class Hello(msgspec.Struct, frozen=True, tag="hello", tag_field="kind"):
    """The first frame of a stream: which engine this is. `run_id` is new every time an engine starts."""

    pid: int
    run_id: str
    data_dir: str
    namespaces: tuple[Namespace, ...]
    version: str
    read_only: bool
    started_at: float  # epoch seconds


class EventFrame(msgspec.Struct, frozen=True, tag="event", tag_field="kind"):
    """An event as published on `topic` (encoded as `encode_event` does)."""

    topic: str
    event: msgspec.Raw


class Refused(msgspec.Struct, frozen=True, tag="refused", tag_field="kind"):
    """A console's frame the engine did not act on; `event_id` is "" when it had no event."""

    event_id: str
    reason: str


class Heartbeat(msgspec.Struct, frozen=True, tag="heartbeat", tag_field="kind"):
    """Sent after `HEARTBEAT_S` with nothing else to send: a console hearing nothing for long knows the
    link is dead (a tunnel gone quiet) rather than the engine idle."""


class Bye(msgspec.Struct, frozen=True, tag="bye", tag_field="kind"):
    """The last frame: the engine stops, or this console is cut off (`cut_off`: it may re-attach)."""

    reason: str
    cut_off: bool = False


class Publish(msgspec.Struct, frozen=True, tag="publish", tag_field="kind"):
    """Console -> engine: publish a Command, DaySnapshotRequest or OrderTraceRequest."""

    event: msgspec.Raw
    topic: str = CONTROL_COMMANDS


class StopEngine(msgspec.Struct, frozen=True, tag="stop_engine", tag_field="kind"):
    """Console -> engine: stop the engine (as SIGTERM would)."""

    reason: str = ""


ServerFrame = Hello | EventFrame | Refused | Heartbeat | Bye
ClientFrame = Publish | StopEngine

_encode = msgspec.json.Encoder().encode
_client_frames = msgspec.json.Decoder(ClientFrame)

PUBLISHABLE = (Command, DaySnapshotRequest, OrderTraceRequest)
_MARKET_TICK = EventType.MARKET_TICK  # a module constant: an enum member's lookup costs ~0.3 us per tick
_REQUESTED = (DaySnapshot, OrderTrace)


def frame_bytes(frame: ServerFrame | ClientFrame) -> bytes:
    return _encode(frame) + b"\n"


_HEARTBEAT = frame_bytes(Heartbeat())


def event_frame(topic: str, event: Event) -> bytes:
    return _encode(EventFrame(topic, msgspec.Raw(encode_event(event)))) + b"\n"


_SHARED_TOPICS: dict[EventType, str] = {
    EventType.MARKET_TICK: MARKET_TICKS,
    EventType.COMMAND: CONTROL_COMMANDS,
    EventType.DAY_SNAPSHOT_REQUEST: CONTROL_COMMANDS,
    EventType.ORDER_TRACE_REQUEST: CONTROL_COMMANDS,
    EventType.COMMAND_RESULT: ENGINE_STATUS,
    EventType.COMMAND_REPLY: ENGINE_STATUS,
    EventType.ENGINE_STATUS: ENGINE_STATUS,
    EventType.DAY_SNAPSHOT: ENGINE_STATUS,
    EventType.ORDER_TRACE: ENGINE_STATUS,
}


def topic_of(event: Event) -> str:
    """The topic the event was published on (a bus handler is not told): each type has one."""
    payload = event.payload
    if isinstance(payload, DeadLetter):
        return dlq_topic(payload.topic)
    shared = _SHARED_TOPICS.get(event.type)
    if shared is not None:
        return shared
    return _namespaced_topic(event.namespace, event.type)


@functools.cache
def _namespaced_topic(namespace: Namespace, event_type: EventType) -> str:
    return TopicMap(namespace).for_event_type(event_type)


@dataclass(frozen=True, slots=True)
class ConsoleInfo:
    """One attached console, for status and health."""

    number: int
    client: str
    read_only: bool
    attached_at: float  # epoch seconds
    sent: int  # frames written to it
    conflated: int  # ticks replaced by a newer one before they were sent
    behind: int  # events waiting to be sent
    published: int  # requests and commands it published
    refused: int  # its frames the engine did not act on


class _Console:
    __slots__ = (
        "number",
        "client",
        "read_only",
        "writer",
        "attached_at",
        "ticks",
        "frames",
        "wakeup",
        "asked",
        "sent",
        "ticks_base",
        "ticks_sent",
        "published",
        "refused",
        "task",
        "last_frame",
    )

    def __init__(self, number: int, client: str, read_only: bool, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.client = client
        self.read_only = read_only
        self.writer = writer
        self.attached_at = time.time()
        self.ticks: dict[int, Event] = {}  # the newest unsent tick per instrument
        self.frames: deque[bytes] = deque()  # everything else, in order
        self.wakeup = asyncio.Event()
        self.asked: deque[str] = deque()  # ids of its requests awaiting an answer
        self.sent = 0
        self.ticks_base = 0  # the engine's tick count when it attached
        self.ticks_sent = 0
        self.published = 0
        self.refused = 0
        self.task: asyncio.Task[None] | None = None
        self.last_frame = b""  # the writer stops once it has written this frame (the bye)

    def info(self, ticks_in: int) -> ConsoleInfo:
        """`ticks_in`: ticks the engine has streamed so far (to every console)."""
        return ConsoleInfo(
            number=self.number,
            client=self.client,
            read_only=self.read_only,
            attached_at=self.attached_at,
            sent=self.sent,
            conflated=ticks_in - self.ticks_base - self.ticks_sent - len(self.ticks),
            behind=len(self.frames),
            published=self.published,
            refused=self.refused,
        )


class AttachError(Exception):
    """An attach request the engine refuses; the message is for the console's user."""


class ConsoleStreams:
    def __init__(
        self,
        bus: Bus,
        namespaces: Sequence[Namespace],
        *,
        data_dir: str = "",
        version: str = "",
        on_stop: Callable[[], None] | None = None,
        max_consoles: int = MAX_CONSOLES,
        max_behind: int = MAX_BEHIND,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.bus = bus
        self.namespaces = tuple(dict.fromkeys(namespaces))
        self.data_dir = data_dir
        self.version = version
        self.on_stop = on_stop
        self.max_consoles = max_consoles
        self.max_behind = max_behind
        self.flush_interval_s = flush_interval_s
        self.close_timeout_s = close_timeout_s
        self.heartbeat_s = heartbeat_s
        self.run_id = uuid.uuid4().hex
        self.started_at = time.time()
        self._consoles: tuple[_Console, ...] = ()  # replaced, never changed in place: handlers iterate it
        self._asked: dict[str, _Console] = {}  # request or command id -> the console that published it
        self._closers: set[asyncio.Task[None]] = set()
        self._numbers = 0
        self._closing = False
        self._wired = False
        self._ticks_in = 0  # ticks streamed, to however many consoles
        self.attached = 0  # consoles ever attached
        self.cut_off = 0  # consoles cut off for falling behind (or for a frame too long)

    def wire(self) -> None:
        if not self._wired:
            self.bus.subscribe(console_topics(self.namespaces), STREAM_GROUP, self._on_event)
            self._wired = True

    @property
    def closing(self) -> int:
        """Connections of consoles cut off that are still closing."""
        return len(self._closers)

    def consoles(self) -> list[ConsoleInfo]:
        return [console.info(self._ticks_in) for console in self._consoles]

    # -- fan-out: the engine's side, never waits -------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        consoles = self._consoles
        if not consoles:
            return
        if event.type is _MARKET_TICK:
            self._ticks_in += 1
            tick = event.payload
            assert isinstance(tick, MarketTick)
            token = tick.instrument_token
            for console in consoles:
                console.ticks[token] = event
                if not console.wakeup.is_set():
                    console.wakeup.set()
            return
        payload = event.payload
        if isinstance(payload, _REQUESTED):
            asker = self._asked.pop(payload.request_id, None)
        elif isinstance(payload, CommandReply):
            asker = self._asked.pop(payload.command_id, None)
        else:
            frame = event_frame(topic_of(event), event)
            for console in consoles:
                self._queue(console, frame)
            return
        if asker is not None and asker in consoles:  # an answer to nobody attached goes nowhere
            self._queue(asker, event_frame(ENGINE_STATUS, event))

    def _queue(self, console: _Console, frame: bytes) -> None:
        frames = console.frames
        frames.append(frame)
        if len(frames) > self.max_behind:
            self._cut(console, f"this console fell {len(frames):,} events behind the engine; re-attach")
        elif not console.wakeup.is_set():
            console.wakeup.set()

    # -- one console's writer ------------------------------------------------------------------
    async def _write(self, console: _Console) -> None:
        try:
            await self._write_batches(console)
        except (ConnectionError, OSError):  # the console went away; its reader sees the end too
            log.debug("console %d: its connection broke while writing", console.number)

    async def _write_batches(self, console: _Console) -> None:
        writer = console.writer
        wakeup = console.wakeup
        interval = self.flush_interval_s
        while True:
            if not wakeup.is_set():
                try:
                    await asyncio.wait_for(wakeup.wait(), self.heartbeat_s)
                except TimeoutError:
                    writer.write(_HEARTBEAT)
                    await writer.drain()
                    continue
            wakeup.clear()
            ticks = console.ticks
            batch: list[bytes] = []
            if ticks:
                console.ticks = {}
                batch = [event_frame(MARKET_TICKS, tick) for tick in ticks.values()]
                console.ticks_sent += len(batch)
            frames = console.frames
            for _ in range(min(len(frames), MAX_BATCH_FRAMES)):
                batch.append(frames.popleft())
            if frames:
                wakeup.set()
            if not batch:
                continue
            writer.write(b"".join(batch))
            console.sent += len(batch)
            if batch[-1] is console.last_frame:
                return
            await writer.drain()
            await asyncio.sleep(interval)  # what arrives meanwhile goes in the next batch

    # -- attach: serve one console until it goes -------------------------------------------------
    async def serve(
        self, request: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Stream to the console whose first line was `request` (an attach), and act on its frames."""
        try:
            console = self._attach(request, writer)
        except AttachError as exc:
            await self._refuse_attach(writer, str(exc))
            return
        log.info(
            "console %d attached: %s%s",
            console.number,
            console.client or "?",
            " (read-only)" * console.read_only,
        )
        try:
            await self._read_frames(console, reader)
        finally:
            if console in self._consoles:  # it went away (not cut off, not closed by the engine)
                self._drop(console)
                await self._close(console, None)
            log.info("console %d detached: %s", console.number, console.client or "?")

    def _attach(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> _Console:
        if self._closing:
            raise AttachError("the engine is stopping")
        if len(self._consoles) >= self.max_consoles:
            raise AttachError(
                f"{self.max_consoles} consoles are attached already, the most this engine serves; "
                "detach one (or use the one-shot commands: alpha-panda-tui status, halt ...)"
            )
        read_only = request.get("read_only", False)
        client = request.get("client", "")
        if type(read_only) is not bool or not isinstance(client, str):
            raise AttachError('attach takes "read_only": true/false and "client": "text"')
        self._numbers += 1
        console = _Console(self._numbers, client[:200], read_only, writer)
        hello = Hello(
            pid=os.getpid(),
            run_id=self.run_id,
            data_dir=self.data_dir,
            namespaces=self.namespaces,
            version=self.version,
            read_only=read_only,
            started_at=self.started_at,
        )
        console.ticks_base = self._ticks_in
        writer.write(frame_bytes(hello))  # before any tick: the writer sends ticks ahead of other frames
        console.sent += 1
        self._consoles = (*self._consoles, console)
        self.attached += 1
        console.task = asyncio.create_task(self._write(console), name=f"console-{console.number}")
        return console

    async def _refuse_attach(self, writer: asyncio.StreamWriter, error: str) -> None:
        writer.write(_encode({"ok": False, "error": error}) + b"\n")
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(writer.drain(), HELLO_TIMEOUT_S)
        await self._close_transport(writer)

    async def _read_frames(self, console: _Console, reader: asyncio.StreamReader) -> None:
        while console in self._consoles:
            try:
                line = await reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return  # the console went away
            except asyncio.LimitOverrunError:
                self._cut(console, f"this console sent a frame longer than {MAX_FRAME_BYTES:,} bytes")
                return
            await self._on_frame(console, line)

    async def _on_frame(self, console: _Console, line: bytes) -> None:
        try:
            frame = _client_frames.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            self._refuse(console, "", f"not a frame the engine understands ({str(exc)[:200]})")
            return
        if isinstance(frame, StopEngine):
            self._stop_engine(console, frame.reason)
            return
        try:
            event = decode_event(frame.event)
        except MalformedEvent as exc:
            self._refuse(console, "", f"not an event ({str(exc)[:200]})")
            return
        reason = self._why_not(console, frame.topic, event)
        if reason:
            self._refuse(console, event.id, reason)
            return
        self._remember_ask(console, event.id)  # its answer (a reply, a snapshot, a trace) goes to it alone
        try:
            await self.bus.publish(CONTROL_COMMANDS, event)
        except Exception as exc:
            self._forget_ask(event.id)
            log.warning("console %d: could not publish %s: %s", console.number, event.type.value, exc)
            self._refuse(console, event.id, f"the engine could not publish it ({exc})")
            return
        console.published += 1

    @staticmethod
    def _why_not(console: _Console, topic: str, event: Event) -> str:
        """Why the console may not publish this event; "" when it may."""
        if topic != CONTROL_COMMANDS:
            return f"a console publishes on {CONTROL_COMMANDS} only, not on {topic!r}"
        if not isinstance(event.payload, PUBLISHABLE):
            return f"a console publishes commands and requests only, not {event.type.value}"
        if console.read_only and isinstance(event.payload, Command):
            return "read-only console: commands are not accepted"
        return ""

    def _stop_engine(self, console: _Console, reason: str) -> None:
        if console.read_only:
            self._refuse(console, "", "read-only console: it cannot stop the engine")
        elif self.on_stop is None:
            self._refuse(console, "", "this engine cannot be stopped from a console")
        else:
            log.warning(
                "stop requested by console %d (%s): %s", console.number, console.client or "?", reason or "-"
            )
            self.on_stop()

    def _refuse(self, console: _Console, event_id: str, reason: str) -> None:
        console.refused += 1
        self._queue(console, frame_bytes(Refused(event_id, reason)))

    def _remember_ask(self, console: _Console, event_id: str) -> None:
        self._asked[event_id] = console
        asked = console.asked
        asked.append(event_id)
        if len(asked) > MAX_ASKED:
            self._forget_ask(asked.popleft())

    def _forget_ask(self, event_id: str) -> None:
        self._asked.pop(event_id, None)

    # -- cut off, detach, stop --------------------------------------------------------------------
    def _drop(self, console: _Console) -> None:
        self._consoles = tuple(c for c in self._consoles if c is not console)
        for event_id in console.asked:
            if self._asked.get(event_id) is console:
                del self._asked[event_id]
        console.asked.clear()

    def _cut(self, console: _Console, reason: str) -> None:
        """Cut the console off now (the caller cannot wait): the closing runs in its own task."""
        if console not in self._consoles:
            return
        self._drop(console)
        self.cut_off += 1
        console.frames.clear()
        console.ticks = {}
        log.warning("console %d (%s) cut off: %s", console.number, console.client or "?", reason)
        closer = asyncio.create_task(self._close(console, Bye(reason, cut_off=True)))
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)

    async def _close(self, console: _Console, bye: Bye | None, *, flush: bool = False) -> None:
        """End the console's writer (after what waits, if `flush`), send `bye`, close the connection."""
        task = console.task
        if flush and bye is not None and task is not None and not task.done():
            console.last_frame = frame_bytes(bye)
            console.frames.append(console.last_frame)
            console.wakeup.set()
            with contextlib.suppress(TimeoutError, ConnectionError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), self.close_timeout_s)
            if not task.done():  # it does not read: nothing more can reach it
                await cancel_and_wait(task)
                console.writer.transport.abort()
                return
            bye = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        if bye is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                console.writer.write(frame_bytes(bye))
        await self._close_transport(console.writer)

    async def _close_transport(self, writer: asyncio.StreamWriter) -> None:
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), self.close_timeout_s)
        except (TimeoutError, ConnectionError, OSError):
            writer.transport.abort()

    async def close(self, reason: str) -> None:
        """Say `reason` to every console after what waits for it (within the close timeout), then close."""
        self._closing = True
        consoles, self._consoles = self._consoles, ()
        self._asked.clear()
        closing = [self._close(console, Bye(reason), flush=True) for console in consoles]
        await asyncio.gather(*closing, *list(self._closers), return_exceptions=True)

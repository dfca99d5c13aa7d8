"""The control socket: how a second terminal (another SSH session) drives a running engine.

A Unix socket in the data dir (mode 0600, so only the same user), one JSON
request per line, one JSON reply per line:

    {"op": "status"}                                  -> {"ok": true, "status": {...EngineStatus...}}
    {"op": "command", "action": "halt", "target": ""} -> {"ok": true, "reply": {...CommandReply...}}
    {"op": "day_snapshot", "max_orders": 500}         -> {"ok": true, "snapshot": {...DaySnapshot...}}
    {"op": "stop", "reason": "end of day"}            -> {"ok": true, "stopping": true, "pid": 123}
    anything the engine cannot answer                 -> {"ok": false, "error": "..."}

A command is published on the bus like any other (so the engine cannot tell
a socket command from a TUI keypress); the engine's command router answers it
with one CommandReply carrying every service's result, or naming the services
that did not answer in time (then "ok" is false). The server waits for that
reply, and for nothing else: a timeout is its only wait. A day snapshot is
asked for the same way: a DaySnapshotRequest on the bus, its DaySnapshot back.
The reply shapes are the structs below; a client decodes them with
`msgspec.convert` (see alpha_panda_tui/control_client.py). "stop" asks the
engine's host to stop it, as SIGTERM does ("ok" false when this engine has no
host that can).

One request keeps its connection open: attach, the stream a console runs on
(engine/control_stream.py has the frames and the rules):

    {"op": "attach", "read_only": false, "client": "alice@laptop pid 42"}
      <- {"kind": "hello", "pid": .., "run_id": "..", "data_dir": "..", "namespaces": ["paper"],
          "version": "..", "read_only": false, "started_at": 1764680000.0}   (or {"ok": false, "error": ..})
      <- {"kind": "event", "topic": "market.ticks", "event": {...as encode_event...}}   ... the live events
      -> {"kind": "publish", "topic": "control.commands", "event": {...}}   a Command or a request
      <- {"kind": "refused", "event_id": "..", "reason": ".."}              what the engine did not act on
      -> {"kind": "stop_engine", "reason": ".."}                            stop the engine (not read-only)
      <- {"kind": "bye", "reason": "..", "cut_off": false}                  the last frame

A client cannot hurt the engine: garbage, a partial or oversized request gets
an error reply; a connection that sends no request in time is answered with
an error and closed, as is one that does not read its reply; a client that
goes away early is no error. At most `max_connections` are handled at once;
others wait for a turn (up to the request timeout, and at most
`max_waiting` of them) or get a "busy" reply, so a burst of clients is
answered or cleanly refused, never left hanging or reset. An attached console
holds no turn once attached; at most `max_consoles` attach at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from engine.bus.base import Bus
from engine.commands import COMMAND_TIMEOUT_S
from engine.control_stream import CLOSE_TIMEOUT_S, MAX_BEHIND, MAX_CONSOLES, ConsoleStreams
from engine.day_snapshot import MAX_ROWS
from engine.events import (
    Command,
    CommandAction,
    CommandReply,
    DaySnapshot,
    DaySnapshotRequest,
    EngineStatus,
    Event,
    Namespace,
    make_event,
)
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS

log = logging.getLogger(__name__)

REPLY_WAIT_S = COMMAND_TIMEOUT_S + 2.0  # for the router's reply (it answers within its timeout)
MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 5.0  # to send a whole request line, and again to read the reply
MAX_CONNECTIONS = 256  # handled at once
MAX_WAITING = 2048  # waiting for a turn; more are answered "busy" at once
LISTEN_BACKLOG = 1024  # connections the kernel holds until they are accepted (capped by somaxconn)
LINGER_S = 1.0  # after the reply, for the client to close first (closing on unread bytes resets it)


# The replies, as they go over the socket (encoded with msgspec, decoded by the client).
class ErrorReply(msgspec.Struct, frozen=True):
    error: str
    ok: bool = False


class StatusReply(msgspec.Struct, frozen=True):
    status: EngineStatus
    ok: bool = True


class CommandAnswer(msgspec.Struct, frozen=True):
    """The engine's one reply to a command; `ok` is the reply's."""

    reply: CommandReply
    ok: bool


class DaySnapshotReply(msgspec.Struct, frozen=True):
    snapshot: DaySnapshot
    ok: bool = True


class StoppingReply(msgspec.Struct, frozen=True):
    """The engine's host was asked to stop it, and does."""

    pid: int
    stopping: bool = True
    ok: bool = True


Reply = ErrorReply | StatusReply | CommandAnswer | DaySnapshotReply | StoppingReply
Answer = CommandReply | DaySnapshot  # what the server waits for on engine.status


class ControlServer:
    def __init__(
        self,
        bus: Bus,
        socket_path: Path,
        status: Callable[[], EngineStatus],
        *,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        reply_wait_s: float = REPLY_WAIT_S,
        max_connections: int = MAX_CONNECTIONS,
        max_waiting: int = MAX_WAITING,
        namespaces: Sequence[Namespace] = (Namespace.PAPER,),
        on_stop: Callable[[], None] | None = None,
        version: str = "",
        max_consoles: int = MAX_CONSOLES,
        max_behind: int = MAX_BEHIND,
        close_timeout_s: float = CLOSE_TIMEOUT_S,
    ) -> None:
        """`namespaces`: the engine's (what attached consoles are streamed); `on_stop`: stops the
        engine (the host's), for op "stop" and a console's stop_engine; None = they are refused."""
        self.bus = bus
        self.socket_path = socket_path
        self._status = status
        self._request_timeout_s = request_timeout_s
        self.reply_wait_s = reply_wait_s
        self._max_connections = max_connections
        self._max_waiting = max_waiting
        self._turns = asyncio.Semaphore(max_connections)
        self._server: asyncio.AbstractServer | None = None
        self._stopping = False
        self._answers: dict[str, asyncio.Future[Answer]] = {}  # by request id
        self._handlers: set[asyncio.Task[Any]] = set()
        self.on_stop = on_stop
        self.streams = ConsoleStreams(
            bus,
            namespaces,
            data_dir=str(socket_path.parent),
            version=version,
            on_stop=on_stop,
            max_consoles=max_consoles,
            max_behind=max_behind,
            close_timeout_s=close_timeout_s,
        )
        self.accepted = 0
        self.connections = 0  # being handled now
        self.waiting = 0  # for a turn
        self.answered = 0
        self.refused = 0  # answered "busy"
        self.timed_out = 0  # sent no request, or did not read the reply, in time
        self.gone = 0  # went away before their reply

    def wire(self) -> None:
        self.bus.subscribe([ENGINE_STATUS], "control", self._on_status_topic)
        self.streams.wire()

    async def _on_status_topic(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, CommandReply):
            request_id = payload.command_id
        elif isinstance(payload, DaySnapshot):
            request_id = payload.request_id
        else:
            return
        answer = self._answers.get(request_id)
        if answer is not None and not answer.done():
            answer.set_result(payload)

    async def start(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if await _socket_alive(self.socket_path):
                raise RuntimeError(
                    f"another engine is already running (control socket {self.socket_path} answers)"
                )
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.socket_path), limit=MAX_REQUEST_BYTES, backlog=LISTEN_BACKLOG
        )
        os.chmod(self.socket_path, 0o600)

    async def stop_listening(self) -> None:
        """Accept no more connections; attached consoles go on streaming (e.g. the engine's last events)."""
        if self._server is not None:
            self._server.close()
            self._server = None
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()

    async def stop(self, reason: str = "the engine stopped") -> None:
        """Stop listening, say `reason` to every attached console, end every connection."""
        await self.stop_listening()
        await self.streams.close(reason)
        self._stopping = True
        handlers, self._handlers = list(self._handlers), set()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:  # so stop() can end the connections still open
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            attach = await self._answer(reader, writer)
            if attach is None:
                await self._close(reader, writer)
            else:  # the connection is a console's stream now, until it goes
                await self.streams.serve(attach, reader, writer)
        except asyncio.CancelledError:  # the server stops
            writer.transport.abort()
            if not self._stopping:
                raise
            # end quietly: Python 3.11's stream callback reports a cancelled handler as an error

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, Any] | None:
        """Answer the connection's request; an attach request is returned instead (to be streamed)."""
        self.accepted += 1
        if not await self._turn():
            self.refused += 1
            busy = f"the engine is busy ({self._max_connections} control connections open); try again"
            await self._send(writer, ErrorReply(busy))
            return None
        self.connections += 1
        try:
            reply = await self._reply_to(reader)
            if isinstance(reply, dict):
                return reply
            if reply is not None and await self._send(writer, reply):
                self.answered += 1
        except Exception:  # a bad client must never hurt the engine, nor fill its log
            log.exception("control connection failed")
        finally:
            self.connections -= 1
            self._turns.release()
        return None

    async def _turn(self) -> bool:
        """Wait for one of the `max_connections` turns; False if too many wait, or for too long."""
        if self._turns.locked() and self.waiting >= self._max_waiting:
            return False
        self.waiting += 1
        try:
            async with asyncio.timeout(self._request_timeout_s):
                await self._turns.acquire()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

    async def _reply_to(self, reader: asyncio.StreamReader) -> Reply | dict[str, Any] | None:
        """The reply to the connection's request line; None if the client went away first; the
        request itself if it is an attach."""
        try:
            line = await asyncio.wait_for(reader.readuntil(b"\n"), self._request_timeout_s)
        except TimeoutError:
            self.timed_out += 1
            return ErrorReply(f"no request line within {self._request_timeout_s:g} s")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                self._went_away("before its request")
                return None
            line = exc.partial  # the client half-closed after a request without its newline
        except asyncio.LimitOverrunError:
            return ErrorReply(f"request longer than {MAX_REQUEST_BYTES:,} bytes")
        except ConnectionError:
            self._went_away("while sending its request")
            return None
        attach = _attach_request(line)
        if attach is not None:
            return attach
        try:
            return await self.handle_request(line)
        except Exception:
            log.exception("control request %r failed", line[:200])
            return ErrorReply("the engine could not handle the request; see its log")

    async def _send(self, writer: asyncio.StreamWriter, reply: Reply) -> bool:
        try:
            writer.write(msgspec.json.encode(reply) + b"\n")
            await asyncio.wait_for(writer.drain(), self._request_timeout_s)
        except TimeoutError:
            self.timed_out += 1
            log.debug("control client did not read its reply within %g s", self._request_timeout_s)
            return False
        except ConnectionError:
            self._went_away("before its reply")
            return False
        return True

    def _went_away(self, when: str) -> None:
        self.gone += 1
        log.debug("control client went away %s", when)

    async def _close(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close after the client has (or a short while has passed): a socket closed with bytes
        unread resets the connection, and the client could lose the reply it has not read yet."""
        try:
            if writer.can_write_eof():
                writer.write_eof()
            await asyncio.wait_for(_discard(reader), LINGER_S)
        except (TimeoutError, ConnectionError, OSError):
            pass
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), LINGER_S)
        except (TimeoutError, ConnectionError, OSError):
            writer.transport.abort()

    async def handle_request(self, line: bytes) -> Reply:
        try:
            request = msgspec.json.decode(line)
        except (msgspec.DecodeError, RecursionError):
            return ErrorReply("request is not JSON")
        if not isinstance(request, dict):
            return ErrorReply("request must be a JSON object")
        op = request.get("op")
        if op == "status":
            return StatusReply(self._status())
        if op == "command":
            return await self._command(request)
        if op == "day_snapshot":
            return await self._day_snapshot(request)
        if op == "stop":
            return self._stop(request)
        if op == "attach":
            return ErrorReply("attach keeps its connection open: send it as the connection's first line")
        return ErrorReply(f"unknown op {op!r}; use 'status', 'command', 'day_snapshot', 'stop' or 'attach'")

    def _stop(self, request: dict[str, Any]) -> Reply:
        if self.on_stop is None:
            return ErrorReply("this engine cannot be stopped over its control socket; stop its process")
        log.warning("stop requested over the control socket: %s", str(request.get("reason", "")) or "-")
        self.on_stop()
        return StoppingReply(pid=os.getpid())

    async def _command(self, request: dict[str, Any]) -> Reply:
        try:
            action = CommandAction(request.get("action", ""))
        except (ValueError, TypeError):
            known = ", ".join(a.value for a in CommandAction)
            return ErrorReply(f"unknown action {request.get('action')!r}; known: {known}")
        command = Command(
            action=action,
            target=str(request.get("target", "")),
            reason=str(request.get("reason", "")),
            issued_by=str(request.get("issued_by", "cli")),
        )
        reply = await self.send(command)
        if reply is None:
            return ErrorReply(f"the engine did not answer the command within {self.reply_wait_s:g} s")
        return CommandAnswer(reply, ok=reply.ok)

    async def _day_snapshot(self, request: dict[str, Any]) -> Reply:
        limits = {}
        for name in ("max_orders", "max_fills"):
            value = request.get(name, 500)
            if type(value) is not int or not 0 <= value <= MAX_ROWS:
                return ErrorReply(f"{name} must be a whole number from 0 to {MAX_ROWS:,}")
            limits[name] = value
        snapshot = await self.day_snapshot(**limits)
        if snapshot is None:
            return ErrorReply(f"the engine did not send the day snapshot within {self.reply_wait_s:g} s")
        return DaySnapshotReply(snapshot)

    async def send(self, command: Command) -> CommandReply | None:
        """Publish a command; the engine's one reply to it, or None if none came in time."""
        event = make_event(command, namespace=Namespace.SHARED, source="control", key=command.action.value)
        answer = await self._ask(event)
        return answer if isinstance(answer, CommandReply) else None

    async def day_snapshot(self, max_orders: int = 500, max_fills: int = 500) -> DaySnapshot | None:
        """The trading day so far, asked for on the bus as a console does; None if it did not come."""
        request = DaySnapshotRequest(max_orders=max_orders, max_fills=max_fills)
        event = make_event(request, namespace=Namespace.SHARED, source="control", key="day_snapshot")
        answer = await self._ask(event)
        return answer if isinstance(answer, DaySnapshot) else None

    async def _ask(self, event: Event) -> Answer | None:
        """Publish a request and wait (up to `reply_wait_s`, the publish included) for its answer."""
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._answers[event.id] = answer
        try:
            async with asyncio.timeout(self.reply_wait_s):
                await self.bus.publish(CONTROL_COMMANDS, event)
                return await answer
        except TimeoutError:
            return None
        finally:
            self._answers.pop(event.id, None)


def _attach_request(line: bytes) -> dict[str, Any] | None:
    """The request, if the line is an attach request."""
    try:
        request = msgspec.json.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(request, dict) and request.get("op") == "attach":
        return request
    return None


async def _discard(reader: asyncio.StreamReader) -> None:
    """Read and drop whatever the client still sends, until it closes."""
    while await reader.read(MAX_REQUEST_BYTES):
        pass


async def _socket_alive(path: Path) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True

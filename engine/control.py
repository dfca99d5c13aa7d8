"""The control socket: how a second terminal (another SSH session) drives a running engine.

A Unix socket in the data dir (mode 0600, so only the same user), one JSON
request per line, one JSON reply per line:

    {"op": "status"}                                  -> {"ok": true, "status": {...EngineStatus...}}
    {"op": "command", "action": "halt", "target": ""} -> {"ok": true, "results": [{...CommandResult...}]}

A command is published on the bus like any other (so the engine cannot tell
a socket command from a TUI keypress) and the reply carries every
CommandResult the services answered it with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from engine.bus.base import Bus
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    EngineStatus,
    Event,
    Namespace,
    make_event,
)
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS

log = logging.getLogger(__name__)

RESULT_WAIT_S = 2.0  # for the first answer
RESULT_SETTLE_S = 0.1  # for further answers (e.g. one per namespace's risk manager)
MAX_REQUEST_BYTES = 64 * 1024


class ControlServer:
    def __init__(self, bus: Bus, socket_path: Path, status: Callable[[], EngineStatus]) -> None:
        self.bus = bus
        self.socket_path = socket_path
        self._status = status
        self._server: asyncio.AbstractServer | None = None
        self._waiting: dict[str, list[CommandResult]] = {}
        self._arrived: dict[str, asyncio.Event] = {}

    def wire(self) -> None:
        self.bus.subscribe([ENGINE_STATUS], "control", self._on_status_topic)

    async def _on_status_topic(self, event: Event) -> None:
        payload = event.payload
        if isinstance(payload, CommandResult) and payload.command_id in self._waiting:
            self._waiting[payload.command_id].append(payload)
            self._arrived[payload.command_id].set()

    async def start(self) -> None:
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists():
            if await _socket_alive(self.socket_path):
                raise RuntimeError(
                    f"another engine is already running (control socket {self.socket_path} answers)"
                )
            self.socket_path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.socket_path), limit=MAX_REQUEST_BYTES
        )
        os.chmod(self.socket_path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            reply = await self.handle_request(line)
        except Exception as exc:  # a bad client must never hurt the engine
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        try:
            writer.write(msgspec.json.encode(reply) + b"\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def handle_request(self, line: bytes) -> dict[str, Any]:
        try:
            request = msgspec.json.decode(line)
        except msgspec.DecodeError:
            return {"ok": False, "error": "request is not JSON"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        op = request.get("op")
        if op == "status":
            return {"ok": True, "status": msgspec.to_builtins(self._status())}
        if op == "command":
            try:
                action = CommandAction(request.get("action", ""))
            except ValueError:
                known = ", ".join(a.value for a in CommandAction)
                return {"ok": False, "error": f"unknown action {request.get('action')!r}; known: {known}"}
            results = await self.send(
                Command(
                    action=action,
                    target=str(request.get("target", "")),
                    reason=str(request.get("reason", "")),
                    issued_by=str(request.get("issued_by", "cli")),
                )
            )
            if not results:
                return {"ok": False, "error": "the engine did not answer the command in time"}
            return {
                "ok": all(r.ok for r in results),
                "results": [msgspec.to_builtins(r) for r in results],
            }
        return {"ok": False, "error": f"unknown op {op!r}; use 'status' or 'command'"}

    async def send(self, command: Command) -> list[CommandResult]:
        event = make_event(command, namespace=Namespace.SHARED, source="control", key=command.action.value)
        self._waiting[event.id] = []
        self._arrived[event.id] = arrived = asyncio.Event()
        try:
            await self.bus.publish(CONTROL_COMMANDS, event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), RESULT_WAIT_S)
                await asyncio.sleep(RESULT_SETTLE_S)
            return list(self._waiting[event.id])
        finally:
            self._waiting.pop(event.id, None)
            self._arrived.pop(event.id, None)


async def _socket_alive(path: Path) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True

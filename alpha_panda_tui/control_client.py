"""The client side of the control socket (`status`, `halt`, `resume`, `stop` ... from another terminal).

`request` returns whatever came back as a dict (an error reply for anything that is not a
reply); `status`, `command` and `day_snapshot` decode the answer into the engine's structs
and raise `ControlError` with the engine's message when there is no answer to decode."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from engine.control import CommandAnswer, DaySnapshotReply, StatusReply, StoppingReply
from engine.events import CommandAction, CommandReply, DaySnapshot, EngineStatus

CONNECT_TIMEOUT_S = 2.0
REPLY_TIMEOUT_S = 10.0
MAX_REPLY_BYTES = 16 * 1024 * 1024

T = TypeVar("T")


class EngineNotRunning(Exception):
    def __init__(self, socket_path: Path) -> None:
        super().__init__(
            f"no running engine answers at {socket_path}.\n"
            "Start one with `alpha-panda-tui launch --headless` (or `launch`) using the same data dir."
        )


class ControlError(Exception):
    """The engine answered with an error (or not with an answer); the message says which."""


async def request(socket_path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """The engine's reply to one request; a reply that never comes, or is not one, is an error reply."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(socket_path), limit=MAX_REPLY_BYTES), CONNECT_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        raise EngineNotRunning(socket_path) from None
    try:
        writer.write(msgspec.json.encode(payload) + b"\n")
        # an engine that refuses at once ("busy") may have closed already: its reply is still there
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"the engine did not reply within {REPLY_TIMEOUT_S:g} s"}
    except (OSError, ValueError) as exc:  # reset by the engine, or a reply beyond MAX_REPLY_BYTES
        return {"ok": False, "error": f"the connection to the engine failed ({exc})"}
    finally:
        writer.close()
    if not line:
        return {"ok": False, "error": "the engine closed the connection"}
    try:
        reply = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return {"ok": False, "error": "unexpected reply from the engine (not JSON)"}
    if not isinstance(reply, dict):
        return {"ok": False, "error": "unexpected reply from the engine"}
    return reply


def send(socket_path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(request(socket_path, payload))


def status(socket_path: Path) -> EngineStatus:
    return status_reply(socket_path).status


def status_reply(socket_path: Path) -> StatusReply:
    """The engine's status and the consoles attached to it."""
    return _decode(send(socket_path, {"op": "status"}), StatusReply)


def command(
    socket_path: Path, action: CommandAction, *, target: str = "", reason: str = "", issued_by: str = "cli"
) -> CommandReply:
    """The engine's one reply to the command: every service's result, and who did not answer."""
    payload = {"op": "command", "action": action.value, "target": target, "reason": reason}
    return _decode(send(socket_path, {**payload, "issued_by": issued_by}), CommandAnswer).reply


def day_snapshot(socket_path: Path, *, max_orders: int = 500, max_fills: int = 500) -> DaySnapshot:
    payload = {"op": "day_snapshot", "max_orders": max_orders, "max_fills": max_fills}
    return _decode(send(socket_path, payload), DaySnapshotReply).snapshot


def stop(socket_path: Path, reason: str = "") -> int:
    """Ask the engine to stop (as SIGTERM would); the pid of the engine that is stopping."""
    return _decode(send(socket_path, {"op": "stop", "reason": reason}), StoppingReply).pid


def _decode(reply: dict[str, Any], kind: type[T]) -> T:
    if "error" in reply:
        raise ControlError(str(reply["error"]))
    try:
        return msgspec.convert(reply, kind)
    except msgspec.ValidationError as exc:
        raise ControlError(f"unexpected reply from the engine ({exc})") from None

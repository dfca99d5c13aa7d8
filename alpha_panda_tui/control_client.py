"""The client side of the control socket (`status`, `strategy`, `halt`, `resume` from another terminal)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import msgspec

CONNECT_TIMEOUT_S = 2.0
REPLY_TIMEOUT_S = 10.0
MAX_REPLY_BYTES = 16 * 1024 * 1024


class EngineNotRunning(Exception):
    def __init__(self, socket_path: Path) -> None:
        super().__init__(
            f"no running engine answers at {socket_path}.\n"
            "Start one with `alpha-panda-tui launch --headless` (or `launch`) using the same data dir."
        )


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

"""The client side of the control socket (`status`, `strategy`, `halt`, `resume` from another terminal)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

REPLY_TIMEOUT_S = 10.0


class EngineNotRunning(Exception):
    def __init__(self, socket_path: Path) -> None:
        super().__init__(
            f"no running engine answers at {socket_path}.\n"
            "Start one with `alpha-panda-tui launch --headless` (or `launch`) using the same data dir."
        )


async def request(socket_path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(socket_path)), 2.0)
    except (OSError, TimeoutError):
        raise EngineNotRunning(socket_path) from None
    try:
        writer.write(msgspec.json.encode(payload) + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT_S)
    finally:
        writer.close()
    reply = msgspec.json.decode(line) if line else {"ok": False, "error": "the engine closed the connection"}
    if not isinstance(reply, dict):
        return {"ok": False, "error": "unexpected reply from the engine"}
    return reply


def send(socket_path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(request(socket_path, payload))

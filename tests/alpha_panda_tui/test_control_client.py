"""The control client: whatever the other end does, an error reply (or EngineNotRunning), never an
exception."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from alpha_panda_tui import control_client
from alpha_panda_tui.control_client import EngineNotRunning, request
from tests.engine.test_control import running_engine

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def folder() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cli-") as name:  # short: a socket path is limited
        yield Path(name)


async def serve(path: Path, handler: Handler) -> asyncio.AbstractServer:
    return await asyncio.start_unix_server(handler, path=str(path))


async def test_no_engine_is_engine_not_running(folder: Path) -> None:
    with pytest.raises(EngineNotRunning):
        await request(folder / "control.sock", {"op": "status"})


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", "the engine closed the connection"),
        (b"<html>\n", "unexpected reply from the engine (not JSON)"),
        (b"[1]\n", "unexpected reply from the engine"),
    ],
)
async def test_a_reply_that_is_not_one_is_an_error_reply(folder: Path, answer: bytes, error: str) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(answer)
        writer.close()

    server = await serve(folder / "control.sock", handler)
    async with server:
        assert await request(folder / "control.sock", {"op": "status"}) == {"ok": False, "error": error}


async def test_an_engine_that_never_answers_is_an_error_reply(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(control_client, "REPLY_TIMEOUT_S", 0.3)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await serve(folder / "control.sock", handler)
    async with server:
        reply = await request(folder / "control.sock", {"op": "status"})
    assert reply == {"ok": False, "error": "the engine did not reply within 0.3 s"}


def test_a_busy_engine_is_an_error_reply_not_a_reset() -> None:
    """The engine refuses at once, before the client has even written; the refusal still arrives."""
    with (
        running_engine(max_connections=1, max_waiting=0) as running,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as idle,
    ):
        idle.connect(str(running.socket_path))  # sends nothing: holds the only turn until its timeout
        running.run(_until(lambda: running.server.connections == 1))
        for _ in range(20):
            reply = asyncio.run(request(running.socket_path, {"op": "status"}))
            assert reply["ok"] is False and "the engine is busy" in reply["error"], reply


async def _until(done: Callable[[], bool]) -> None:
    for _ in range(200):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")

"""`launch --headless` on the Zerodha feed, as a real process against the Kite sandbox: started before
any login, it runs and says it waits; a login in "another terminal" starts the ticks, no restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alpha_panda_tui.control_client import EngineNotRunning, send
from engine.instruments import InstrumentRegistry
from engine.settings import load_settings
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import running_sandbox

pytestmark = pytest.mark.slow
SAMPLE = InstrumentRegistry.sample()


def _env(root: Path, root_url: str, ws_url: str, api_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "ALPHA_PANDA_DATA_DIR": str(root / "data"),
        "ALPHA_PANDA_CONFIG_DIR": str(root / "config"),
        "ALPHA_PANDA_FEED__SOURCE": "zerodha",
        "ALPHA_PANDA_FEED__SYMBOLS": '["INFY", "TCS"]',
        "ALPHA_PANDA_ZERODHA__ENABLED": "true",
        "ALPHA_PANDA_ZERODHA__API_KEY": api_key,
        "ALPHA_PANDA_ZERODHA__ROOT_URL": root_url,
        "ALPHA_PANDA_ZERODHA__WS_URL": ws_url,
        "ALPHA_PANDA_STATUS_INTERVAL_S": "1",
    }


async def _status(env: dict[str, str]) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alpha_panda_tui", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return done.stdout if done.returncode == 0 else ""


async def _status_until(
    socket: Path, wanted: Callable[[dict[str, Any]], bool], limit_s: float = 30.0
) -> dict[str, Any]:
    """The engine's status over its control socket, once `wanted` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    status: dict[str, Any] = {}
    while loop.time() < deadline:
        try:
            reply = await asyncio.to_thread(send, socket, {"op": "status"})
        except EngineNotRunning:
            reply = {}
        status = reply.get("status") or {}
        if status and wanted(status):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"the status never showed what was awaited; last: {status}")


async def test_a_headless_zerodha_engine_waits_for_a_login_then_streams(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "strategies.toml").write_text("", encoding="utf-8")
    async with running_sandbox(updates_per_instrument_s=2.0, tick_interval_s=0.1) as sandbox:
        env = _env(isolated_dirs, sandbox.root_url, sandbox.ws_url, sandbox.config.api_key)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alpha_panda_tui",
            "launch",
            "--headless",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            socket = isolated_dirs / "data" / "control.sock"
            waiting = await _status_until(socket, lambda status: bool(status["feed_detail"]))
            assert waiting["feed_detail"] == "waiting for a Zerodha login (no saved session)"
            assert waiting["state"] == "running" and waiting["ticks"] == 0
            printed = await _status(env)
            assert "feed       waiting for a Zerodha login (no saved session)\n" in printed
            assert sandbox.stats.connections_opened == 0
            await log_in(sandbox, load_settings())
            streaming = await _status_until(socket, lambda status: status["ticks"] > 0)
            assert streaming["feed_detail"] == "" and streaming["state"] == "running"
            assert streaming["broker_session"].startswith("valid until 06:00")
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, output.decode()
    assert sandbox.stats.connections_opened == 1
    watchlist = sorted(SAMPLE.by_symbol(symbol).instrument_token for symbol in ("INFY", "TCS"))
    assert [sorted(tokens) for _, tokens in sandbox.stats.subscribe_messages] == [watchlist]

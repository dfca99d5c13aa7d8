"""Shared by the attach tests: a headless engine *process* and consoles attached to it over its socket.

The data dir lives under a short /tmp path: a unix socket's path is limited to ~100 bytes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from textual.pilot import Pilot

from alpha_panda_tui.app import AlphaPandaApp
from alpha_panda_tui.attach_cli import SocketLink, attached_app
from alpha_panda_tui.attach_link import LinkState, SocketBus
from alpha_panda_tui.control_client import EngineNotRunning, send, status
from engine.control_stream import Hello
from engine.events import EngineStatus, Namespace
from tests.alpha_panda_tui.harness import INSTRUMENTS, WIDE, wait_for
from tests.strategy_configs import CHATTY_STRATEGIES_TOML

ROOT = Path(__file__).resolve().parents[2]
START_LIMIT_S = 30.0

T = TypeVar("T")


class EngineProcess:
    """`alpha-panda-tui launch --headless` in its own short data dir; started again with `restart`."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ap-", dir="/tmp"))
        self.data_dir = self.root / "data"
        self.config_dir = self.root / "config"
        self.config_dir.mkdir()
        (self.config_dir / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
        self.proc: subprocess.Popen[str] | None = None

    @property
    def socket(self) -> Path:
        return self.data_dir / "control.sock"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_PANDA_")}
        return {
            **env,
            "PYTHONPATH": str(ROOT),
            "ALPHA_PANDA_DATA_DIR": str(self.data_dir),
            "ALPHA_PANDA_CONFIG_DIR": str(self.config_dir),
            "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "400",
            "ALPHA_PANDA_FEED__SESSION_SPEED": "20",
            "ALPHA_PANDA_RISK__MAX_ORDERS_PER_MINUTE": "100000",
            "ALPHA_PANDA_STATUS_INTERVAL_S": "1",
        }

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=self.env(),
            cwd=self.root,
        )
        deadline = time.monotonic() + START_LIMIT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the engine exited: see {self.data_dir / 'logs'}"
            try:
                if send(self.socket, {"op": "status"}).get("ok"):
                    return
            except EngineNotRunning:
                pass
            time.sleep(0.05)
        raise AssertionError("the headless engine never answered on its control socket")

    def status(self) -> EngineStatus:
        return self.call(status, self.socket)

    @staticmethod
    def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A control_client call (it runs its own event loop) from inside a test's loop."""
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(function, *args, **kwargs).result()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alpha_panda_tui", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env(),
            cwd=self.root,
        )

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def attached_link(*, read_only: bool, pid: int = 4242, data_dir: str = "/srv/alpha") -> SocketLink:
    """A SocketBus's link as it stands after an engine's hello (the bus itself not started)."""
    bus = SocketBus(Path(data_dir) / "control.sock", read_only=read_only)
    bus.link.state = LinkState.ATTACHED
    bus.link.attaches = 1
    bus.link.hello = Hello(
        pid=pid,
        run_id="run-1",
        data_dir=data_dir,
        namespaces=(Namespace.PAPER,),
        version="test",
        read_only=read_only,
        started_at=0.0,
    )
    return SocketLink(bus)


@dataclass
class AttachedConsole:
    app: AlphaPandaApp
    pilot: Pilot[int]
    bus: SocketBus

    async def settle(self) -> None:
        await self.pilot.pause()
        self.app.pull_now(force=True)
        await self.pilot.pause()

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.settle()

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (letting the app run) until the condition holds; fail if it never does."""
        await wait_for(condition, timeout)
        await self.settle()

    def notices(self) -> list[str]:
        return [str(n.message) for n in self.app._notifications]


@asynccontextmanager
async def attached(
    engine: EngineProcess, *, read_only: bool = False, size: tuple[int, int] = WIDE
) -> AsyncIterator[AttachedConsole]:
    bus = SocketBus(engine.socket, read_only=read_only, client="test console", reconnect_s=0.2)
    await bus.start()
    try:
        assert await bus.wait_attached(10.0), bus.link.detail
        hello = bus.link.hello
        assert hello is not None
        app = attached_app(bus, hello, settings=None, instruments=INSTRUMENTS, debounce_s=0.0, animate=False)
        async with app.run_test(size=size, notifications=True) as pilot:
            console = AttachedConsole(app, pilot, bus)
            await console.until(lambda: app.state.status is not None and bool(app.state.trading_day))
            yield console
    finally:
        await bus.stop()

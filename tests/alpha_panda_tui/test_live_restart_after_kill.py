"""`launch --headless --live` as a real process, armed with `confirm-live` over its control socket,
trading against the Kite sandbox, killed with SIGKILL mid-day; then the next engine on the same data
dir (in this process) with the same strategies: it places nothing again, follows the order still
open at Kite, books the fill made while nothing ran, and its halt cancels that order."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from alpha_panda_tui import control_client
from alpha_panda_tui.control_client import EngineNotRunning
from engine.control import ControlServer
from engine.events import Command, CommandAction, CommandReply, Namespace, Product
from engine.runtime import Engine
from engine.settings import load_settings
from engine.storage.repository import load_fills, recent_orders
from engine.zerodha.order_store import LiveState
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.kite_sandbox.matching.helpers import INFY, STILL, eventually, pin
from tests.sandbox import running_sandbox

pytestmark = pytest.mark.slow

TAKER_QTY, RESTING_QTY, FILLED_WHILE_DOWN = 3, 5, 2
LAST, RESTING_LIMIT = 1500.0, 1480.0

BUY_AT_LIMIT = '''
from typing import ClassVar

import msgspec

from engine.events import MarketTick, OrderType, TradingSignal
from engine.strategies.base import Strategy
from engine.strategies.params import Param


class BuyAtLimit(Strategy):
    """Long at a limit price from its second tick on (risk has seen one), and never exits."""

    kind: ClassVar[str] = "buy_at_limit"
    description: ClassVar[str] = "long at a limit price"
    params: ClassVar[dict[str, Param]] = {
        "limit": Param(float, 1500.0, min=0.05, max=1_000_000.0, help="the BUY's limit price"),
    }

    def setup(self) -> None:
        self.ticks = 0

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.ticks += 1
        signal = self.go_long(tick, "long at a limit") if self.ticks > 1 else None
        if signal is None:
            return None
        return msgspec.structs.replace(signal, order_type=OrderType.LIMIT, limit_price=self.p["limit"])
'''

STRATEGIES = f"""
[[strategy]]
name = "taker"
kind = "buy_at_limit"
instruments = ["INFY"]
namespaces = ["zerodha"]
[strategy.params]
quantity = {TAKER_QTY}
limit = {LAST + 0.05}

[[strategy]]
name = "resting"
kind = "buy_at_limit"
instruments = ["INFY"]
namespaces = ["zerodha"]
[strategy.params]
quantity = {RESTING_QTY}
limit = {RESTING_LIMIT}
"""


def live_env(sandbox: KiteSandbox) -> dict[str, str]:
    return {
        "ALPHA_PANDA_FEED__SOURCE": "zerodha",
        "ALPHA_PANDA_FEED__SYMBOLS": '["INFY"]',
        "ALPHA_PANDA_ZERODHA__ENABLED": "true",
        "ALPHA_PANDA_ZERODHA__LIVE_ORDERS": "true",
        "ALPHA_PANDA_ZERODHA__API_KEY": sandbox.config.api_key,
        "ALPHA_PANDA_ZERODHA__API_SECRET": sandbox.config.api_secret,
        "ALPHA_PANDA_ZERODHA__ROOT_URL": sandbox.root_url,
        "ALPHA_PANDA_ZERODHA__WS_URL": sandbox.ws_url,
        "ALPHA_PANDA_ZERODHA__ORDER_POLL_S": "0.05",
        "ALPHA_PANDA_RISK__ENFORCE_MARKET_HOURS": "false",
        "ALPHA_PANDA_STORAGE__FLUSH_INTERVAL_MS": "60000",  # the kill loses every event not yet written
    }


async def control(socket: Path, action: CommandAction, target: str = "") -> CommandReply:
    """A command over the engine's control socket, as the CLI sends it; waits for the socket."""
    for _ in range(300):
        try:
            return await asyncio.to_thread(control_client.command, socket, action, target=target)
        except EngineNotRunning:
            await asyncio.sleep(0.1)
    raise AssertionError("the engine's control socket never answered")


async def tick_until(sandbox: KiteSandbox, done: Any, limit_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit_s
    while not done():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the engine never did what was awaited")
        await sandbox.push_tick(INFY)
        await asyncio.sleep(0.1)


async def test_a_live_engine_killed_mid_day_is_taken_over_by_the_next_without_a_second_order(
    isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated_dirs / "config"
    (config / "strategies").mkdir()
    (config / "strategies" / "buy_at_limit.py").write_text(BUY_AT_LIMIT, encoding="utf-8")
    (config / "strategies.toml").write_text(STRATEGIES, encoding="utf-8")
    async with running_sandbox(**STILL) as sandbox:
        for name, value in live_env(sandbox).items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        await log_in(sandbox, settings)
        pin(sandbox, last=LAST)
        first = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alpha_panda_tui",
            "launch",
            "--headless",
            "--live",
            env=dict(os.environ),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            confirmed = await control(settings.control_socket, CommandAction.CONFIRM_LIVE, "LIVE")
            assert confirmed.ok, confirmed
            await tick_until(sandbox, lambda: len(sandbox.desk.orders()) == 2)
            by_price = {row["price"]: row for row in sandbox.desk.orders()}
            taker, resting = by_price[LAST + 0.05], by_price[RESTING_LIMIT]
            await eventually(lambda: by_status(sandbox, taker) == "COMPLETE")
        finally:
            first.kill()
            await first.wait()
        # the market comes down to the resting BUY while no engine runs: 2 of its 5 fill
        pin(sandbox, last=RESTING_LIMIT - 1, asks=[(RESTING_LIMIT, FILLED_WHILE_DOWN)])
        await sandbox.push_tick(INFY)
        pin(sandbox, last=LAST)
        sandbox.requests.clear()

        second = Engine(settings, paced=False, live=True)
        assert second.live_gate is not None
        second.live_gate.confirm("LIVE", "test")
        await second.start()
        try:
            live, reconciler = second.zerodha, second.reconciler
            assert live is not None and reconciler is not None
            await eventually(lambda: reconciler.runs >= 1 and not reconciler.running)
            await tick_until(sandbox, lambda: second.status().ticks >= 5)  # the strategies see ticks again
            await eventually(
                lambda: live.positions().get(("resting", INFY, Product.MIS)) == FILLED_WHILE_DOWN
            )
            assert second.writer is not None
            await second.writer.flush()
            again = await reconciler.reconcile("test")
            open_orders = live.open_orders()
            positions = live.positions()
            status = second.status()
            placed_again = [(c.method, c.route) for c in sandbox.requests.order_calls()]
            assert second.db is not None
            fills = await load_fills(second.db, Namespace.ZERODHA)
            server = ControlServer(second.bus, isolated_dirs / "b.sock", second.status)
            server.wire()
            halted = await server.send(Command(CommandAction.HALT, reason="enough", issued_by="test"))
            resting_id = resting["tag"]
            await eventually(
                lambda: (o := live.order(resting_id)) is not None and o.state is LiveState.CANCELLED
            )
            await second.writer.flush()
            orders = await recent_orders(second.db, Namespace.ZERODHA)
        finally:
            await second.stop()
    assert placed_again == []
    assert len(sandbox.desk.orders()) == 2
    assert open_orders == {resting_id: RESTING_QTY - FILLED_WHILE_DOWN}
    assert positions == {
        ("taker", INFY, Product.MIS): TAKER_QTY,
        ("resting", INFY, Product.MIS): FILLED_WHILE_DOWN,
    }
    assert sorted((f.strategy_id, f.quantity) for f in fills) == [("resting", 2), ("taker", 3)]
    assert [(p.instrument_token, p.quantity) for p in status.broker_positions] == [
        (INFY, TAKER_QTY + FILLED_WHILE_DOWN)
    ]
    assert again.fills_booked == 0 and again.adopted == [] and again.mismatches == []
    assert reconciler.alarms == {} and reconciler.adopted == []
    assert halted is not None and halted.ok
    assert by_status(sandbox, resting) == "CANCELLED"
    assert sorted((o.strategy_id, o.status.value) for o in orders) == [
        ("resting", "CANCELLED"),
        ("taker", "FILLED"),
    ]


def by_status(sandbox: KiteSandbox, row: dict[str, Any]) -> str:
    [now] = [r for r in sandbox.desk.orders() if r["order_id"] == row["order_id"]]
    return str(now["status"])

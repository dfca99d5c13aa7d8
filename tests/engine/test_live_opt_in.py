"""Nothing reaches Kite without all three of the live opt-in: the setting, `--live`, the typed word.

The whole engine against the Kite sandbox (real kiteconnect client, real SQLite); the sandbox's
request log is the witness that no order call was ever made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from engine.control import ControlServer
from engine.events import Command, CommandAction, EngineState, Namespace, TradingMode
from engine.runtime import Engine
from engine.settings import ConfigError, Settings, load_settings
from engine.strategies.errors import StrategyConfigError
from engine.zerodha.live_gate import NOT_CONFIRMED
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import running_sandbox, sandbox_settings
from tests.strategy_configs import CHATTY_STRATEGIES_TOML

TICKS = 3_000
LIVE_TOO = CHATTY_STRATEGIES_TOML.replace(
    'name = "ema_fast"\n', 'name = "ema_fast"\nnamespaces = ["paper", "zerodha"]\n'
)


def engine_settings(sandbox: KiteSandbox, data_dir: Path, strategies: str, **zerodha: Any) -> Settings:
    (data_dir / "strategies.toml").write_text(strategies, encoding="utf-8")
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update(zerodha)
    return load_settings(
        **overrides,
        strategies={"file": data_dir / "strategies.toml"},
        risk={"max_orders_per_minute": 10_000, "max_open_positions": 100},
    )


@asynccontextmanager
async def engine_on_sandbox(
    tmp_path: Path, strategies: str, *, live: bool = False, **zerodha: Any
) -> AsyncIterator[tuple[Engine, KiteSandbox]]:
    async with running_sandbox() as sandbox:
        settings = engine_settings(sandbox, tmp_path, strategies, **zerodha)
        await log_in(sandbox, settings)
        engine = Engine(settings, paced=False, live=live)
        await engine.start()
        try:
            yield engine, sandbox
        finally:
            await engine.stop()


async def pump(engine: Engine) -> None:
    for _ in range(TICKS // 500):
        await engine.pump(500)


async def test_a_paper_only_engine_makes_zero_order_calls_to_the_broker(tmp_path: Path) -> None:
    async with engine_on_sandbox(tmp_path, CHATTY_STRATEGIES_TOML, live_orders=True) as (engine, sandbox):
        await pump(engine)
        status = engine.status()
        calls = sandbox.requests.order_calls()
        seen = {entry.route for entry in sandbox.requests.entries}
    assert status.fills > 20, "paper should have traded"
    assert calls == []
    assert not any(route.startswith(("POST /orders", "PUT /orders", "DELETE /orders")) for route in seen)
    assert Namespace.ZERODHA not in engine.active_namespaces
    assert (status.mode, status.live, status.live_detail) == (TradingMode.PAPER, False, "")


async def test_launched_live_but_not_confirmed_nothing_reaches_kite(tmp_path: Path) -> None:
    async with engine_on_sandbox(tmp_path, LIVE_TOO, live=True, live_orders=True) as (engine, sandbox):
        await pump(engine)
        status = engine.status()
        zerodha_risk = engine.risk[Namespace.ZERODHA]
        calls = sandbox.requests.order_calls()
    assert status.fills > 20, "paper trades on beside the unconfirmed live strategy"
    assert zerodha_risk.validated == 0
    assert zerodha_risk.rejections_by_rule.get("live_gate", 0) > 0
    assert calls == []
    assert (status.mode, status.live, status.live_detail) == (TradingMode.LIVE, False, NOT_CONFIRMED)
    assert status.state is EngineState.RUNNING


async def test_confirmed_but_the_session_expired_fails_closed_with_the_reason(tmp_path: Path) -> None:
    async with engine_on_sandbox(tmp_path, LIVE_TOO, live=True, live_orders=True) as (engine, sandbox):
        assert engine.live_gate is not None and engine.broker_session is not None
        ok, _ = engine.live_gate.confirm("LIVE", "test")
        assert ok and engine.status().live_confirmed
        sandbox.faults.expire_tokens()
        engine.broker_session.mark_expired("TokenException: the token was refused")
        await pump(engine)
        status = engine.status()
        rejected = engine.risk[Namespace.ZERODHA].rejections_by_rule.get("live_gate", 0)
        calls = sandbox.requests.order_calls()
    assert not status.live
    # the reason is ours or, when a Kite call met the dead token first (reconciliation), Kite's
    assert status.live_detail.startswith("no valid Kite session (expired: ")
    assert "TokenException" in status.live_detail
    assert "no new live orders until you log in" in status.live_detail
    assert rejected > 0 and calls == []


def test_launch_live_without_the_setting_is_refused_before_anything_starts(isolated_dirs: Path) -> None:
    settings = load_settings(zerodha={"enabled": True, "api_key": "k"})
    with pytest.raises(ConfigError, match=r"`launch --live` needs zerodha.live_orders = true"):
        Engine(settings, paced=False, live=True)


def test_a_strategy_routed_to_zerodha_is_refused_without_launch_live(tmp_path: Path) -> None:
    (tmp_path / "strategies.toml").write_text(LIVE_TOO, encoding="utf-8")
    settings = load_settings(
        data_dir=tmp_path,
        strategies={"file": tmp_path / "strategies.toml"},
        zerodha={"enabled": True, "api_key": "k", "live_orders": True},
    )
    with pytest.raises(StrategyConfigError, match="the engine was not launched with --live"):
        Engine(settings, paced=False)


async def test_the_typed_word_over_the_control_socket_arms_live_and_a_halt_disarms_it(tmp_path: Path) -> None:
    async with engine_on_sandbox(tmp_path, LIVE_TOO, live=True, live_orders=True) as (engine, _):
        server = ControlServer(engine.bus, tmp_path / "control.sock", engine.status)
        server.wire()
        refused = await server.send(Command(CommandAction.CONFIRM_LIVE, target="yes please", issued_by="cli"))
        before = engine.status()
        confirmed = await server.send(Command(CommandAction.CONFIRM_LIVE, target="LIVE", issued_by="cli"))
        armed = engine.status()
        halted = await server.send(Command(CommandAction.HALT, reason="enough", issued_by="cli"))
        after = engine.status()
        assert engine.audit is not None
        audit = [(a.actor, a.action) for a in reversed(await engine.audit.recent(10))]
    assert refused is not None and not refused.ok
    assert not before.live and before.live_detail == NOT_CONFIRMED
    assert confirmed is not None and confirmed.ok
    assert armed.live and armed.live_confirmed and armed.live_detail == ""
    assert halted is not None and halted.ok
    assert {r.service for r in halted.results} == {"risk.paper", "risk.zerodha", "trading_control"}
    assert not after.live and after.live_detail == "halted: enough"
    assert audit == [
        ("cli", "live_confirm_refused"),
        ("cli", "live_confirmed"),
        ("cli", "halted"),
        ("cli", "cancelled_all"),
    ]

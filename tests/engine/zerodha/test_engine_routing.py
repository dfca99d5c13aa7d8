"""The engine routes each validated signal to its namespace's execution client: a strategy trading
paper and zerodha at once places one Kite order, tagged with our id, and paper orders never reach
the broker (the sandbox's request log shows every order call it received)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import MarketTick, Namespace, OrderPlaced, Product, TradingSignal
from engine.execution.base import ExecutionClient
from engine.instruments import InstrumentRegistry
from engine.runtime import Engine
from engine.settings import ConfigError, load_settings
from engine.strategies.base import Strategy
from engine.topics import TopicMap
from engine.zerodha.order_ids import LiveOrderIds
from tests.engine.zerodha.kite_login import log_in
from tests.engine.zerodha.live_harness import FAST_POLL
from tests.kite_sandbox.matching.helpers import INFY, STILL, eventually, pin
from tests.sandbox import running_sandbox, sandbox_settings

NTPC = InstrumentRegistry.sample().by_symbol("NTPC").instrument_token


class LongFromTheSecondTick(Strategy):
    """Long and never exits; it waits for a second tick, so risk has seen one before its signal."""

    kind = "long_from_the_second_tick"

    def setup(self) -> None:
        self.ticks = 0

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.ticks += 1
        return self.go_long(tick, "long") if self.ticks > 1 else None


async def test_a_strategy_on_paper_and_zerodha_places_one_kite_order_and_paper_never_reaches_kite(
    isolated_dirs: Path,
) -> None:
    (isolated_dirs / "config" / "strategies.toml").write_text("", encoding="utf-8")
    async with running_sandbox(**STILL) as sandbox:
        overrides = sandbox_settings(sandbox, isolated_dirs / "data")
        overrides["zerodha"].update(FAST_POLL)
        settings = load_settings(feed={"symbols": ["NTPC"]}, **overrides)
        await log_in(sandbox, settings)
        both = (Namespace.PAPER, Namespace.ZERODHA)
        strategy = LongFromTheSecondTick("shadowed", (NTPC,), both, {"quantity": 3})
        engine = Engine(settings, paced=False, strategies=[strategy], namespaces=both)
        assert engine.live_gate is not None
        engine.live_gate.confirm("LIVE", "test")  # as typed in the console: no live order goes before
        placed: dict[Namespace, list[OrderPlaced]] = {Namespace.PAPER: [], Namespace.ZERODHA: []}
        for ns in both:

            async def record(event, ns=ns):  # type: ignore[no-untyped-def]
                placed[ns].append(event.payload)

            engine.bus.subscribe([TopicMap(ns).orders_placed], f"test-{ns.value}", record)
        await engine.start()
        try:
            assert set(engine.executions) == set(both)
            assert all(isinstance(client, ExecutionClient) for client in engine.executions.values())
            await engine.pump(5)
            await eventually(lambda: placed[Namespace.ZERODHA] and placed[Namespace.PAPER])
            await engine.pump(20)
            calls = sandbox.requests.order_calls()
            status = engine.status()
        finally:
            await engine.stop()
    [live] = placed[Namespace.ZERODHA]
    [paper] = placed[Namespace.PAPER]
    assert LiveOrderIds.owns(live.order_id) and not LiveOrderIds.owns(paper.order_id)
    assert [(c.method, c.form["tag"], c.form["tradingsymbol"], c.form["quantity"]) for c in calls] == [
        ("POST", live.order_id, "NTPC", "3")
    ]
    assert status.live_orders_queued == 0


def test_the_zerodha_namespace_without_zerodha_is_refused_clearly(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "strategies.toml").write_text("", encoding="utf-8")
    settings = load_settings()
    with pytest.raises(ConfigError, match=r"zerodha\.enabled = true"):
        Engine(settings, paced=False, strategies=[], namespaces=(Namespace.PAPER, Namespace.ZERODHA))


async def test_on_the_kite_feed_order_updates_arrive_on_the_ticker_socket_not_by_polling(
    isolated_dirs: Path,
) -> None:
    (isolated_dirs / "config" / "strategies.toml").write_text("", encoding="utf-8")
    async with running_sandbox(**STILL) as sandbox:
        overrides = sandbox_settings(sandbox, isolated_dirs / "data")
        overrides["zerodha"].update(FAST_POLL)
        settings = load_settings(
            feed={"source": "zerodha", "symbols": ["INFY"]},
            risk={"enforce_market_hours": False},
            **overrides,
        )
        await log_in(sandbox, settings)
        pin(sandbox, last=1500.0)
        strategy = LongFromTheSecondTick("live", (INFY,), (Namespace.ZERODHA,), {"quantity": 2})
        engine = Engine(settings, paced=False, strategies=[strategy], namespaces=(Namespace.ZERODHA,))
        assert engine.live_gate is not None
        engine.live_gate.confirm("LIVE", "test")
        await engine.start()
        try:
            execution = engine.zerodha
            assert execution is not None
            ticker = engine.feed.ticker  # type: ignore[attr-defined]
            await eventually(lambda: ticker.streaming)
            for _ in range(2):
                await sandbox.push_tick(INFY)
            await eventually(lambda: execution.positions())
            await eventually(lambda: not execution.open_orders())
            polls, applied, status = execution.polls, execution.updates_applied, engine.status()
        finally:
            await engine.stop()
    assert execution.positions() == {("live", INFY, Product.MIS): 2}
    assert polls == 0 and applied >= 2  # every state came from the socket's order messages
    assert status.live_open_orders == 0 and status.ticks >= 2

"""The whole engine end to end: feed -> strategies -> risk -> paper -> portfolio -> storage."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

import pytest

from engine.events import Command, CommandAction, EngineState, Namespace, OrderFilled, TradingMode, make_event
from engine.instruments import InstrumentRegistry
from engine.runtime import Engine
from engine.settings import FeedSource, Settings, load_settings
from engine.storage.repository import load_fills
from engine.topics import CONTROL_COMMANDS
from tests.strategy_configs import CHATTY_STRATEGIES_TOML
from tests.tick_file_builders import write_file_turning_bad


@pytest.fixture
def settings(isolated_dirs: Path) -> Settings:
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    return load_settings(risk={"max_orders_per_minute": 10_000, "max_open_positions": 100})


def _signed_fill_sums(fills: list[OrderFilled]) -> dict[tuple[str, int], int]:
    sums: dict[tuple[str, int], int] = defaultdict(int)
    for fill in fills:
        sums[(fill.strategy_id, fill.instrument_token)] += fill.side.sign * fill.quantity
    return sums


async def _run(settings: Settings, ticks: int) -> Engine:
    engine = Engine(settings, paced=False)
    await engine.start()
    for _ in range(ticks // 500):
        await engine.pump(500)
    return engine


async def test_pipeline_accounting_identities_hold(settings: Settings) -> None:
    engine = await _run(settings, 6_000)
    manager = engine.portfolios[Namespace.PAPER]
    status = engine.status()
    assert status.fills > 20, "the strategies should have traded"
    assert status.ticks == 6_000
    await engine.stop()

    assert engine.db is not None
    await engine.db.connect()
    stored = await load_fills(engine.db, Namespace.PAPER)
    await engine.db.close()
    assert len(stored) == status.fills  # every published fill was stored, once

    sums = _signed_fill_sums(stored)
    for portfolio in manager.portfolios.values():
        held = 0.0
        for token, position in portfolio.positions.items():
            # position = signed sum of fills
            assert position.quantity == sums[(portfolio.strategy_id, token)]
            held += position.quantity * position.last_price
        # equity = cash + positions at last price
        assert portfolio.equity == pytest.approx(portfolio.cash + held, abs=1e-6)
        # realized + unrealized - charges = equity - starting cash
        assert portfolio.realized_pnl + portfolio.unrealized_pnl - portfolio.charges == pytest.approx(
            portfolio.equity - portfolio.starting_cash, abs=1e-6
        )
        assert portfolio.charges > 0


async def test_restart_rebuilds_the_same_positions_and_pnl(settings: Settings) -> None:
    first = await _run(settings, 5_000)
    before = {
        pid: (
            {t: (p.quantity, round(p.average_price, 6)) for t, p in book.positions.items() if p.quantity},
            round(book.realized_pnl, 6),
            round(book.charges, 6),
            round(book.cash, 6),
        )
        for pid, book in first.portfolios[Namespace.PAPER].portfolios.items()
    }
    risk_positions = {
        (book.strategy_id, token): first.risk[Namespace.PAPER].position(book.strategy_id, token)
        for book in first.portfolios[Namespace.PAPER].portfolios.values()
        for token in book.positions
    }
    await first.stop()
    assert before

    second = Engine(settings, paced=False)
    await second.start()
    after = {
        pid: (
            {t: (p.quantity, round(p.average_price, 6)) for t, p in book.positions.items() if p.quantity},
            round(book.realized_pnl, 6),
            round(book.charges, 6),
            round(book.cash, 6),
        )
        for pid, book in second.portfolios[Namespace.PAPER].portfolios.items()
    }
    assert after == before
    for (strategy, token), qty in risk_positions.items():
        assert second.risk[Namespace.PAPER].position(strategy, token) == qty
    # new fills after the restart get new trade ids: nothing is dropped as a "redelivery"
    fills_before = second.status().fills
    for _ in range(6):
        await second.pump(500)
    assert second.status().fills > fills_before
    await second.stop()
    assert second.db is not None
    await second.db.connect()
    stored = await load_fills(second.db, Namespace.PAPER)
    await second.db.close()
    assert len({f.trade_id for f in stored}) == len(stored)


async def test_toggles_and_kill_switch_persist_across_restart(settings: Settings) -> None:
    engine = await _run(settings, 500)
    await engine.strategy_runner.set_enabled("momo", False)
    halt = make_event(
        Command(action=CommandAction.HALT, reason="test"), namespace=Namespace.SHARED, source="t", key="h"
    )
    await engine.bus.publish(CONTROL_COMMANDS, halt)
    await engine.bus.drain()
    assert engine.status().state is EngineState.HALTED
    before = engine.status()
    await engine.pump(3_000)
    after = engine.status()
    assert after.signals > before.signals
    assert after.orders == before.orders  # every new signal rejected while halted
    assert after.rejections - before.rejections == after.signals - before.signals
    await engine.stop()

    again = Engine(settings, paced=False)
    await again.start()
    state = {s.name: s.enabled for s in again.status().strategies}
    assert state == {"ema_fast": True, "momo": False}
    assert again.status().state is EngineState.HALTED
    assert again.status().halted_reason == "test"
    await again.stop()


async def test_a_replay_file_that_turns_bad_stops_the_engine_with_the_reason(
    settings: Settings, isolated_dirs: Path
) -> None:
    path = isolated_dirs / "late.csv"
    line = write_file_turning_bad(path, rounds=100, instruments=InstrumentRegistry.sample())
    replay = load_settings(feed={"source": FeedSource.REPLAY.value, "replay_file": str(path)})
    engine = Engine(replay, persist=False)
    await engine.start()
    await asyncio.wait_for(engine.feed.finished.wait(), timeout=30)
    for _ in range(200):  # the engine stops itself
        if engine.state is EngineState.STOPPED:
            break
        await asyncio.sleep(0.05)
    assert engine.state is EngineState.STOPPED
    assert engine.fatal_error == (
        f"the replay feed failed: {path}:line {line}: column 'instrument_token': not UTF-8 text (byte 0xe9)"
    )
    assert engine.status().ticks == line - 2  # every good row before the bad one was replayed
    await engine.stop()  # and a second stop (the host's) is harmless


async def test_status_says_paper_while_nothing_can_reach_a_broker(isolated_dirs: Path) -> None:
    settings = load_settings(zerodha={"enabled": True})
    engine = Engine(settings, paced=False)
    await engine.start()
    try:
        assert Namespace.ZERODHA not in engine.active_namespaces
        assert engine.status().mode is TradingMode.PAPER
    finally:
        await engine.stop()


async def test_an_engine_whose_database_is_unreachable_is_stopped_when_start_fails(
    isolated_dirs: Path,
) -> None:
    """Nothing ran (no bus, no service): the engine is stopped at once, the database let go, and a
    stop after it has nothing left to wait for (no drain, no paper orders to cancel, no final status)."""
    engine = Engine(load_settings(database={"url": "postgresql://nobody:x@127.0.0.1:1/none"}), paced=False)
    with pytest.raises(OSError):
        await engine.start()
    assert engine.status().state is EngineState.STOPPED
    published = sum(engine.bus.stats.published.values())
    await engine.stop()
    assert sum(engine.bus.stats.published.values()) == published  # no final status on a bus never started

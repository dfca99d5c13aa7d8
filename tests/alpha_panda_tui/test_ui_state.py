"""UiState folds the engine's events into what the console shows; fed here through the real bridge and bus."""

from __future__ import annotations

import msgspec

from alpha_panda_tui.bridge import UiBridge
from alpha_panda_tui.ui_state import UiState
from engine.bus import DirectBus
from engine.events import (
    CommandAction,
    CommandReply,
    CommandResult,
    EngineState,
    Namespace,
    Side,
    make_event,
)
from engine.topics import ENGINE_STATUS
from tests.alpha_panda_tui.harness import INSTRUMENTS
from tests.alpha_panda_tui.scenario import STRATEGIES, Scenario
from viewmodels.market import RECENT_TICKS
from viewmodels.rows import SPARK_POINTS, LogLevel, OrderStatus
from viewmodels.trading import MAX_SIGNALS

RELIANCE = 738561
TCS = 2953217


def wired() -> tuple[UiState, Scenario]:
    bus = DirectBus()
    bridge = UiBridge(bus, INSTRUMENTS, (Namespace.PAPER,))
    bridge.wire()
    return bridge.state, Scenario(bus, INSTRUMENTS)


async def test_ticks_keep_latest_quote_direction_and_registry_order() -> None:
    state, scenario = wired()
    await scenario.tick(TCS, move=0.01)
    await scenario.tick(RELIANCE, move=0.01)
    await scenario.tick(RELIANCE, move=-0.01)
    rows = {row.symbol: row for row in state.ticks.rows}
    # the registry's order, not the arrival order
    assert [r.symbol for r in state.ticks.rows] == ["RELIANCE", "TCS"]
    assert rows["RELIANCE"].direction == -1
    assert rows["RELIANCE"].last_price == scenario.prices[RELIANCE]
    assert rows["RELIANCE"].bid < rows["RELIANCE"].last_price < rows["RELIANCE"].ask
    assert rows["TCS"].direction == 0  # a first tick has no direction
    assert state.ticks.seen == 3


async def test_sparkline_samples_once_per_feed_second_and_stays_bounded() -> None:
    state, scenario = wired()
    for _ in range(4 * (SPARK_POINTS + 10)):  # ticks are 0.25 s apart
        await scenario.tick(RELIANCE)
    row = state.ticks.by_token[RELIANCE]
    assert len(row.spark) == SPARK_POINTS
    assert row.version == 4 * (SPARK_POINTS + 10)


async def test_a_signal_remembers_the_tick_that_caused_it() -> None:
    state, scenario = wired()
    await scenario.filled_order(RELIANCE, "sma_fast", Side.BUY, 10, "O-1")
    order, lineage, fills = state.lineage_for_order("O-1")
    assert order is not None and lineage is not None
    assert lineage.tick is scenario.last_tick[RELIANCE]
    assert lineage.signal is not None and lineage.decision is not None
    assert [f.payload.trade_id for f in fills] == ["O-1-T1", "O-1-T2"]  # type: ignore[union-attr]
    assert order.status is OrderStatus.FILLED
    assert order.filled_quantity == 10
    assert order.charges > 0


async def test_the_recent_tick_window_is_bounded() -> None:
    state, scenario = wired()
    first = await scenario.tick(RELIANCE)
    for _ in range(RECENT_TICKS):
        await scenario.tick(TCS)
    await scenario.filled_order(RELIANCE, "sma_fast", Side.BUY, 1, "O-2")
    assert state.ticks.recent(first.id) is None
    assert state.ticks.recent_count() == RECENT_TICKS


async def test_partial_fill_then_failure_and_rejection_are_logged() -> None:
    state, scenario = wired()
    await scenario.rejected_signal(341249, "rsi_revert")
    await scenario.failed_order(408065, "rsi_revert", "O-9")
    decisions = list(state.decisions.rows)
    assert [d.accepted for d in decisions] == [False, True]
    assert decisions[0].rule == "max_quantity"
    assert state.orders.by_id["O-9"].status is OrderStatus.FAILED
    texts = [line.text for line in state.log.lines]
    assert any("rejected rsi_revert" in t and "max_quantity" in t for t in texts)
    assert any("O-9 failed: stale quote" in t for t in texts)
    assert {line.level for line in state.log.lines} == {LogLevel.WARNING, LogLevel.ERROR}


async def test_signals_are_bounded() -> None:
    state, scenario = wired()
    for n in range(MAX_SIGNALS + 5):
        await scenario.rejected_signal(RELIANCE, f"s{n}")
    assert len(state.signals.rows) == MAX_SIGNALS
    assert state.signals.rows[-1].strategy_id == f"s{MAX_SIGNALS + 4}"


async def test_pnl_series_and_strategy_pnl_are_net_of_charges() -> None:
    state, scenario = wired()
    await scenario.tick(RELIANCE)
    await scenario.pnl("sma_fast", RELIANCE, 10, scenario.prices[RELIANCE] - 1.0, 50.0)
    snapshot = state.pnl.portfolios["paper:sma_fast"]
    net = snapshot.realized_pnl + snapshot.unrealized_pnl - snapshot.charges
    assert state.pnl.of_strategy("sma_fast") == net
    assert state.pnl.series[-1][1] == state.pnl.total()
    rows = state.pnl.position_rows()
    assert [r.is_total for r in rows] == [False, True]
    assert rows[0].symbol == "RELIANCE" and rows[0].quantity == 10


async def test_status_builds_strategy_rows_and_logs_halts() -> None:
    state, scenario = wired()
    await scenario.status()
    assert [r.status.name for r in state.strategies.rows] == [s.name for s in STRATEGIES]
    assert [r.index for r in state.strategies.rows] == [1, 2, 3]
    await scenario.status(state=EngineState.HALTED, halted_reason="kill switch")
    assert state.halted
    assert any("HALTED: kill switch" in line.text for line in state.log.lines)


async def test_a_needed_zerodha_login_is_asked_for_once_each_time_it_becomes_needed() -> None:
    state, scenario = wired()
    await scenario.status()  # Zerodha off
    assert not state.notices
    absent = "Not logged in to Zerodha: press b to log in (or run `alpha-panda-tui login`)."
    await scenario.status(broker_session="absent")
    await scenario.status(broker_session="absent")
    assert [(n.text, n.level) for n in state.notices] == [(absent, LogLevel.WARNING)]
    state.notices.clear()
    await scenario.status(broker_session="valid until 06:00 (AB1234)")
    assert not state.notices
    await scenario.status(broker_session="expired: 403 at the socket upgrade")
    await scenario.status(broker_session="expired: 403 at the socket upgrade")
    expired = "The Zerodha session expired (403 at the socket upgrade): press b to log in again."
    assert [n.text for n in state.notices] == [expired]
    logged = [(line.level, line.text) for line in state.log.lines if "Zerodha" in line.text]
    assert logged == [
        (LogLevel.WARNING, "Zerodha session absent"),
        (LogLevel.INFO, "Zerodha session valid until 06:00 (AB1234)"),
        (LogLevel.WARNING, "Zerodha session expired: 403 at the socket upgrade"),
    ]


async def test_a_toggle_is_pending_until_the_engine_reports_it() -> None:
    state, scenario = wired()
    await scenario.status()
    state.request_toggle("sma_fast", False, "cmd-1", CommandAction.STRATEGY_DISABLE)
    assert state.strategies.find("sma_fast").pending is False  # type: ignore[union-attr]
    await scenario.status()  # the engine has not applied it yet
    assert state.strategies.find("sma_fast").pending is False  # type: ignore[union-attr]
    flipped = tuple(
        msgspec.structs.replace(s, enabled=False) if s.name == "sma_fast" else s for s in STRATEGIES
    )
    await scenario.status(strategies=flipped)
    row = state.strategies.find("sma_fast")
    assert row is not None and row.pending is None and not row.status.enabled


async def test_only_the_consoles_own_command_results_become_notices() -> None:
    state, scenario = wired()
    await scenario.command_result(CommandAction.HALT, "halted by cli")
    assert not state.notices
    state.record_command("mine", CommandAction.HALT)
    result = CommandResult(command_id="mine", action=CommandAction.HALT, ok=True, message="halted")
    await scenario.bus.publish(
        ENGINE_STATUS, make_event(result, namespace=Namespace.SHARED, source="risk", key="k")
    )
    assert [n.text for n in state.notices] == ["halted"]


async def test_a_command_no_service_answered_is_an_error_and_ends_the_pending_toggle() -> None:
    state, scenario = wired()
    await scenario.status()
    state.request_toggle("sma_fast", False, "cmd-1", CommandAction.STRATEGY_DISABLE)
    answered = CommandReply(
        command_id="cmd-0", action=CommandAction.HALT, ok=True, results=(), missing=(), timeout_s=3.0
    )
    await scenario.bus.publish(
        ENGINE_STATUS, make_event(answered, namespace=Namespace.SHARED, source="commands", key="k")
    )
    assert not state.notices  # a complete reply's results were shown as they came
    reply = CommandReply(
        command_id="cmd-1",
        action=CommandAction.STRATEGY_DISABLE,
        ok=False,
        missing=("strategy_runner",),
        timeout_s=3.0,
    )
    await scenario.bus.publish(
        ENGINE_STATUS, make_event(reply, namespace=Namespace.SHARED, source="commands", key="k")
    )
    text = "strategy_disable: no answer from strategy_runner within 3 s"
    assert [(n.text, n.level) for n in state.notices] == [(text, LogLevel.ERROR)]
    assert state.log.lines[-1].text == text
    row = state.strategies.find("sma_fast")
    assert row is not None and row.pending is None and row.status.enabled  # the engine's state, not the ask

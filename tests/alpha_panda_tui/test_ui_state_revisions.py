"""Each event moves the revision of exactly the panes whose content it changed, so the console
repaints those and no other (fed through the real bridge and bus)."""

from __future__ import annotations

from alpha_panda_tui.ui_state import UiState
from engine.events import EngineState, Side
from tests.alpha_panda_tui.scenario import STRATEGIES
from tests.alpha_panda_tui.test_ui_state import RELIANCE, wired


def revisions(state: UiState) -> dict[str, int]:
    panes = {
        "ticks": state.ticks,
        "signals": state.signals,
        "decisions": state.decisions,
        "orders": state.orders,
        "pnl": state.pnl,
        "engine": state.engine,
        "health": state.health,
        "strategies": state.strategies,
        "log": state.log,
    }
    return {name: pane.revision for name, pane in panes.items()}


def moved(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name in before if after[name] != before[name]}


async def test_a_tick_moves_only_the_tick_pane() -> None:
    state, scenario = wired()
    await scenario.status()
    before = revisions(state)
    await scenario.tick(RELIANCE)
    assert moved(before, revisions(state)) == {"ticks"}


async def test_a_filled_order_moves_signals_decisions_and_orders() -> None:
    state, scenario = wired()
    await scenario.status()
    await scenario.tick(RELIANCE)
    before = revisions(state)
    await scenario.filled_order(RELIANCE, "sma_fast", Side.BUY, 10, "O-1")
    assert moved(before, revisions(state)) == {"ticks", "signals", "decisions", "orders"}


async def test_a_rejection_also_moves_the_log() -> None:
    state, scenario = wired()
    before = revisions(state)
    await scenario.rejected_signal(RELIANCE, "sma_fast")
    assert moved(before, revisions(state)) == {"ticks", "signals", "decisions", "log"}


async def test_a_pnl_snapshot_moves_pnl_and_the_strategy_it_changed() -> None:
    state, scenario = wired()
    await scenario.status()
    await scenario.tick(RELIANCE)
    before = revisions(state)
    await scenario.pnl("sma_fast", RELIANCE, 10, scenario.prices[RELIANCE] - 1.0, 50.0)
    assert moved(before, revisions(state)) == {"pnl", "strategies"}
    before = revisions(state)
    await scenario.pnl("sma_fast", RELIANCE, 10, scenario.prices[RELIANCE] - 1.0, 50.0)  # the same P&L
    assert moved(before, revisions(state)) == {"pnl"}


async def test_an_unchanged_status_moves_only_the_header() -> None:
    state, scenario = wired()
    await scenario.status()
    before = revisions(state)
    await scenario.status()
    assert moved(before, revisions(state)) == {"engine"}
    assert [r.status.name for r in state.strategies.rows] == [s.name for s in STRATEGIES]


async def test_a_halt_moves_the_header_and_the_log() -> None:
    state, scenario = wired()
    await scenario.status()
    before = revisions(state)
    await scenario.status(state=EngineState.HALTED, halted_reason="kill switch")
    assert moved(before, revisions(state)) == {"engine", "log"}
    assert state.log.lines[-1].text == "engine HALTED: kill switch"

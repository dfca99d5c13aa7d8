"""The headless engine's status line says LIVE only when orders can reach Kite, and why not otherwise."""

from __future__ import annotations

from alpha_panda_tui.headless import status_line
from engine.events import EngineState, EngineStatus, TradingMode
from engine.zerodha.live_gate import NOT_CONFIRMED


def test_paper_says_nothing_of_live() -> None:
    line = status_line(EngineStatus(state=EngineState.RUNNING, mode=TradingMode.PAPER), 0.0)
    assert line.startswith("RUNNING |") and "LIVE" not in line and "kite orders" not in line


def test_live_and_live_off() -> None:
    live = EngineStatus(
        state=EngineState.RUNNING, mode=TradingMode.LIVE, live=True, live_open_orders=3, live_orders_queued=1
    )
    assert status_line(live, 0.0).startswith("LIVE | RUNNING |")
    assert status_line(live, 0.0).endswith("| kite orders 3 open, 1 queued")
    off = EngineStatus(state=EngineState.RUNNING, mode=TradingMode.LIVE, live_detail=NOT_CONFIRMED)
    assert status_line(off, 0.0).startswith(f"LIVE OFF: {NOT_CONFIRMED} | RUNNING |")

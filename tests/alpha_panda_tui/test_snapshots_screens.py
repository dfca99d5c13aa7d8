"""Snapshots of the strategy detail and order trace screens, large and small."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alpha_panda_tui.screens.order_trace import OrderTraceScreen
from alpha_panda_tui.screens.strategy_detail import StrategyDetailScreen
from tests.alpha_panda_tui.snapshot_app import SMALL, WIDE, opening, seeded_app

SnapCompare = Callable[..., bool]
SIZES = pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "160x48"])


@SIZES
def test_strategy_detail(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    run_before = opening(lambda: StrategyDetailScreen("sma_fast"))
    assert snap_compare(seeded_app(), terminal_size=size, run_before=run_before)


@SIZES
def test_order_trace(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    run_before = opening(lambda: OrderTraceScreen("PAPER-000001"))
    assert snap_compare(seeded_app(), terminal_size=size, run_before=run_before)


def test_order_trace_of_a_failed_order(snap_compare: SnapCompare) -> None:
    run_before = opening(lambda: OrderTraceScreen("PAPER-000002"))
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=run_before)

"""Snapshots of the dashboard: a large terminal, a small one (one view at a time), NO_COLOR, and live."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.events import TradingMode
from tests.alpha_panda_tui.snapshot_app import SMALL, WIDE, pressing, seeded_app, settle

SnapCompare = Callable[..., bool]


def test_dashboard_wide(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=WIDE, run_before=settle)


def test_dashboard_small(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=settle)


def test_dashboard_small_trading_view(snap_compare: SnapCompare) -> None:
    run_before = pressing("right_square_bracket", "right_square_bracket")
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=run_before)


def test_dashboard_small_system_view(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=pressing("left_square_bracket"))


def test_dashboard_no_color(snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = seeded_app()
    assert app.no_color
    assert snap_compare(app, terminal_size=SMALL, run_before=settle)


def test_dashboard_selected_order(snap_compare: SnapCompare) -> None:
    """Tab to Orders (the sixth pane as drawn) and down one: the second order sits on a solid bar."""
    run_before = pressing("tab", "tab", "tab", "tab", "tab", "down")
    assert snap_compare(seeded_app(), terminal_size=WIDE, run_before=run_before)


def test_dashboard_selected_order_no_color(
    snap_compare: SnapCompare, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same under NO_COLOR, one view at a time: the selected order is in reverse video."""
    monkeypatch.setenv("NO_COLOR", "1")
    run_before = pressing("right_square_bracket", "right_square_bracket", "tab", "tab", "down")
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=run_before)


def test_dashboard_live(snap_compare: SnapCompare) -> None:
    """Confirmed, session valid, not halted: LIVE in red, with the live orders and the rate-limit queue."""
    live = {
        "mode": TradingMode.LIVE,
        "live": True,
        "live_confirmed": True,
        "broker_session": "valid until 06:00 (AB1234)",
        "live_open_orders": 2,
        "live_orders_queued": 5,
    }
    assert snap_compare(seeded_app(status=live), terminal_size=WIDE, run_before=settle)

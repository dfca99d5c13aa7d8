"""Snapshots of the dashboard: a large terminal, a small one (one view at a time), and NO_COLOR."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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

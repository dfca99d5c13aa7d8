"""Snapshots of the dialogs: kill-switch confirmation, broker login, help; large and small."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.alpha_panda_tui.snapshot_app import SMALL, WIDE, pressing, seeded_app

SnapCompare = Callable[..., bool]
SIZES = pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "160x48"])


@SIZES
def test_kill_switch_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("ctrl+k"))


@SIZES
def test_login(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("b"))


def test_login_with_errors(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=pressing("b", "enter"))


@SIZES
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("question_mark"))

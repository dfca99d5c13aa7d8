"""Snapshots of the dialogs: kill-switch confirmation, live confirmation, flatten, broker login, help."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alpha_panda_tui.screens.login import LoginRequest
from engine.events import TradingMode
from engine.settings import load_settings
from engine.zerodha.live_gate import NOT_CONFIRMED
from tests.alpha_panda_tui.snapshot_app import SMALL, WIDE, pressing, seeded_app

SnapCompare = Callable[..., bool]
SIZES = pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "160x48"])


@SIZES
def test_kill_switch_confirmation(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("ctrl+k"))


@SIZES
def test_login(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("b"))


async def never_called(request: LoginRequest) -> str:
    raise AssertionError("a snapshot logs nobody in")


def test_login_with_zerodha_on(snap_compare: SnapCompare) -> None:
    """Key and secret from the settings: only the token is asked for. The redirect URL is an https one
    (caught by nobody here), so the dialog says to paste and no port is opened."""
    settings = load_settings(
        zerodha={
            "enabled": True,
            "api_key": "kiteapikey01",
            "api_secret": "s3cretvalue99",
            "redirect_url": "https://example.com/kite",
        }
    )
    app = seeded_app(settings=settings, login_handler=never_called)
    assert snap_compare(app, terminal_size=SMALL, run_before=pressing("b"))


def test_login_with_errors(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=pressing("b", "enter"))


@SIZES
def test_help(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(seeded_app(), terminal_size=size, run_before=pressing("question_mark"))


LAUNCHED_LIVE = {
    "mode": TradingMode.LIVE,
    "live_detail": NOT_CONFIRMED,
    "broker_session": "valid until 06:00 (AB1234)",
}


def test_live_confirmation_asked_of_an_engine_launched_live(snap_compare: SnapCompare) -> None:
    """The header says PAPER, and LIVE OFF in red, until the word is typed."""
    assert snap_compare(seeded_app(status=LAUNCHED_LIVE), terminal_size=WIDE, run_before=pressing())


def test_flatten(snap_compare: SnapCompare) -> None:
    assert snap_compare(seeded_app(), terminal_size=SMALL, run_before=pressing("F"))

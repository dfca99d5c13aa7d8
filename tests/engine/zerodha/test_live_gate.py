"""The live gate: the typed word arms it, per run; a missing or expired Kite session shuts it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.market.calendar import IST
from engine.settings import ConfigError, load_settings
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.live_gate import NOT_CONFIRMED, LiveGate, live_requested
from engine.zerodha.session import KiteSession, SessionStore

NOW = datetime(2026, 2, 2, 10, 0, tzinfo=IST)


def session_in(folder: Path, *, expires_in: timedelta = timedelta(hours=20)) -> BrokerSession:
    store = SessionStore(folder / "kite_session.json")
    store.save(
        KiteSession(
            user_id="AB1234",
            user_name="A Trader",
            api_key="key",
            access_token="token",
            login_time=NOW - timedelta(hours=1),
            expires_at=NOW + expires_in,
        )
    )
    return BrokerSession(store, "key", now=lambda: NOW)


def test_only_the_word_or_the_user_id_arms_it(tmp_path: Path) -> None:
    gate = LiveGate(session_in(tmp_path))
    assert gate.blocking_reason() == NOT_CONFIRMED
    for typed in ("", "y", "yes", "live", "LIVE!", "AB12"):
        ok, message = gate.confirm(typed, "console")
        assert not ok and "neither LIVE nor the Zerodha user id" in message
    assert not gate.confirmed
    assert gate.confirm(" ab1234 ", "console")[0]
    assert gate.confirmed_by == "console" and gate.blocking_reason() is None
    ok, message = gate.confirm("LIVE", "cli")
    assert ok and message == "live orders were already confirmed (by console)"


def test_an_expired_or_missing_session_shuts_a_confirmed_gate(tmp_path: Path) -> None:
    expired = LiveGate(session_in(tmp_path, expires_in=-timedelta(minutes=1)))
    assert expired.confirm("LIVE", "console")[0]
    reason = expired.blocking_reason()
    assert reason is not None and reason.startswith("no valid Kite session (expired")
    without = LiveGate(None)
    assert without.confirm("LIVE", "console")[0]
    assert without.blocking_reason() == "Zerodha is not enabled: no Kite session to send live orders with"


def test_launch_live_needs_the_setting_and_an_api_key(isolated_dirs: Path) -> None:
    assert not live_requested(load_settings(), False)
    with pytest.raises(ConfigError, match=r"needs zerodha\.live_orders = true"):
        live_requested(load_settings(zerodha={"enabled": True, "api_key": "k"}), True)
    with pytest.raises(ConfigError, match=r"needs zerodha\.api_key"):
        live_requested(load_settings(zerodha={"enabled": True, "live_orders": True}), True)
    assert live_requested(load_settings(zerodha={"enabled": True, "live_orders": True, "api_key": "k"}), True)

"""The console's login handler: none when Zerodha is off; a key other than the engine's is refused
before Kite is asked, and nothing is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from alpha_panda_tui.broker_login import console_login_handler
from alpha_panda_tui.screens.login import LoginRequest
from engine.settings import load_settings
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.login import LoginFailed
from engine.zerodha.session import SessionStore

ZERODHA = {"enabled": True, "api_key": "kiteapikey01", "api_secret": "s3cretvalue99"}


def test_no_handler_when_zerodha_is_off(isolated_dirs: Path) -> None:
    settings = load_settings()
    session = BrokerSession(SessionStore(settings.kite_session_file), "kiteapikey01")
    assert console_login_handler(settings, session) is None
    assert console_login_handler(load_settings(zerodha=ZERODHA), None) is None


async def test_another_api_key_is_refused_before_kite_is_asked(isolated_dirs: Path) -> None:
    settings = load_settings(zerodha={**ZERODHA, "root_url": "http://127.0.0.1:9"})  # nothing listens
    store = SessionStore(settings.kite_session_file)
    session = BrokerSession(store, "kiteapikey01")
    handler = console_login_handler(settings, session)
    assert handler is not None
    refused = r"this engine uses the API key in zerodha\.api_key \(kiteapikey01\)"
    with pytest.raises(LoginFailed, match=refused):
        await handler(LoginRequest("otherkey99", "", "Xy12AbCdEf34GhIj"))
    assert not store.path.exists() and session.status().state is SessionState.ABSENT

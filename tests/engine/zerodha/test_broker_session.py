"""The engine's Kite session: absent, valid until 06:00 IST, expired (by the clock or by Kite), and
woken by a login saved here or by another process."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.market.calendar import IST
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.session import KiteSession, SessionStore, session_expiry

API_KEY = "kiteapikey01"
REPO = str(Path(__file__).resolve().parents[3])
LOGIN = datetime(2026, 12, 2, 9, 5, tzinfo=IST)


def a_session(token: str = "tokenOne111", *, api_key: str = API_KEY, login: datetime = LOGIN) -> KiteSession:
    return KiteSession("AB1234", "Asha B", api_key, token, login, session_expiry(login))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "kite_session.json")


def test_no_file_is_absent(store: SessionStore) -> None:
    session = BrokerSession(store, API_KEY)
    status = session.status()
    assert (status.state, status.describe()) == (SessionState.ABSENT, "absent")
    assert session.access_token() is None


def test_a_saved_session_is_valid_until_six_then_expired(store: SessionStore) -> None:
    store.save(a_session())
    clock = Clock(LOGIN + timedelta(hours=1))
    session = BrokerSession(store, API_KEY, now=clock)
    assert session.status().describe() == "valid until 06:00 (AB1234)"
    assert session.access_token() == "tokenOne111"
    clock.now = datetime(2026, 12, 3, 5, 59, 59, tzinfo=IST)
    assert session.status().state is SessionState.VALID
    clock.now = datetime(2026, 12, 3, 6, 0, tzinfo=IST)
    assert session.status().describe() == "expired: past 06:00 IST"
    assert session.access_token() is None


def test_kite_refusing_the_token_expires_it_whatever_the_clock_says(
    store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.save(a_session())
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    with caplog.at_level(logging.WARNING):
        session.mark_expired("TokenException: Incorrect api_key or access_token")
        session.mark_expired("403 at the socket upgrade")
    status = session.status()
    assert status.state is SessionState.EXPIRED
    assert status.describe() == "expired: 403 at the socket upgrade"
    assert session.access_token() is None
    assert len(caplog.records) == 1, "logged once, when it ended"
    assert "tokenOne111" not in caplog.text


def test_a_session_for_another_api_key_is_not_used(
    store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.save(a_session(api_key="otherkey99"))
    with caplog.at_level(logging.WARNING):
        session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    assert session.status().state is SessionState.ABSENT
    assert "another API key" in caplog.text


def test_a_damaged_file_is_absent_with_a_warning(
    store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.path.write_text("{damaged", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    assert session.status().state is SessionState.ABSENT
    assert "damaged" in caplog.text and "alpha-panda-tui login" in caplog.text


def test_reload_sees_a_new_login_and_a_logout(store: SessionStore) -> None:
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    assert session.reload() is False, "nothing changed"
    store.save(a_session())
    assert session.reload() is True
    assert session.access_token() == "tokenOne111"
    assert session.reload() is False
    store.delete()
    assert session.reload() is True
    assert session.status().state is SessionState.ABSENT


def test_a_new_login_clears_an_expiry_by_kite(store: SessionStore) -> None:
    store.save(a_session())
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    session.mark_expired("refused")
    store.save(a_session("tokenTwo222"))
    session.install(a_session("tokenTwo222"))
    assert session.access_token() == "tokenTwo222"
    assert session.reload() is False, "install took the file's stamp: no re-read"
    session.clear()
    assert session.status().state is SessionState.ABSENT


async def test_wait_valid_returns_at_once_with_a_valid_token(store: SessionStore) -> None:
    store.save(a_session())
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    assert await asyncio.wait_for(session.wait_valid(), 1) == "tokenOne111"


async def test_wait_valid_is_woken_by_a_login_in_this_process(store: SessionStore) -> None:
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    waiter = asyncio.create_task(session.wait_valid())
    await asyncio.sleep(0)
    assert not waiter.done()
    store.save(a_session("tokenTwo222"))
    session.install(a_session("tokenTwo222"))
    assert await asyncio.wait_for(waiter, 0.5) == "tokenTwo222"


async def test_wait_valid_is_woken_by_a_login_saved_by_another_process(store: SessionStore) -> None:
    store.save(a_session())
    session = BrokerSession(store, API_KEY, now=Clock(LOGIN))
    session.mark_expired("403 at the socket upgrade")
    waiter = asyncio.create_task(session.wait_valid())
    await asyncio.sleep(0.05)
    assert not waiter.done(), "an expired token is not handed out"
    login = (
        "import sys; from pathlib import Path; from datetime import datetime; "
        "from engine.market.calendar import IST; "
        "from engine.zerodha.session import KiteSession, SessionStore, session_expiry; "
        "t = datetime(2026, 12, 2, 9, 30, tzinfo=IST); "
        "SessionStore(Path(sys.argv[1])).save("
        f"KiteSession('AB1234', 'Asha B', {API_KEY!r}, 'tokenNew333', t, session_expiry(t)))"
    )
    env = {**os.environ, "PYTHONPATH": REPO}
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", login, str(store.path)], env=env, timeout=30, check=False
    )
    assert done.returncode == 0
    assert await asyncio.wait_for(waiter, 3) == "tokenNew333"
    assert session.status().describe() == "valid until 06:00 (AB1234)"

"""`doctor` and `status` show the Kite session (absent / valid until HH:MM / expired) only when Zerodha
is enabled; never a token."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alpha_panda_tui.cli import main
from alpha_panda_tui.doctor import run_doctor
from engine.control import ControlServer
from engine.market.calendar import IST
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.zerodha.session import KiteSession, SessionStore, session_expiry

API_KEY = "kiteapikey01"
TOKEN = "accessTok3nSecretValue"
ZERODHA = {"enabled": True, "api_key": API_KEY, "api_secret": "s3cretvalue99"}


@pytest.fixture
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="kss-") as folder:  # short: a socket path is limited
        yield Path(folder)


def save_session(settings: Settings) -> KiteSession:
    login = datetime.now(IST) - timedelta(minutes=1)
    session = KiteSession("AB1234", "Asha B", API_KEY, TOKEN, login, session_expiry(login))
    SessionStore(settings.kite_session_file).save(session)
    return session


def broker_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "broker session" in line]


async def test_doctor_says_nothing_of_kite_when_zerodha_is_off(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await run_doctor(load_settings(data_dir=data_dir))
    assert broker_lines(capsys.readouterr().out) == []


async def test_doctor_shows_the_session_absent_then_valid(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(data_dir=data_dir, zerodha=ZERODHA)
    await run_doctor(settings)
    assert broker_lines(capsys.readouterr().out) == [
        "[warn] broker session (critical): not logged in: "
        "run `alpha-panda-tui login` (or press b in the console)"
    ]
    save_session(settings)
    await run_doctor(settings)
    out = capsys.readouterr().out
    assert broker_lines(out) == ["[ok  ] broker session (critical): valid until 06:00 (AB1234)"]
    assert TOKEN not in out


@asynccontextmanager
async def engine_serving(settings: Settings) -> AsyncIterator[Engine]:
    engine = Engine(settings, persist=False)
    server = ControlServer(engine.bus, settings.control_socket, engine.status)
    server.wire()
    await engine.start()
    await server.start()
    try:
        yield engine
    finally:
        await server.stop()
        await engine.stop()


async def status_lines(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> list[str]:
    monkeypatch.setenv("ALPHA_PANDA_DATA_DIR", str(data_dir))
    assert await asyncio.to_thread(main, ["status"]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("kite")]


async def test_status_shows_the_engines_session_when_zerodha_is_on(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(data_dir=data_dir, zerodha=ZERODHA)
    async with engine_serving(settings) as engine:
        assert await status_lines(data_dir, monkeypatch, capsys) == ["kite       session absent"]
        save_session(settings)  # `alpha-panda-tui login` in another terminal
        assert await status_lines(data_dir, monkeypatch, capsys) == [
            "kite       session valid until 06:00 (AB1234)"
        ]
        assert engine.broker_session is not None
        engine.broker_session.mark_expired("TokenException: Incorrect access_token")
        assert await status_lines(data_dir, monkeypatch, capsys) == [
            "kite       session expired: TokenException: Incorrect access_token"
        ]


async def test_status_says_nothing_of_kite_when_zerodha_is_off(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with engine_serving(load_settings(data_dir=data_dir)):
        assert await status_lines(data_dir, monkeypatch, capsys) == []

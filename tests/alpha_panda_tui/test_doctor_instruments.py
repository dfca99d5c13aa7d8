"""`doctor` with Zerodha on shows the instruments dumps: which exchanges, how many, how old."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from alpha_panda_tui.doctor import run_doctor
from engine.market.calendar import IST
from engine.settings import Settings, load_settings
from engine.zerodha.instruments_dump import InstrumentsDump
from tests.engine.zerodha.dumps import NFO_ROWS, NSE_ROWS, dump_text, set_fetched_at


@pytest.fixture(autouse=True)
def keep_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)  # doctor makes the data dir private, umask included


def zerodha_settings(tmp_path: Path) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        feed={"source": "zerodha"},
        zerodha={"enabled": True, "api_key": "k", "api_secret": "s", "exchanges": ["NSE", "NFO"]},
    )


async def test_doctor_shows_each_dumps_size_and_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = zerodha_settings(tmp_path)
    dump = InstrumentsDump.for_settings(settings)
    dump.save("NSE", dump_text(*NSE_ROWS))
    fetched = datetime.now(IST) - timedelta(hours=3)
    set_fetched_at(dump.path("NSE"), fetched)
    await run_doctor(settings)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "] instruments:" in line)
    assert line.startswith("[warn] instruments:")  # NFO was never downloaded
    assert f"NSE: 4 instruments fetched {fetched:%Y-%m-%d %H:%M} IST (3 h ago)" in line
    assert "NFO: not downloaded yet (the shipped sample stands in)" in line


async def test_doctor_says_ok_when_every_dump_is_the_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = zerodha_settings(tmp_path)
    dump = InstrumentsDump.for_settings(settings)
    dump.save("NSE", dump_text(*NSE_ROWS))
    dump.save("NFO", dump_text(*NFO_ROWS))  # fetched just now: after the latest publication
    await run_doctor(settings)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "] instruments:" in line)
    assert line.startswith("[ok  ] instruments: NSE: 4 instruments fetched")
    assert "NFO: 2 instruments fetched" in line


async def test_doctor_says_nothing_of_dumps_with_zerodha_off(capsys: pytest.CaptureFixture[str]) -> None:
    await run_doctor(load_settings())
    assert "instruments:" not in capsys.readouterr().out

"""One engine per database, as real processes: two data dirs, one database (SQLite outside both, PostgreSQL).

The second engine is refused with exit 3 and one line naming the database and the holder,
before it reads or writes anything (the first one's working orders are not cancelled);
after a kill -9 of the first, a new engine takes the lock at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from alpha_panda_tui.control_client import EngineNotRunning, send
from alpha_panda_tui.exit_codes import EXIT_ALREADY_RUNNING, EXIT_OK
from engine.execution.paper import RESTART_REASON
from engine.storage import models
from engine.storage.database import Database
from engine.storage.db_lock import DatabaseInUse, DatabaseLock
from tests.conftest import port_open
from tests.postgres import own_database, url_of
from tests.strategy_configs import CHATTY_STRATEGIES_TOML

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, isolated_dirs: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{isolated_dirs / 'shared' / 'alpha_panda.db'}"  # outside every data dir
        return
    if not port_open("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    async with own_database("dblock") as name:
        yield url_of(name)


def _env(root: Path, data: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "ALPHA_PANDA_DATA_DIR": str(root / data),
        "ALPHA_PANDA_CONFIG_DIR": str(root / "config"),
        "ALPHA_PANDA_DATABASE__URL": database_url,
        "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "3000",
        "ALPHA_PANDA_FEED__SESSION_SPEED": "20",
        "ALPHA_PANDA_RISK__MAX_ORDERS_PER_MINUTE": "100000",
        "ALPHA_PANDA_RISK__MAX_OPEN_POSITIONS": "100",
    }


def _launch(root: Path, data: str, database_url: str) -> subprocess.Popen[bytes]:
    log = (root / f"{data}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_env(root, data, database_url),
    )


def _wait_until_running(root: Path, data: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    socket = root / data / "control.sock"
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"{data} exited early:\n{(root / f'{data}.log').read_text()}")
        try:
            if send(socket, {"op": "status"}).get("ok"):
                return time.monotonic() - started
        except (EngineNotRunning, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{data} never answered on {socket}")


async def _restart_cancelled(database_url: str) -> int:
    db = Database(database_url)
    await db.connect()
    try:
        async with db.engine.connect() as conn:
            query = select(func.count()).where(models.orders.c.status_reason == RESTART_REASON)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await db.close()


def test_a_second_engine_on_the_same_database_is_refused_until_the_first_dies(
    isolated_dirs: Path, database_url: str
) -> None:
    root = isolated_dirs
    (root / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    first = _launch(root, "first", database_url)
    try:
        _wait_until_running(root, "first", first)
        time.sleep(1.0)  # trading: orders placed, some working

        second = subprocess.run(
            [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless", "--duration", "5"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(root, "second", database_url),
        )
        assert second.returncode == EXIT_ALREADY_RUNNING, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "is in use by" in lines[0] and "one engine per database" in lines[0]
        assert f"pid {first.pid}" in lines[0]  # the holder
        assert "engine started" not in second.stderr and "Traceback" not in second.stderr
        assert "cancelled" not in second.stderr
        assert first.poll() is None
        reply = send(root / "first" / "control.sock", {"op": "status"})
        assert reply["ok"] and reply["status"]["state"] == "running"
        cancelled = asyncio.run(_restart_cancelled(database_url))
        assert cancelled == 0, "the refused engine cancelled the first engine's orders"

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        third = _launch(root, "third", database_url)
        try:
            _wait_until_running(root, "third", third, timeout=15)  # the lock died with its holder
            third.send_signal(signal.SIGTERM)
            assert third.wait(30) == EXIT_OK, (root / "third.log").read_text()
        finally:
            if third.poll() is None:
                third.kill()
                third.wait(10)
        assert "is in use by" not in (root / "third.log").read_text()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)


async def test_the_lock_names_the_database_without_its_password_and_is_released_on_stop(
    isolated_dirs: Path, database_url: str
) -> None:
    if database_url.startswith("postgresql"):
        database_url = database_url.replace("postgres@", "postgres:hunter2@", 1)  # trust auth ignores it
    first, second = DatabaseLock(database_url), DatabaseLock(database_url)
    await first.acquire()
    try:
        with pytest.raises(DatabaseInUse) as refused:
            await second.acquire()
        message = str(refused.value)
        assert "hunter2" not in message
        assert f"pid {os.getpid()}" in message
        assert not second.held
    finally:
        await first.release()
    await second.acquire()  # released on stop: taken again at once
    assert second.held
    if second.lock_file is not None:
        assert second.lock_file.stat().st_mode & 0o777 == 0o600
        assert second.lock_file.read_text().strip() == str(os.getpid())
    await second.release()


async def test_read_only_tools_do_not_take_the_lock(
    isolated_dirs: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.runtime import Engine
    from engine.settings import load_settings

    monkeypatch.setenv("ALPHA_PANDA_DATABASE__URL", database_url)
    settings = load_settings()
    held = DatabaseLock(database_url)  # as a running engine holds it
    await held.acquire()
    try:
        assert Engine(settings, persist=False).db_lock is None  # replay without persistence
        doctor = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "alpha_panda_tui", "doctor"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ},
        )
        assert doctor.returncode == EXIT_OK, doctor.stdout + doctor.stderr
        assert "[ok  ] database (critical)" in doctor.stdout
        assert "in use" not in doctor.stdout + doctor.stderr
    finally:
        await held.release()

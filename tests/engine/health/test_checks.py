from __future__ import annotations

import secrets
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from engine.bus import InProcessBus
from engine.clock import ManualClock
from engine.events import Command, CommandAction, Namespace, make_event
from engine.health.checks import (
    BrokerSessionCheck,
    ConfigCheck,
    DatabaseCheck,
    DiskSpaceCheck,
    MarketStatusCheck,
    RedisCheck,
    StorageWriterCheck,
)
from engine.health.registry import CheckStatus
from engine.market.calendar import IST, MarketCalendar
from engine.settings import ZerodhaSettings, load_settings
from engine.storage.database import Database
from engine.storage.writer import StorageWriter
from engine.topics import CONTROL_COMMANDS
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.session import KiteSession, SessionStore, session_expiry

# -- disk -------------------------------------------------------------------------------


async def test_disk_check_reads_the_real_free_space(tmp_path: Path) -> None:
    free_mb = shutil.disk_usage(tmp_path).free / 1_048_576
    ok = await DiskSpaceCheck(tmp_path, min_free_mb=0).check()
    assert ok.status is CheckStatus.OK
    assert ok.details["free_mb"] > 0
    assert ok.details["path"] == str(tmp_path)
    # thresholds relative to what is free, so the verdicts do not depend on the machine
    assert (await DiskSpaceCheck(tmp_path, min_free_mb=free_mb * 0.6).check()).status is CheckStatus.WARN
    failed = await DiskSpaceCheck(tmp_path, min_free_mb=free_mb * 10).check()
    assert failed.status is CheckStatus.FAIL
    assert "below the" in failed.message


async def test_disk_check_on_a_data_dir_not_created_yet(tmp_path: Path) -> None:
    result = await DiskSpaceCheck(tmp_path / "not" / "yet", min_free_mb=0).check()
    assert result.status is CheckStatus.OK
    assert str(tmp_path / "not" / "yet") in result.message


# -- database ---------------------------------------------------------------------------


async def test_database_check_ok_on_an_open_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ok.db'}")
    await db.connect()
    try:
        result = await DatabaseCheck(db).check()
    finally:
        await db.close()
    assert result.status is CheckStatus.OK
    assert result.critical
    assert result.details["latency_ms"] >= 0


async def test_database_check_warns_when_reachable_but_not_opened(tmp_path: Path) -> None:
    result = await DatabaseCheck(Database(f"sqlite:///{tmp_path / 'later.db'}")).check()
    assert result.status is CheckStatus.WARN
    assert "not migrated" in result.message


async def test_database_check_fails_on_a_refused_connection() -> None:
    db = Database("postgresql://trader:very-secret@127.0.0.1:1/alpha")
    result = await DatabaseCheck(db).check()
    assert result.status is CheckStatus.FAIL
    assert result.message.startswith(
        "postgresql unreachable at postgresql+asyncpg://trader:***@127.0.0.1:1/alpha:"
    )
    assert "very-secret" not in result.message
    assert "very-secret" not in str(result.details)


async def test_database_check_fails_on_a_missing_postgres_database(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + f"/no_such_db_{secrets.token_hex(4)}"
    result = await DatabaseCheck(Database(missing)).check()
    assert result.status is CheckStatus.FAIL
    assert "does not exist" in result.message


async def test_storage_writer_check_follows_the_writes(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    bus = InProcessBus()
    writer = StorageWriter(bus, Database(f"sqlite:///{blocker / 'x.db'}"), (Namespace.PAPER,))
    writer.wire()
    check = StorageWriterCheck(writer)
    assert (await check.check()).status is CheckStatus.OK
    await bus.start()
    command = Command(CommandAction.HALT)
    await bus.publish(CONTROL_COMMANDS, make_event(command, namespace=Namespace.SHARED, source="t", key="k"))
    assert await bus.drain()
    await bus.stop()
    assert await writer.flush() is False  # into a database never opened
    result = await check.check()
    assert result.status is CheckStatus.FAIL
    assert "1 events kept for retry" in result.message
    assert "not connected" in result.message


# -- market -----------------------------------------------------------------------------


def ist(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=IST).timestamp()


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (ist(2026, 2, 2, 10, 0), "NSE open"),
        (ist(2026, 1, 26, 10, 0), "NSE holiday: Republic Day"),
        (ist(2026, 2, 7, 10, 0), "NSE weekend; next open Mon 09 Feb 09:15 IST"),
        (ist(2026, 2, 2, 16, 0), "NSE closed; next open Tue 03 Feb 09:15 IST"),
    ],
)
async def test_market_status_is_informative_never_critical(when: float, expected: str) -> None:
    result = await MarketStatusCheck(MarketCalendar(), ManualClock(when)).check()
    assert (result.status, result.message, result.critical) == (CheckStatus.OK, expected, False)


# -- broker -----------------------------------------------------------------------------


def credentials() -> ZerodhaSettings:
    return ZerodhaSettings(enabled=True, api_key=SecretStr("key-123"), api_secret=SecretStr("shh-456"))


async def test_broker_check_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    session = BrokerSession(SessionStore(tmp_path / "kite_session.json"), "")
    result = await BrokerSessionCheck(ZerodhaSettings(enabled=True), session).check()
    assert result.status is CheckStatus.FAIL
    assert result.message.startswith("no api_key/api_secret configured; set ALPHA_PANDA_ZERODHA__API_KEY")
    assert result.details["missing"] == ["api_key", "api_secret"]


async def test_broker_check_reports_a_refusal_from_kite(tmp_path: Path) -> None:
    login = datetime(2026, 12, 2, 9, 5, tzinfo=IST)
    session = BrokerSession(saved_session(tmp_path, login), "key-123", now=lambda: login)

    async def expired() -> str:
        raise PermissionError("Incorrect `api_key` or `access_token`.")

    rejected = await BrokerSessionCheck(credentials(), session, verify=expired).check()
    assert rejected.status is CheckStatus.FAIL
    assert "log in again" in rejected.message
    shown = rejected.message + str(rejected.details)
    assert not any(secret in shown for secret in ("key-123", "shh-456", "tok-789"))


def saved_session(tmp_path: Path, login: datetime) -> SessionStore:
    store = SessionStore(tmp_path / "kite_session.json")
    store.save(KiteSession("AB1234", "Asha B", "key-123", "tok-789", login, session_expiry(login)))
    return store


async def test_broker_check_shows_the_saved_session_absent_valid_then_expired(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 9, 5, tzinfo=IST)
    store = SessionStore(tmp_path / "kite_session.json")
    session = BrokerSession(store, "key-123", now=lambda: now)
    check = BrokerSessionCheck(credentials(), session)
    absent = await check.check()
    assert (absent.status, absent.details["session"]) == (CheckStatus.WARN, "absent")
    assert absent.message.startswith("not logged in: run `alpha-panda-tui login`")

    saved_session(tmp_path, now)  # a login, in this process or another: the check re-reads the file
    valid = await check.check()
    assert (valid.status, valid.message) == (CheckStatus.OK, "valid until 06:00 (AB1234)")
    assert valid.details["expires_at"] == "2026-12-03T06:00:00+05:30"
    assert "tok-789" not in valid.message + str(valid.details)

    now = datetime(2026, 12, 3, 6, 0, tzinfo=IST)
    expired = await check.check()
    assert expired.status is CheckStatus.WARN
    assert expired.message.startswith("session expired (past 06:00 IST): run `alpha-panda-tui login`")


async def test_broker_check_says_why_kite_refused_the_session(tmp_path: Path) -> None:
    login = datetime(2026, 12, 2, 9, 5, tzinfo=IST)
    session = BrokerSession(saved_session(tmp_path, login), "key-123", now=lambda: login)
    session.mark_expired("TokenException: Incorrect `api_key` or `access_token`.")
    result = await BrokerSessionCheck(credentials(), session).check()
    assert result.status is CheckStatus.WARN
    assert result.message.startswith(
        "session expired (TokenException: Incorrect `api_key` or `access_token`.)"
    )


async def test_broker_check_with_a_session_and_kites_answer(tmp_path: Path) -> None:
    login = datetime(2026, 12, 2, 9, 5, tzinfo=IST)
    session = BrokerSession(saved_session(tmp_path, login), "key-123", now=lambda: login)

    async def profile() -> str:
        return "AB1234"

    result = await BrokerSessionCheck(credentials(), session, verify=profile).check()
    assert (result.status, result.message) == (
        CheckStatus.OK,
        "logged in as AB1234, valid until 06:00 (AB1234)",
    )


# -- redis ------------------------------------------------------------------------------


async def test_redis_ping(redis_url: str) -> None:
    check = RedisCheck(redis_url)
    try:
        result = await check.check()
    finally:
        await check.close()
    assert result.status is CheckStatus.OK
    assert result.message.startswith("PONG in")


async def test_redis_check_uses_a_shared_client_and_leaves_it_open(redis_url: str) -> None:
    shared = Redis.from_url(redis_url)
    try:
        check = RedisCheck(redis_url, client=shared)
        assert (await check.check()).status is CheckStatus.OK
        await check.close()
        assert await shared.ping()
    finally:
        await shared.aclose()


async def test_redis_unreachable_fails_without_the_password() -> None:
    check = RedisCheck("redis://:hunter2@127.0.0.1:1/0")
    try:
        result = await check.check()
    finally:
        await check.close()
    assert result.status is CheckStatus.FAIL
    assert result.message.startswith("unreachable at redis://:***@127.0.0.1:1/0")
    assert "hunter2" not in result.message


# -- config -----------------------------------------------------------------------------


async def test_config_check_shows_where_settings_came_from() -> None:
    settings = load_settings()
    result = await ConfigCheck(settings).check()
    assert result.status is CheckStatus.OK
    assert f"{settings.config_file} not present" in result.message
    assert result.details["config_file_exists"] is False

    settings.config_file.write_text("[risk]\nmax_quantity = 10\n")
    result = await ConfigCheck(load_settings()).check()
    assert result.message == f"settings loaded: from {settings.config_file}"
    assert result.details["config_file_exists"] is True

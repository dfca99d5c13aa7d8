"""`doctor`: validate config and run every health check, printed; exit 1 when a critical one fails.

With an engine running (its control socket answers), the live engine's own
checks are shown, pipeline flow included; otherwise the checks that need no
running engine are run here and the pipeline is reported as not checked.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from alpha_panda_tui.control_client import EngineNotRunning, request
from alpha_panda_tui.host import make_data_dir_private
from engine.clock import WallClock
from engine.health.checks import (
    BrokerSessionCheck,
    ConfigCheck,
    DatabaseCheck,
    DiskSpaceCheck,
    InstrumentsDumpCheck,
    MarketStatusCheck,
    RedisCheck,
    SecretFilePermissionsCheck,
)
from engine.health.registry import CheckResult, CheckStatus, HealthRegistry
from engine.market.calendar import MarketCalendar
from engine.settings import Settings
from engine.storage.database import Database
from engine.storage.url import redact_url
from engine.strategies.errors import StrategyConfigError
from engine.strategies.loader import load_strategies, strategies_file
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.instruments_dump import InstrumentsDump, engine_instruments, uses_dump
from engine.zerodha.session import SessionStore

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "skipped": "skip"}


def _line(name: str, status: str, message: str, critical: bool) -> str:
    crit = " (critical)" if critical else ""
    return f"[{MARKS.get(status, status)}] {name}{crit}: {message}"


async def run_doctor(settings: Settings) -> int:
    found = "found" if settings.config_file.exists() else "not present; defaults apply"
    print(f"config file   {settings.config_file} ({found})")
    print(f"data dir      {settings.data_dir}")
    print(f"database      {redact_url(settings.database_url)}")
    print(f"strategies    {strategies_file(settings)}")
    try:
        reply = await request(settings.control_socket, {"op": "status"})
    except EngineNotRunning:
        reply = None
    if reply and reply.get("ok"):
        print("engine        running: its live health checks follow")
        failed = False
        for check in reply["status"].get("health", []):
            print(_line(check["name"], check["status"], check["message"], check["critical"]))
            failed = failed or (check["critical"] and check["status"] == CheckStatus.FAIL.value)
        files = await SecretFilePermissionsCheck(_secret_files(settings)).check()
        print(_line(files.name, files.status.value, files.message, files.critical))
        return _verdict(failed)
    print("engine        not running: checks that need no engine follow")
    return _verdict(await _offline_checks(settings))


async def _offline_checks(settings: Settings) -> bool:
    """Run the checks here; True when a critical one failed."""
    failed = False
    make_data_dir_private(settings)  # the database is created (or migrated) below
    try:
        instruments = engine_instruments(settings, announce=False)
        # with live orders on, strategies routed to zerodha are checked as `launch --live` would
        strategies, enabled = load_strategies(settings, instruments, live=settings.zerodha.live_orders)
        on = sum(1 for name in enabled.values() if name)
        print(_line("strategies", "ok", f"{len(strategies)} loaded, {on} enabled", True))
    except StrategyConfigError as exc:
        print(_line("strategies", "fail", str(exc), True))
        failed = True
    db = Database(settings.database_url)
    registry = HealthRegistry()
    registry.register(ConfigCheck(settings))
    registry.register(DatabaseCheck(db))
    registry.register(DiskSpaceCheck(settings.data_dir, settings.health.min_free_disk_mb))
    registry.register(MarketStatusCheck(MarketCalendar(), WallClock()))
    registry.register(SecretFilePermissionsCheck(_secret_files(settings)))
    if settings.zerodha.enabled:
        api_key = settings.zerodha.api_key.get_secret_value() if settings.zerodha.api_key else ""
        session = BrokerSession(SessionStore(settings.kite_session_file), api_key)
        registry.register(BrokerSessionCheck(settings.zerodha, session))
        dump = InstrumentsDump.for_settings(settings)
        registry.register(InstrumentsDumpCheck(dump, in_use=uses_dump(settings)))
    redis_check = RedisCheck(settings.redis.url) if settings.redis.url else None
    if redis_check is not None:
        registry.register(redis_check)
    try:
        with contextlib.suppress(Exception):  # the database check below reports why
            await db.connect()  # what launch does first: creates or migrates the schema
        results: list[CheckResult] = await registry.run_all()
    finally:
        await db.close()
        if redis_check is not None:
            await redis_check.close()
    for result in results:
        print(_line(result.name, result.status.value, result.message, result.critical))
        failed = failed or (result.critical and result.status is CheckStatus.FAIL)
    print(_line("pipeline", "skipped", "not checked: no engine is running", False))
    return failed


def _secret_files(settings: Settings) -> list[Path]:
    """The files settings are read from that may hold secrets (`.env` is read from the working dir)."""
    return [settings.config_file, Path(".env").resolve()]


def _verdict(failed: bool) -> int:
    print("doctor: a critical check failed" if failed else "doctor: all critical checks passed")
    return 1 if failed else 0

"""`doctor`: validate config and run every health check, printed; non-zero when a critical one fails."""

from __future__ import annotations

from engine.health.registry import CheckStatus
from engine.runtime import Engine
from engine.settings import Settings

MARKS = {
    CheckStatus.OK: "ok  ",
    CheckStatus.WARN: "warn",
    CheckStatus.FAIL: "FAIL",
    CheckStatus.SKIPPED: "skip",
}


async def run_doctor(settings: Settings) -> int:
    print(f"config file   {settings.config_file} ({'found' if settings.config_file.exists() else 'not present; defaults'})")
    print(f"data dir      {settings.data_dir}")
    print(f"database      {_safe_url(settings.database_url)}")
    settings.ensure_dirs()
    engine = Engine(settings)
    failed_critical = False
    try:
        if engine.db is not None:
            try:
                await engine.db.connect()
            except Exception as exc:
                print(f"FAIL database: cannot open {_safe_url(settings.database_url)}: {exc}")
        for result in await engine.check_health():
            crit = " (critical)" if result.critical else ""
            print(f"[{MARKS[result.status]}] {result.name}{crit}: {result.message}")
            if result.critical and result.status is CheckStatus.FAIL:
                failed_critical = True
    finally:
        if engine.db is not None:
            await engine.db.close()
    print("doctor: a critical check failed" if failed_critical else "doctor: all critical checks passed")
    return 1 if failed_critical else 0


def _safe_url(url: str) -> str:
    """The URL without any password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"

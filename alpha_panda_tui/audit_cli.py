"""`alpha-panda-tui audit`: the audit log of live actions, newest first, read from the database.

Works whether or not an engine runs (it reads; it takes no lock).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from engine.market.calendar import IST
from engine.settings import Settings
from engine.storage.audit import AuditEntry, AuditLog
from engine.storage.database import Database

MAX_LIMIT = 10_000

log = logging.getLogger(__name__)


def format_entry(entry: AuditEntry) -> str:
    at = datetime.fromtimestamp(entry.ts, IST).strftime("%Y-%m-%d %H:%M:%S")
    subject = f" {entry.subject}" if entry.subject else ""
    detail = f"  {entry.detail}" if entry.detail else ""
    return f"{at} IST  {entry.namespace.value:8} {entry.actor:20} {entry.action}{subject}{detail}"


async def record_action(
    settings: Settings, actor: str, action: str, *, subject: str = "", detail: str = ""
) -> bool:
    """One audit entry from a process that is not the engine (`login`, `logout`); False, with a
    warning on stderr, when the database cannot take it (the action itself stands)."""
    db = Database(settings.database_url)
    try:
        await db.connect()
        await AuditLog(db).record(actor, action, subject=subject, detail=detail)
    except Exception as exc:
        print(f"warning: could not write the audit entry ({db.redact(str(exc))})", file=sys.stderr)
        return False
    finally:
        await db.close()
    return True


async def run_audit(settings: Settings, *, limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        print(f"error: --limit must be from 1 to {MAX_LIMIT:,}", file=sys.stderr)
        return EXIT_CONFIG
    if not settings.database.url and not (settings.data_dir / "alpha_panda.db").exists():
        print("no audit entries: no database yet (no engine has run with this data dir)")
        return EXIT_OK
    db = Database(settings.database_url)
    try:
        await db.connect()
        entries = await AuditLog(db).recent(limit)
    except Exception as exc:
        print(f"error: cannot read the audit log: {db.redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await db.close()
    if not entries:
        print("no audit entries: no live action has been taken")
        return EXIT_OK
    for entry in entries:
        print(format_entry(entry))
    return EXIT_OK

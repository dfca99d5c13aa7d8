"""`alpha-panda-tui audit`: the audit log, newest first, read from the real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alpha_panda_tui.cli import main
from alpha_panda_tui.exit_codes import EXIT_CONFIG, EXIT_OK
from engine.events import Namespace
from engine.settings import load_settings
from engine.storage.audit import AuditLog
from engine.storage.database import Database


async def _record(entries: list[tuple[str, str, str, str]]) -> None:
    db = Database(load_settings().database_url)
    await db.connect()
    try:
        audit = AuditLog(db)
        for actor, action, subject, detail in entries:
            await audit.record(actor, action, subject=subject, detail=detail, namespace=Namespace.ZERODHA)
    finally:
        await db.close()


def test_audit_lists_the_newest_entries_first(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(
        _record(
            [
                ("console", "live_confirmed", "", "live orders confirmed"),
                ("strategy:sma", "placed", "Zabc1", "Kite order 1001"),
                ("console", "halted", "", "kill switch in the console"),
            ]
        )
    )
    assert main(["audit", "-n", "2"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("zerodha  console              halted  kill switch in the console")
    assert lines[1].endswith("zerodha  strategy:sma         placed Zabc1  Kite order 1001")
    assert " IST  " in lines[0]


def test_audit_with_no_entries_and_a_bad_limit(
    isolated_dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_record([]))
    assert main(["audit"]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "no audit entries: no live action has been taken"
    assert main(["audit", "-n", "0"]) == EXIT_CONFIG
    assert "--limit must be from 1 to 10,000" in capsys.readouterr().err

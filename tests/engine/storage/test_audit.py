from __future__ import annotations

import time

import pytest

from engine.events import Namespace
from engine.storage.audit import AuditLog
from engine.storage.database import Database


async def test_recorded_actions_come_back_newest_first_and_survive_a_restart(db: Database) -> None:
    audit = AuditLog(db)
    before = time.time()
    await audit.record("console", "live_confirmed", detail="typed LIVE")
    await audit.record("strategy:sma", "placed", subject="Zmj1abcde1", detail="BUY 10 RELIANCE")
    await audit.record("cli", "flattened", subject="paper", namespace=Namespace.PAPER)
    entries = await audit.recent(2)
    assert [(e.actor, e.action, e.subject, e.namespace) for e in entries] == [
        ("cli", "flattened", "paper", Namespace.PAPER),
        ("strategy:sma", "placed", "Zmj1abcde1", Namespace.ZERODHA),
    ]
    assert all(e.ts >= before for e in entries)
    again = AuditLog(db)
    assert [e.action for e in await again.recent(10)] == ["flattened", "placed", "live_confirmed"]


async def test_an_entry_without_actor_or_action_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="actor and an action"):
        await AuditLog(db).record("", "placed")
    assert await AuditLog(db).recent(5) == []

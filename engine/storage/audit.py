"""The audit log: every live action, who or what took it, and when, in the database."""

from __future__ import annotations

import time

import msgspec
from sqlalchemy import insert, select

from engine.events import Namespace
from engine.storage import models
from engine.storage.database import Database


class AuditEntry(msgspec.Struct, frozen=True):
    ts: float
    actor: str  # "console", "cli", "engine", "risk:daily_loss", "strategy:<name>"
    action: str  # "placed", "modified", "cancelled", "halted", "flattened", "logged_in", ...
    namespace: Namespace
    subject: str = ""  # what it acted on: an order id, a strategy, a symbol
    detail: str = ""


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        actor: str,
        action: str,
        *,
        subject: str = "",
        detail: str = "",
        namespace: Namespace = Namespace.ZERODHA,
    ) -> AuditEntry:
        if not actor or not action:
            raise ValueError("an audit entry needs an actor and an action")
        entry = AuditEntry(
            ts=time.time(), actor=actor, action=action, namespace=namespace, subject=subject, detail=detail
        )
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(models.audit_log).values(
                    ts=entry.ts,
                    actor=actor,
                    action=action,
                    namespace=namespace.value,
                    subject=subject,
                    detail=detail,
                )
            )
        return entry

    async def recent(self, n: int = 100) -> list[AuditEntry]:
        """The newest `n` entries, newest first."""
        table = models.audit_log
        query = select(table).order_by(table.c.id.desc()).limit(n)
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            AuditEntry(
                ts=row["ts"],
                actor=row["actor"],
                action=row["action"],
                namespace=Namespace(row["namespace"]),
                subject=row["subject"],
                detail=row["detail"],
            )
            for row in rows
        ]

"""SQLite connection setup: WAL, a busy timeout, and transactions SQLAlchemy really controls.

Python's sqlite3 (and so aiosqlite) does not BEGIN before DDL, so a migration's
CREATE/ALTER would commit statement by statement. We switch the driver's own
transaction handling off and emit BEGIN ourselves (the recipe in SQLAlchemy's
SQLite dialect docs), which makes DDL transactional like on PostgreSQL. A
connection with the `IMMEDIATE` execution option begins with BEGIN IMMEDIATE,
taking the write lock up front (migrations read the version, then write).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

IMMEDIATE = "alpha_panda_sqlite_immediate"


def is_memory_database(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


def configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int, wal: bool) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

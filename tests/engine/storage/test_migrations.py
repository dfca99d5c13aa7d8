from __future__ import annotations

import pytest
from sqlalchemy import Column, Connection, String, inspect, select, text

from engine.storage import models
from engine.storage.database import Database
from engine.storage.migrations import (
    MIGRATIONS,
    Migration,
    SchemaTooNewError,
    add_column,
    migrate,
    schema_version,
)
from tests.engine.storage.conftest import DatabaseFactory

TABLES = {
    "orders",
    "fills",
    "risk_decisions",
    "pnl_snapshots",
    "engine_state",
    "event_log",
    "live_orders",
    "audit_log",
    "schema_version",
}


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def column_names(db: Database, table: str) -> set[str]:
    async with db.engine.connect() as conn:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {c["name"] for c in columns}


async def test_fresh_database_gets_every_table_and_the_latest_version(db_factory: DatabaseFactory) -> None:
    db = db_factory()
    try:
        assert await db.connect() == [m.version for m in MIGRATIONS]
        assert await table_names(db) == TABLES
        assert await schema_version(db.engine) == len(MIGRATIONS)
    finally:
        await db.close()


async def test_rerun_is_a_no_op(db_factory: DatabaseFactory) -> None:
    first = db_factory()
    await first.connect()
    try:
        assert await migrate(first.engine) == []
    finally:
        await first.close()
    again = db_factory()  # a restart
    try:
        assert await again.connect() == []
        async with again.engine.connect() as conn:
            rows = (await conn.execute(select(models.schema_version.c.version))).scalars().all()
        assert rows == [m.version for m in MIGRATIONS]
    finally:
        await again.close()


async def test_a_database_newer_than_the_code_is_refused(db_factory: DatabaseFactory) -> None:
    db = db_factory()
    await db.connect()
    future = len(MIGRATIONS) + 1
    async with db.engine.begin() as conn:
        await conn.execute(
            models.schema_version.insert().values(
                version=future, description="from the future", applied_at=0.0
            )
        )
    await db.close()
    newer = db_factory()
    with pytest.raises(SchemaTooNewError, match=f"schema is at version {future}.*upgrade alpha-panda-tui"):
        await newer.connect()
    assert not newer.connected


def _add_venue(conn: Connection) -> None:
    add_column(conn, models.fills, Column("venue", String(), nullable=False, server_default="NSE"))


async def test_a_new_migration_applies_once_on_an_existing_database(db: Database) -> None:
    migrations = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "fills get a venue", _add_venue))
    assert await migrate(db.engine, migrations) == [len(MIGRATIONS) + 1]
    assert "venue" in await column_names(db, "fills")
    assert await migrate(db.engine, migrations) == []
    assert await schema_version(db.engine) == len(MIGRATIONS) + 1


def _create_then_fail(conn: Connection) -> None:
    conn.execute(text("CREATE TABLE half_done (id INTEGER PRIMARY KEY)"))
    raise RuntimeError("migration bug")


async def test_a_failing_migration_leaves_no_trace(db: Database) -> None:
    migrations = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "broken", _create_then_fail))
    with pytest.raises(RuntimeError, match="migration bug"):
        await migrate(db.engine, migrations)
    # DDL is transactional on both databases, so the half-done table was rolled back
    assert "half_done" not in await table_names(db)
    assert await schema_version(db.engine) == len(MIGRATIONS)


async def test_migrations_must_be_numbered_in_order(db: Database) -> None:
    out_of_order = (*MIGRATIONS, Migration(len(MIGRATIONS) + 2, "skips a number", _add_venue))
    with pytest.raises(ValueError, match="in order"):
        await migrate(db.engine, out_of_order)

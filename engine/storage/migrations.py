"""Schema versioning without Alembic: an ordered list of migrations and a `schema_version` table.

How it runs
    `await migrate(engine)` (called by `Database.connect`) creates `schema_version`
    if missing, reads the highest version applied, and applies every newer
    migration in order, each in its own transaction together with the row that
    records it, so a failed migration leaves the schema at the previous
    version. Re-running is a no-op. A database whose version is higher than the
    newest migration here was written by a newer release: `migrate` refuses
    (`SchemaTooNewError`) rather than run old code against a schema it does
    not know. Concurrent starters are serialised by a lock taken inside each
    transaction (a PostgreSQL advisory lock; SQLite's BEGIN IMMEDIATE) and the
    version is re-read under it, so two processes never apply the same step.

How to add a migration
    1. Change the models in `models.py`.
    2. Append `Migration(<last version + 1>, "<what changes>", <upgrade>)` to
       `MIGRATIONS`. `upgrade` receives a synchronous `Connection` already in
       the migration's transaction. Use the helpers below: `create_tables`,
       `add_column`, `create_index`, or `conn.execute(text(...))` for data.
    3. Make each step a no-op when its work is already there (the helpers do).
       Migration 1 builds its tables from the *current* models, so on a fresh
       database a later "add column" finds the column already present.
    4. Never edit, renumber or remove a migration that has been released.
    5. Add a test that applies it to a database at the previous version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Index,
    Numeric,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateColumn

from engine.events import MalformedEvent, decode_event
from engine.money import PRICE_PLACES, to_paise, to_price
from engine.storage import models
from engine.storage.event_codec import FORMAT_JSON, encode_body
from engine.storage.sqlite import IMMEDIATE

# any fixed 64-bit number works; every process migrating one database takes the same lock
_PG_LOCK_KEY = 0x41_6C_70_68_61_50_6E_64


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer release than this one."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    upgrade: Callable[[Connection], None]


# -- idempotent DDL helpers for upgrade functions ----------------------------------


def create_tables(conn: Connection, *tables: Table) -> None:
    models.Base.metadata.create_all(conn, tables=list(tables), checkfirst=True)


def add_column(conn: Connection, table: Table, column: Column[Any]) -> None:
    """ALTER TABLE ... ADD COLUMN unless it exists. A NOT NULL column needs a server_default."""
    if column.name in {c["name"] for c in inspect(conn).get_columns(table.name)}:
        return
    table_name = conn.dialect.identifier_preparer.format_table(table)
    spec = CreateColumn(column).compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {spec}")


def create_index(conn: Connection, index: Index) -> None:
    index.create(conn, checkfirst=True)


# -- the migrations -------------------------------------------------------------


def _initial_schema(conn: Connection) -> None:
    create_tables(
        conn,
        models.orders,
        models.fills,
        models.risk_decisions,
        models.pnl_snapshots,
        models.engine_state,
        models.event_log,
    )


_V1_EVENT_LOG = "event_log_v1"
_COPY_BATCH = 5_000


def _compact_event_log(conn: Connection) -> None:
    """Rewrite the event log from one JSON text row per event (with its envelope repeated in
    columns) into lineage columns + a compact body keyed by the binary event id."""
    columns = {c["name"] for c in inspect(conn).get_columns(models.event_log.name)}
    if "type" not in columns:
        return  # built by migration 1 from the current models: already compact
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_event_log_correlation_ts")
    conn.exec_driver_sql(f"ALTER TABLE event_log RENAME TO {_V1_EVENT_LOG}")
    if conn.dialect.name == "postgresql":  # index names are per schema: free them for the new table
        for index in ("event_log_pkey", "event_log_event_id_key"):
            conn.exec_driver_sql(f"ALTER INDEX IF EXISTS {index} RENAME TO v1_{index}")
    create_tables(conn, models.event_log)
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    key = ["correlation_id", "event_id"]
    insert_new = dialect_insert(models.event_log).on_conflict_do_nothing(index_elements=key)
    last_id = -1
    while True:
        rows = conn.execute(
            text(
                f"SELECT id, event_id, correlation_id, causation_id, ts, body FROM {_V1_EVENT_LOG} "
                "WHERE id > :last ORDER BY id LIMIT :n"
            ),
            {"last": last_id, "n": _COPY_BATCH},
        ).all()
        if not rows:
            break
        last_id = rows[-1][0]
        conn.execute(insert_new, [_compact_row(*row[1:]) for row in rows])
    conn.exec_driver_sql(f"DROP TABLE {_V1_EVENT_LOG}")


def _compact_row(
    event_id: str, correlation_id: str, causation_id: str, ts: float, body: str
) -> dict[str, Any]:
    try:
        compact = encode_body(decode_event(body))
    except MalformedEvent:  # unreadable before too: keep its text as it was
        compact = bytes((FORMAT_JSON,)) + body.encode()
    return {
        "event_id": event_id,
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "ts": ts,
        "body": compact,
    }


# the columns migration 3 made exact; their types and scales are the models'
_MONEY_TABLES: tuple[Table, ...] = (models.orders, models.fills, models.pnl_snapshots)


def _money_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(c.type, Numeric) and not isinstance(c.type, Float)]


def _exact_money(conn: Connection) -> None:
    """Prices and amounts from double precision to NUMERIC, each value rounded by the rule in
    `engine.money` (the 15-digit reading of the float, half away from zero)."""
    for table in _MONEY_TABLES:
        money = _money_columns(table)
        stored = {c["name"]: c["type"] for c in inspect(conn).get_columns(table.name)}
        if not any(isinstance(stored[c.name], Float) for c in money):
            continue  # built by migration 1 from the current models: already exact
        if conn.dialect.name == "postgresql":
            _alter_to_numeric(conn, table, money)
        else:
            _rebuild_sqlite_table(conn, table, money)


def _alter_to_numeric(conn: Connection, table: Table, money: list[Column[Any]]) -> None:
    # PostgreSQL's float8 -> numeric cast reads 15 significant digits and round() is half away
    # from zero: exactly `engine.money.to_paise` / `to_price`
    changes = ", ".join(
        f"ALTER COLUMN {c.name} TYPE {c.type.compile(conn.dialect)} "
        f"USING round({c.name}::numeric, {_scale(c)})"
        for c in money
    )
    conn.exec_driver_sql(f"ALTER TABLE {table.name} {changes}")


def _scale(column: Column[Any]) -> int:
    assert isinstance(column.type, Numeric) and column.type.scale is not None
    return column.type.scale


def _rebuild_sqlite_table(conn: Connection, table: Table, money: list[Column[Any]]) -> None:
    """SQLite cannot change a column's type: rename, create from the model, copy (ids kept, so
    the insert order restore relies on stays), round the money columns, drop the old table."""
    old = f"{table.name}_v2"
    for index in inspect(conn).get_indexes(table.name):
        conn.exec_driver_sql(f'DROP INDEX "{index["name"]}"')
    conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
    create_tables(conn, table)
    names = ", ".join(c.name for c in table.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {old}")
    rounders: dict[str, Callable[[float], Decimal]] = {
        c.name: to_price if _scale(c) == PRICE_PLACES else to_paise for c in money
    }
    change = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in rounders})
    )
    # the old REALs as they are (the new table would hand them back already cut to its scale)
    read = f"SELECT id, {', '.join(rounders)} FROM {old} WHERE id > ? ORDER BY id LIMIT ?"
    last_id = -1
    while True:
        rows = conn.exec_driver_sql(read, (last_id, _COPY_BATCH)).all()
        if not rows:
            break
        last_id = rows[-1][0]
        conn.execute(change, [_rounded_row(row, rounders) for row in rows])
    conn.exec_driver_sql(f"DROP TABLE {old}")


def _rounded_row(row: Sequence[Any], rounders: dict[str, Callable[[float], Decimal]]) -> dict[str, Any]:
    out: dict[str, Any] = {"b_id": row[0]}
    for (name, rounder), value in zip(rounders.items(), row[1:], strict=True):
        out[f"b_{name}"] = None if value is None else rounder(float(value))
    return out


def _live_orders_and_audit(conn: Connection) -> None:
    create_tables(conn, models.live_orders, models.audit_log)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "orders, fills, risk decisions, P&L snapshots, engine state and the event log",
        _initial_schema,
    ),
    Migration(2, "compact event log: lineage columns, binary ids, compressed bodies", _compact_event_log),
    Migration(3, "prices and amounts as exact NUMERIC, rounded to paise", _exact_money),
    Migration(4, "live order intents and the audit log", _live_orders_and_audit),
)


# -- running them -----------------------------------------------------------------


def _ensure_version_table(conn: Connection) -> None:
    models.schema_version.create(conn, checkfirst=True)


def _current_version(conn: Connection) -> int:
    version = conn.execute(select(func.max(models.schema_version.c.version))).scalar_one()
    return int(version or 0)


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _check_sequence(migrations: Sequence[Migration]) -> None:
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise ValueError(f"migration versions must be 1..{len(migrations)} in order")


def _refuse_if_newer(current: int, latest: int) -> None:
    if current > latest:
        raise SchemaTooNewError(
            f"the database schema is at version {current}, but this release of alpha-panda-tui "
            f"knows versions up to {latest}; upgrade alpha-panda-tui, or point "
            "ALPHA_PANDA_DATABASE__URL at another database"
        )


async def schema_version(engine: AsyncEngine) -> int:
    """The highest migration applied (0 for a database never migrated)."""
    async with engine.connect() as conn:
        has_table = await conn.run_sync(lambda sync: inspect(sync).has_table(models.schema_version.name))
        return await conn.run_sync(_current_version) if has_table else 0


async def migrate(engine: AsyncEngine, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply pending migrations in order; returns the versions applied (empty when up to date)."""
    _check_sequence(migrations)
    latest = len(migrations)
    applied: list[int] = []
    async with engine.connect() as plain:
        conn = await plain.execution_options(**{IMMEDIATE: True})
        async with conn.begin():
            await _lock(conn)
            await conn.run_sync(_ensure_version_table)
            current = await conn.run_sync(_current_version)
        _refuse_if_newer(current, latest)
        for migration in migrations[current:]:
            async with conn.begin():
                await _lock(conn)
                current = await conn.run_sync(_current_version)
                _refuse_if_newer(current, latest)
                if migration.version <= current:
                    continue  # another process applied it while we waited for the lock
                await conn.run_sync(migration.upgrade)
                await conn.execute(
                    insert(models.schema_version).values(
                        version=migration.version,
                        description=migration.description,
                        applied_at=time.time(),
                    )
                )
            applied.append(migration.version)
    return applied

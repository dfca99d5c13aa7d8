"""The database handle: one async engine, migrated on connect, for SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from engine.storage.migrations import migrate
from engine.storage.sqlite import configure_sqlite, is_memory_database
from engine.storage.url import normalize_database_url, redact_url, url_password

DEFAULT_BUSY_TIMEOUT_MS = 5_000

Insert = sqlite.Insert | postgresql.Insert


class DatabaseNotConnected(RuntimeError):
    pass


class Database:
    """`await connect()` creates the engine and migrates; `close()` releases it.

    `connect_args` go to the driver (e.g. asyncpg `server_settings`).
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        connect_args: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = normalize_database_url(url)
        self.safe_url = redact_url(self.url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        self._password = url_password(self.url)
        self._echo = echo
        self._busy_timeout_ms = busy_timeout_ms
        self._connect_args = dict(connect_args or {})
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise DatabaseNotConnected(f"database {self.safe_url} is not connected")
        return self._engine

    @property
    def connected(self) -> bool:
        return self._engine is not None

    async def connect(self) -> list[int]:
        """Create the engine and apply pending migrations; returns the versions applied."""
        if self._engine is not None:
            return []
        engine = self._create_engine()
        try:
            applied = await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        return applied

    def _create_engine(self, *, make_dirs: bool = True) -> AsyncEngine:
        if self.dialect == "postgresql":
            return create_async_engine(
                self.url, echo=self._echo, pool_pre_ping=True, connect_args=self._connect_args
            )
        database = make_url(self.url).database
        if make_dirs and not is_memory_database(database):
            assert database is not None
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(self.url, echo=self._echo, connect_args=self._connect_args)
        configure_sqlite(engine, busy_timeout_ms=self._busy_timeout_ms, wal=not is_memory_database(database))
        return engine

    async def close(self) -> None:
        engine, self._engine, self._sessions = self._engine, None, None
        if engine is not None:
            await engine.dispose()

    async def ping(self) -> None:
        """Round trip `SELECT 1`; raises if the database cannot answer.

        Works before `connect()` too (on a throwaway engine), so `doctor` can
        tell "unreachable" from "reachable but not migrated".
        """
        if self._engine is not None:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        probe = self._create_engine(make_dirs=False)
        try:
            async with probe.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await probe.dispose()

    def session(self) -> AsyncSession:
        """A new ORM session (use as `async with db.session() as s:`)."""
        if self._sessions is None:
            raise DatabaseNotConnected(f"database {self.safe_url} is not connected")
        return self._sessions()

    def insert(self, table: Table) -> Insert:
        """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update`."""
        return sqlite.insert(table) if self.dialect == "sqlite" else postgresql.insert(table)

    def redact(self, message: str) -> str:
        """An error text with this database's password removed, safe to log."""
        if self._password:
            message = message.replace(self._password, "***")
        return message

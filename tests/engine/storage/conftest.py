"""Databases for storage tests: a SQLite file in the test's temp dir, and a fresh
PostgreSQL schema per test (dropped afterwards), so runs are repeatable."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from engine.storage.database import Database

DatabaseFactory = Callable[[], Database]


@pytest.fixture
def sqlite_factory(tmp_path: Path) -> DatabaseFactory:
    """New Database handles on one SQLite file (call twice for a 'restart')."""
    url = f"sqlite:///{tmp_path / 'data' / 'store.db'}"
    return lambda: Database(url)


@pytest.fixture
async def postgres_factory(postgres_url: str) -> AsyncIterator[DatabaseFactory]:
    """New Database handles on one fresh PostgreSQL schema."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield lambda: Database(postgres_url, connect_args={"server_settings": {"search_path": schema}})
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_factory(request: pytest.FixtureRequest) -> DatabaseFactory:
    """Both databases; the PostgreSQL case skips with a reason when it is not reachable."""
    factory: DatabaseFactory = request.getfixturevalue(f"{request.param}_factory")
    return factory


@pytest.fixture
async def db(db_factory: DatabaseFactory) -> AsyncIterator[Database]:
    database = db_factory()
    await database.connect()
    try:
        yield database
    finally:
        await database.close()

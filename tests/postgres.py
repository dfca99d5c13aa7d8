"""A PostgreSQL database of a test's own on the local server, created for it and dropped after."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]

from tests.conftest import POSTGRES_URL


@asynccontextmanager
async def own_database(prefix: str, admin_url: str = POSTGRES_URL) -> AsyncIterator[str]:
    """Yields the new database's name; `url_of(name)` reaches it directly."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield name
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def url_of(name: str, admin_url: str = POSTGRES_URL) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"

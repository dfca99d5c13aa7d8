"""One engine per database: a lock the engine holds on its database for its whole life.

Two engines with different data dirs can still share one database (one PostgreSQL URL,
or a SQLite file outside the data dir); the second one's restart clean-up would cancel
the first one's working orders. So `Engine.start()` takes this lock before it reads or
writes anything, and a refused engine raises `DatabaseInUse` naming the holder.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock` on a fixed key) on a dedicated
connection kept open until the engine stops; the server drops it when that connection
closes, and when the process dies (kill -9 included). It is per database, like the data.

SQLite: an OS lock (flock) on `<db file>.lock` holding the owner's pid, released by the OS
when its holder exits. A separate file: SQLite's own locks on the database are fcntl
(POSIX) locks, which must not be mixed with ours. An in-memory database needs no lock.

Read-only tools (doctor, replay without persistence) never take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from engine.storage.sqlite import is_memory_database
from engine.storage.url import normalize_database_url, redact_url

LOCK_NAME = "alpha-panda-tui engine"
# pg_try_advisory_lock(bigint): a fixed signed 64-bit key derived from the name
ADVISORY_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
LOCK_FILE_MODE = 0o600


def application_name(pid: int | None = None) -> str:
    """What the lock's connection calls itself in pg_stat_activity: names our pid."""
    return f"alpha-panda-tui engine pid {os.getpid() if pid is None else pid}"


class DatabaseInUse(Exception):
    """Another engine holds the database's lock; `holder` describes it when known."""

    def __init__(self, database: str, holder: str | None) -> None:
        who = holder or "another engine"
        super().__init__(f"the database {database} is in use by {who}")
        self.database = database
        self.holder = holder


class DatabaseLock:
    """`await acquire()` takes the lock now or raises DatabaseInUse; `await release()` gives it back."""

    def __init__(self, url: str) -> None:
        self.url = normalize_database_url(url)
        self.safe_url = redact_url(self.url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        self._fd: int | None = None
        self._pg_engine: AsyncEngine | None = None
        self._pg_conn: AsyncConnection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    @property
    def lock_file(self) -> Path | None:
        """The SQLite database's lock file; None for PostgreSQL and an in-memory database."""
        if self.dialect != "sqlite":
            return None
        database = make_url(self.url).database
        if is_memory_database(database):
            return None
        assert database is not None
        path = Path(database).expanduser()
        return path.with_name(path.name + ".lock")

    async def acquire(self) -> None:
        if self._held:
            return
        if self.dialect == "postgresql":
            await self._acquire_postgres()
        else:
            self._acquire_file()
        self._held = True

    async def release(self) -> None:
        self._held = False
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        conn, engine, self._pg_conn, self._pg_engine = self._pg_conn, self._pg_engine, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a lost connection has dropped the lock already
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            with contextlib.suppress(Exception):
                await conn.close()
        if engine is not None:
            await engine.dispose()

    # -- SQLite: flock on a sibling file ----------------------------------------------------
    def _acquire_file(self) -> None:
        path = self.lock_file
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DatabaseInUse(self.safe_url, f"pid {pid}" if pid is not None else None) from None
        except BaseException:
            os.close(fd)
            raise
        os.fchmod(fd, LOCK_FILE_MODE)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    # -- PostgreSQL: a session advisory lock on a dedicated connection ---------------------
    async def _acquire_postgres(self) -> None:
        engine = create_async_engine(
            self.url,
            poolclass=NullPool,
            connect_args={"server_settings": {"application_name": application_name()}},
        )
        try:
            conn = await engine.connect()
            try:
                got = await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
                await conn.commit()
                if not got:
                    holder = await _postgres_holder(conn)
                    raise DatabaseInUse(self.safe_url, holder)
            except BaseException:
                await conn.close()
                raise
        except BaseException:
            await engine.dispose()
            raise
        self._pg_engine, self._pg_conn = engine, conn


async def _postgres_holder(conn: AsyncConnection) -> str | None:
    """The holder's application name (with its pid) and server pid, from pg_locks; None if hidden."""
    hi, lo = (ADVISORY_KEY >> 32) & 0xFFFFFFFF, ADVISORY_KEY & 0xFFFFFFFF
    try:
        row = (
            await conn.execute(
                text(
                    "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid) "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"hi": hi, "lo": lo},
            )
        ).first()
        await conn.commit()
    except Exception:
        return None
    if row is None:
        return None
    server_pid, app, addr = row
    where = f" at {addr}" if addr is not None else ""
    return f"{app or 'a session'} (server pid {server_pid}{where})"


def _read_pid(fd: int) -> int | None:
    try:
        content = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(content) if content.isdigit() else None

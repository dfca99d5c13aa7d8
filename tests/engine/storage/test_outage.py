"""Database outages against real databases: PostgreSQL behind a proxy the test cuts, and a
SQLite file another connection locks. The shared PostgreSQL server itself keeps running."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import func, select

from engine.bus import InProcessBus
from engine.events import Event, Namespace
from engine.health.checks import StorageWriterCheck
from engine.health.registry import CheckStatus
from engine.storage import models
from engine.storage.database import Database
from engine.storage.journal import Journal
from engine.storage.repository import fill_count, recent_orders
from engine.storage.writer import StorageWriter
from engine.tasks import cancel_and_wait
from tests.engine.storage.events_factory import NS
from tests.engine.storage.tcp_proxy import TcpProxy
from tests.engine.storage.test_writer import lineage, publish_all, wait_for

pytestmark = pytest.mark.slow


@dataclass
class ProxiedPostgres:
    proxy: TcpProxy
    url: str
    schema: str

    def database(self) -> Database:
        return Database(self.url, connect_args={"server_settings": {"search_path": self.schema}})


@pytest.fixture
async def proxied_postgres(postgres_url: str) -> AsyncIterator[ProxiedPostgres]:
    """A fresh schema on the real PostgreSQL, reached through a proxy the test can cut."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    try:
        yield ProxiedPostgres(proxy, f"postgresql://postgres@127.0.0.1:{proxy.port}/test", schema)
    finally:
        await proxy.stop()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@dataclass
class Traffic:
    """Publishes order lineages (signal, decision, order, two fills) at a steady rate."""

    bus: InProcessBus
    writer: StorageWriter
    per_second: float
    events: list[Event] = field(default_factory=list)
    fills: int = 0
    orders: int = 0
    max_in_memory: int = 0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self.bus.drain()

    async def _run(self) -> None:
        n = 0
        while True:
            n += 1
            events = lineage(f"PO-{n}")
            await publish_all(self.bus, events)
            self.events += events
            self.orders += 1
            self.fills += 2
            self.max_in_memory = max(self.max_in_memory, self.writer.in_memory)
            await asyncio.sleep(1 / self.per_second)


def make_writer(db: Database, journal: Path, **options: float) -> tuple[InProcessBus, StorageWriter]:
    bus = InProcessBus(retry_backoff_s=0.0)
    settings: dict[str, float] = {
        "flush_interval_s": 0.1,
        "max_batch": 50,
        "max_buffer": 300,
        "max_backoff_s": 2.0,
        "stop_timeout_s": 10.0,
    }
    settings.update(options)
    writer = StorageWriter(
        bus,
        db,
        (Namespace.PAPER,),
        flush_interval_s=settings["flush_interval_s"],
        max_batch=int(settings["max_batch"]),
        max_buffer=int(settings["max_buffer"]),
        max_backoff_s=settings["max_backoff_s"],
        stop_timeout_s=settings["stop_timeout_s"],
        journal_path=journal,
    )
    writer.wire()
    return bus, writer


async def lock_sqlite(path: Path) -> sqlite3.Connection:
    """Another connection's exclusive lock on the file, taken off the event loop: the writer may be
    mid-transaction, and its commit needs the loop to run."""

    def lock() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        return conn

    return await asyncio.to_thread(lock)


async def event_log_count(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(models.event_log))).scalar_one())


async def assert_all_stored(db: Database, traffic: Traffic) -> None:
    assert await fill_count(db, NS) == traffic.fills
    assert await event_log_count(db) == len({e.id for e in traffic.events})
    orders = await recent_orders(db, NS, limit=traffic.orders + 10)
    assert len(orders) == traffic.orders
    assert {o.status for o in orders} == {models.OrderStatus.FILLED}
    assert all(o.filled_quantity == 10 for o in orders)


async def test_postgres_outage_backs_off_spills_to_the_journal_and_recovers(
    proxied_postgres: ProxiedPostgres, tmp_path: Path
) -> None:
    db = proxied_postgres.database()
    await db.connect()
    journal_path = tmp_path / "storage.journal"
    bus, writer = make_writer(db, journal_path)
    await bus.start()
    await writer.start()
    traffic = Traffic(bus, writer, per_second=200)  # ~1,000 events/s, 20 full batches a second
    traffic.start()
    await asyncio.sleep(1.0)
    assert writer.written > 0 and writer.failures == 0

    await proxied_postgres.proxy.cut()
    failures_before = writer.failures
    journal_peak = 0
    for _ in range(60):  # a 6 s outage
        await asyncio.sleep(0.1)
        journal_peak = max(journal_peak, journal_path.stat().st_size)
    failed_attempts = writer.failures - failures_before
    # backoff 0.2, 0.4, 0.8, 1.6, 2, 2 s...: a handful, however fast events arrive
    assert 1 <= failed_attempts <= 9, failed_attempts
    assert writer.consecutive_failures == failed_attempts
    assert traffic.max_in_memory <= writer.max_buffer
    assert writer.spilled > 1_000
    assert writer.journaled > 1_000 and journal_peak > 0
    result = await StorageWriterCheck(writer).check()
    assert result.status is CheckStatus.FAIL and "in the journal on disk" in result.message

    await proxied_postgres.proxy.restore()
    await asyncio.sleep(1.0)
    await traffic.stop()
    await wait_for(lambda: writer.pending == 0, timeout_s=15)
    assert writer.consecutive_failures == 0
    assert writer.replayed > 0
    assert journal_path.stat().st_size == 0  # everything is in the database: journal truncated
    await bus.stop()
    await writer.stop()
    assert writer.unwritten == 0
    await assert_all_stored(db, traffic)
    assert traffic.max_in_memory <= writer.max_buffer
    await db.close()


async def test_stop_during_an_outage_journals_the_unwritten_and_the_next_start_writes_them(
    proxied_postgres: ProxiedPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = proxied_postgres.database()
    await db.connect()
    journal_path = tmp_path / "storage.journal"
    bus, writer = make_writer(db, journal_path, stop_timeout_s=0.5)
    await bus.start()
    await writer.start()
    traffic = Traffic(bus, writer, per_second=200)
    traffic.start()
    await asyncio.sleep(0.5)
    await proxied_postgres.proxy.cut()
    await asyncio.sleep(1.5)
    await traffic.stop()
    await bus.stop()
    with caplog.at_level(logging.ERROR, logger="engine.storage.writer"):
        await writer.stop()
    await db.close()

    assert writer.unwritten > 100
    assert writer.in_memory == 0
    [line] = [r.getMessage() for r in caplog.records if "unwritten" in r.getMessage()]
    assert f"{writer.unwritten} events unwritten" in line and str(journal_path) in line
    left = Journal(journal_path)
    left.open()
    assert left.pending >= writer.unwritten  # a batch in flight at the cut may be there twice
    left.close()

    # the next start, with the database back: the journal goes in first, nothing doubles
    await proxied_postgres.proxy.restore()
    db = proxied_postgres.database()
    await db.connect()
    _, again = make_writer(db, journal_path)
    assert await again.recover() >= writer.unwritten
    assert (again.pending, journal_path.stat().st_size) == (0, 0)
    await assert_all_stored(db, traffic)
    assert await again.recover() == 0
    await db.close()


async def test_sqlite_locked_for_seconds_backs_off_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "data" / "alpha.db"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=20)
    await db.connect()
    journal_path = tmp_path / "data" / "storage.journal"
    # memory spills when it reaches max_buffer, not only every flush interval
    bus, writer = make_writer(db, journal_path, flush_interval_s=2.0, max_backoff_s=2.0)
    await bus.start()
    await writer.start()
    traffic = Traffic(bus, writer, per_second=200)
    traffic.start()
    await asyncio.sleep(0.5)
    locker = await lock_sqlite(path)
    failures_before = writer.failures
    try:
        await asyncio.sleep(4.0)
        failed_attempts = writer.failures - failures_before
        assert 1 <= failed_attempts <= 4, failed_attempts  # every 2 s
        assert "database is locked" in writer.last_error
        assert writer.journaled > 0
    finally:
        locker.rollback()
        locker.close()
    await traffic.stop()
    await wait_for(lambda: writer.pending == 0, timeout_s=10)
    await bus.stop()
    await writer.stop()
    # the interval's spill comes too late for this inflow: the bound is what held memory down
    assert 200 <= traffic.max_in_memory <= writer.max_buffer
    assert journal_path.stat().st_size == 0
    await assert_all_stored(db, traffic)
    await db.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
async def test_a_full_disk_during_an_outage_is_reported_and_never_crashes_the_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "alpha.db"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=20)
    await db.connect()
    journal_path = tmp_path / "storage.journal"
    journal_path.symlink_to("/dev/full")  # every write: ENOSPC
    bus, writer = make_writer(db, journal_path, max_buffer=100)
    await bus.start()
    await writer.start()
    locker = await lock_sqlite(path)
    traffic = Traffic(bus, writer, per_second=200)
    with caplog.at_level(logging.ERROR, logger="engine.storage.writer"):
        traffic.start()
        try:
            await asyncio.sleep(1.5)
            assert "No space left on device" in writer.journal_error
            assert writer.in_memory > writer.max_buffer  # kept in memory: never dropped
            result = await StorageWriterCheck(writer).check()
            assert result.status is CheckStatus.FAIL
            assert "journal on disk cannot be written" in result.message
            assert "No space left on device" in result.message
        finally:
            locker.rollback()
            locker.close()
        await traffic.stop()
    assert sum("cannot be written" in r.getMessage() for r in caplog.records) == 1  # once, not per event
    await wait_for(lambda: writer.pending == 0, timeout_s=10)
    await bus.stop()
    await writer.stop()
    await assert_all_stored(db, traffic)
    await db.close()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
async def test_durable_fills_of_a_crashed_run_reach_the_database_even_when_the_disk_is_full(
    tmp_path: Path,
) -> None:
    from engine.storage.journal import FillJournal
    from tests.engine.storage.events_factory import filled, placed, signal, validated

    fills_path = tmp_path / "fills.journal"
    crashed = FillJournal(fills_path)
    crashed.journal.open()
    order = placed(validated(signal()), "PO-1")
    made = [filled(order, "PO-1", "PO-1-T1", 4, 6, 101.0), filled(order, "PO-1", "PO-1-T2", 6, 0, 102.0)]
    for fill in made:
        await crashed.record(order, fill)
    crashed.journal.close()  # the process dies here: nothing reached the database

    journal_path = tmp_path / "storage.journal"
    journal_path.symlink_to("/dev/full")
    db = Database(f"sqlite:///{tmp_path / 'alpha.db'}")
    await db.connect()
    writer = StorageWriter(
        InProcessBus(), db, (Namespace.PAPER,), journal_path=journal_path, fill_journal_path=fills_path
    )
    assert await writer.recover() == 4
    assert "No space left on device" in writer.journal_error
    assert await fill_count(db, NS) == 2
    [stored] = await recent_orders(db, NS)
    assert (stored.status, stored.filled_quantity) == (models.OrderStatus.FILLED, 10)
    assert fills_path.stat().st_size == 0  # in the database now: the fill journal is emptied
    await writer.stop()
    await db.close()

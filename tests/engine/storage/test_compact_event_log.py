"""The event log's compact form: bytes per fill on a real pipeline, ids and bodies round-trip,
and the migration from the JSON event log keeps every event readable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)

from engine.events import EngineState, EngineStatus, Event, Namespace, encode_event, make_event
from engine.runtime import Engine
from engine.settings import Settings
from engine.storage import models
from engine.storage.database import Database
from engine.storage.event_codec import decode_body, decode_id, encode_body, encode_id
from engine.storage.migrations import MIGRATIONS
from engine.storage.repository import fill_count, trace
from engine.topics import TopicMap
from tests.engine.storage.conftest import DatabaseFactory
from tests.engine.storage.events_factory import filled, placed, rejected, signal, validated

BYTES_PER_FILL_TARGET = 1536


def sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.mark.slow
async def test_a_fill_costs_at_most_one_and_a_half_kilobytes_of_sqlite(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        config_dir=tmp_path / "config",
        risk={
            "max_orders_per_minute": 1_000_000,
            "max_open_positions": 1_000,
            "max_daily_loss": 1e12,
            "max_daily_loss_per_strategy": 1e12,
        },
    )
    db_file = settings.data_dir / "alpha_panda.db"
    empty = Database(settings.database_url)
    await empty.connect()
    await empty.close()
    before = sqlite_bytes(db_file)
    engine = Engine(settings, paced=False)
    await engine.start()
    published = 0
    try:
        for _ in range(200):
            await engine.pump(2_000)
            published = engine.bus.stats.published.get(TopicMap(Namespace.PAPER).orders_filled, 0)
            if published >= 2_000:
                break
    finally:
        await engine.stop()
    db = Database(settings.database_url)
    await db.connect()
    try:
        stored = await fill_count(db, Namespace.PAPER)
    finally:
        await db.close()
    assert published >= 2_000 and stored == published
    per_fill = (sqlite_bytes(db_file) - before) / stored
    print(f"{per_fill:.0f} bytes of SQLite per fill over {stored} fills")
    assert per_fill <= BYTES_PER_FILL_TARGET, f"{per_fill:.0f} bytes of SQLite per fill"


@pytest.mark.parametrize("value", ["7f1c2b3a-0000-4000-8000-00000000002a", "broken", "", "a" * 15, "É" * 40])
def test_every_id_round_trips(value: str) -> None:
    assert decode_id(encode_id(value)) == value


def test_an_engine_id_takes_sixteen_bytes() -> None:
    event = signal()
    assert len(encode_id(event.id)) == 16


def test_a_body_round_trips_every_lineage_event() -> None:
    sig = signal()
    decision = validated(sig)
    order = placed(decision, "P-1")
    events = [sig, decision, rejected(sig), order, filled(order, "P-1", "P-1-1", 10, 0, 101.0)]
    status = make_event(
        EngineStatus(state=EngineState.RUNNING, mode="PAPER"), namespace=Namespace.SHARED, source="e", key="e"
    )
    for event in [*events, status]:
        body = encode_body(event)
        if event is not status:
            assert len(body) < len(encode_event(event)) / 3
        decoded = decode_body(
            body,
            event_id=event.id,
            correlation_id=event.correlation_id,
            causation_id=event.causation_id,
            ts=event.ts,
        )
        assert decoded == event


# -- migration 2: from the JSON event log --------------------------------------------------------

_v1 = MetaData()
V1_EVENT_LOG = Table(
    "event_log",
    _v1,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(), unique=True, nullable=False),
    Column("type", String(32), nullable=False),
    Column("namespace", String(16), nullable=False),
    Column("source", String(), nullable=False),
    Column("correlation_id", String(), nullable=False),
    Column("causation_id", String(), nullable=False),
    Column("ts", Double(), nullable=False),
    Column("body", Text(), nullable=False),
    Index("ix_event_log_correlation_ts", "correlation_id", "ts"),
)


def v1_row(event: Event) -> dict[str, object]:
    return {
        "event_id": event.id,
        "type": event.type.value,
        "namespace": event.namespace.value,
        "source": event.source,
        "correlation_id": event.correlation_id,
        "causation_id": event.causation_id,
        "ts": event.ts,
        "body": encode_event(event).decode(),
    }


async def make_v1_database(factory: DatabaseFactory, rows: list[dict[str, object]]) -> None:
    """A database as the release before the compact event log left it (schema version 1)."""
    db = factory()
    await db.connect()
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: models.event_log.drop(sync))
        await conn.run_sync(lambda sync: _v1.create_all(sync))
        await conn.execute(delete(models.schema_version).where(models.schema_version.c.version > 1))
        await conn.execute(V1_EVENT_LOG.insert(), rows)
        await conn.execute(
            models.orders.insert().values(
                order_id="P-1",
                namespace="paper",
                strategy_id="sma",
                instrument_token=738561,
                side="BUY",
                quantity=10,
                order_type="MARKET",
                product="MIS",
                limit_price=None,
                status="FILLED",
                status_reason="",
                filled_quantity=10,
                placed_ts=100.0,
                updated_ts=101.0,
                correlation_id="c",
            )
        )
    await db.close()


async def test_the_migration_compacts_a_v1_event_log_and_loses_nothing(
    db_factory: DatabaseFactory, caplog: pytest.LogCaptureFixture
) -> None:
    flows: list[list[Event]] = []
    for n in range(3):
        sig = signal(quantity=10 + n)
        decision = validated(sig)
        order = placed(decision, f"P-{n}")
        flows.append([sig, decision, order, filled(order, f"P-{n}", f"P-{n}-1", 10 + n, 0, 101.0 + n)])
    lone = rejected(signal())
    broken = {**v1_row(lone), "event_id": "broken-row", "body": '{"not": "an event"}'}
    await make_v1_database(db_factory, [v1_row(e) for flow in flows for e in flow] + [v1_row(lone), broken])

    db = db_factory()
    try:
        assert await db.connect() == list(range(2, len(MIGRATIONS) + 1))  # 3 on: no-ops here
        for flow in flows:
            assert await trace(db, flow[0].correlation_id) == flow
        with caplog.at_level(logging.WARNING):
            assert await trace(db, lone.correlation_id) == [lone]
        assert "broken-row" in caplog.text  # unreadable before, kept, still reported
        async with db.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(models.event_log))).scalar_one()
            orders = (await conn.execute(select(models.orders.c.order_id))).scalars().all()
        assert count == 3 * 4 + 2
        assert orders == ["P-1"]
    finally:
        await db.close()
    again = db_factory()
    try:
        assert await again.connect() == []  # a restart: nothing left to migrate
        assert await trace(again, flows[0][0].correlation_id) == flows[0]
    finally:
        await again.close()

"""Migration 4 adds the live order intents and the audit log to a database at version 3,
keeping every row it had."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, insert, inspect, select

from engine.storage import models
from engine.storage.database import Database
from engine.storage.migrations import MIGRATIONS, schema_version
from tests.engine.storage.conftest import DatabaseFactory

LIVE_VERSION = 4


async def make_v3_database(factory: DatabaseFactory) -> None:
    db = factory()
    await db.connect()
    async with db.engine.begin() as conn:
        for table in (models.live_orders, models.audit_log):
            await conn.run_sync(lambda sync, table=table: table.drop(sync))
        await conn.execute(delete(models.schema_version).where(models.schema_version.c.version > 3))
        await conn.execute(
            insert(models.engine_state).values(key="kill_switch", value={"halted": True}, updated_at=1.0)
        )
    assert await schema_version(db.engine) == 3
    await db.close()


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_migration_4_adds_live_orders_and_the_audit_log_to_a_version_3_database(
    db_factory: DatabaseFactory,
) -> None:
    await make_v3_database(db_factory)
    assert MIGRATIONS[LIVE_VERSION - 1].upgrade.__name__ == "_live_orders_and_audit"
    db = db_factory()
    try:
        assert await db.connect() == [LIVE_VERSION]
        assert {"live_orders", "audit_log"} <= await table_names(db)
        async with db.engine.begin() as conn:
            kept = (await conn.execute(select(models.engine_state.c.value))).scalar_one()
            await conn.execute(
                insert(models.live_orders).values(
                    order_id="Zmj1abcde1",
                    strategy_id="sma",
                    instrument_token=738561,
                    exchange="NSE",
                    tradingsymbol="RELIANCE",
                    side="BUY",
                    quantity=10,
                    order_type="LIMIT",
                    product="MIS",
                    limit_price=Decimal("2885.05"),
                    status="SENDING",
                    created_ts=1.0,
                    updated_ts=1.0,
                )
            )
            row = (await conn.execute(select(models.live_orders))).mappings().one()
        assert kept == {"halted": True}
        assert (row["broker_order_id"], row["filled_quantity"], row["adopted"]) == ("", 0, False)
        assert row["limit_price"] == Decimal("2885.05") and row["trigger_price"] is None
    finally:
        await db.close()

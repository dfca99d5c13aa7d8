"""Prices and amounts stored as exact NUMERIC on SQLite and PostgreSQL: stored charges sum to the
paisa, readers hand the engine back the floats it wrote, and migration 3 converts a database
left by the release before (double precision, schema version 2) without losing a row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Double, Float, MetaData, Numeric, Table, delete, func, inspect, select

from engine.events import Charges, Event, OrderFilled, PnlSnapshot, make_event
from engine.money import to_paise
from engine.storage import models
from engine.storage.database import Database
from engine.storage.migrations import MIGRATIONS
from engine.storage.repository import charges_ledger, load_fills, recent_orders
from engine.storage.rows import RowBatch, write_batch
from tests.engine.storage.conftest import DatabaseFactory
from tests.engine.storage.events_factory import NS, filled, placed, signal, validated

MONEY_VERSION = 3


def fill_with(parent: Event, n: int, charges: Charges, price: float) -> Event:
    event = filled(parent, f"P-{n}", f"P-{n}-1", 10, 0, 100.0 + n, price=price)
    assert isinstance(event.payload, OrderFilled)
    return msgspec.structs.replace(event, payload=msgspec.structs.replace(event.payload, charges=charges))


async def write(db: Database, events: list[Event]) -> None:
    batch = RowBatch()
    for event in events:
        batch.add(event)
    await write_batch(db, batch)


async def test_stored_charges_add_up_to_the_paisa(db: Database) -> None:
    # 0.1 + 0.2 style parts: a float running sum drifts, the stored NUMERIC sum does not
    charges = Charges(brokerage=0.1, stt=0.2, exchange=0.07, sebi=0.01, gst=0.03, stamp_duty=0.02)
    order = placed(validated(signal()), "P-0")
    fills = [fill_with(order, n, charges, 2885.05) for n in range(1000)]
    await write(db, fills)

    float_total = 0.0
    for _ in fills:
        float_total += charges.total
    assert float_total != 430.0  # the drift this storage exists to avoid
    ledger = await charges_ledger(db, NS)
    assert ledger.fills == 1000
    assert ledger.total == Decimal("430.00")
    assert ledger.total == ledger.parts_total
    assert (ledger.brokerage, ledger.stt, ledger.gst) == (Decimal(100), Decimal(200), Decimal(30))
    assert ledger.turnover == Decimal("28850500.0000")
    first_ten = await charges_ledger(db, NS, start_ts=100.0, end_ts=110.0)
    assert (first_ten.fills, first_ten.total) == (10, Decimal("4.30"))


async def test_the_engine_gets_back_the_floats_it_wrote(db: Database) -> None:
    charges = Charges(brokerage=4.16, stt=0.0, exchange=0.74, sebi=0.03, gst=0.89, stamp_duty=0.75)
    order = placed(validated(signal()), "P-1")
    fill = fill_with(order, 1, charges, 2500.0577)
    await write(db, [order, fill])
    assert await load_fills(db, NS) == [fill.payload]
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(models.fills))).mappings().one()
    assert row["price"] == Decimal("2500.0577")
    assert row["brokerage"] == Decimal("4.16") and isinstance(row["charges_total"], Decimal)
    assert row["charges_total"] == Decimal("6.57")


async def test_amounts_are_rounded_by_the_rule_when_stored(db: Database) -> None:
    snapshot = PnlSnapshot("paper", "sma", -4.155, 0.1 + 0.2, 4.145, 100_000.005, 99_999.994999)
    event = make_event(snapshot, namespace=NS, source="portfolio", key="sma")
    await write(db, [event])
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(models.pnl_snapshots))).mappings().one()
    stored = [row[c] for c in ("realized_pnl", "unrealized_pnl", "charges", "cash", "equity")]
    assert [str(v) for v in stored] == ["-4.16", "0.30", "4.15", "100000.01", "99999.99"]


# -- migration 3: a database as the release before left it ----------------------------


def is_money(column_type: object) -> bool:
    return isinstance(column_type, Numeric) and not isinstance(column_type, Float)


def v2_tables() -> dict[str, Table]:
    """orders, fills and P&L snapshots as schema version 2 had them: money in double precision."""
    metadata = MetaData()
    tables: dict[str, Table] = {}
    for table in (models.orders, models.fills, models.pnl_snapshots):
        copy = table.to_metadata(metadata)
        for column in copy.columns:
            if is_money(column.type):
                column.type = Double()
        tables[table.name] = copy
    return tables


def v2_order(n: int, limit_price: float | None) -> dict[str, Any]:
    return {
        "order_id": f"P-{n}",
        "namespace": "paper",
        "strategy_id": "sma",
        "instrument_token": 738561,
        "side": "BUY",
        "quantity": 10,
        "order_type": "LIMIT" if limit_price is not None else "MARKET",
        "product": "MIS",
        "limit_price": limit_price,
        "status": "FILLED",
        "status_reason": "",
        "filled_quantity": 10,
        "placed_ts": 100.0 + n,
        "updated_ts": 101.0 + n,
        "correlation_id": f"c-{n}",
    }


def v2_fill(n: int, price: float, brokerage: float, gst: float) -> dict[str, Any]:
    return {
        "trade_id": f"P-{n}-1",
        "order_id": f"P-{n}",
        "namespace": "paper",
        "strategy_id": "sma",
        "instrument_token": 738561,
        "side": "BUY",
        "quantity": 10,
        "price": price,
        "product": "MIS",
        "brokerage": brokerage,
        "stt": 0.0,
        "exchange": 0.74,
        "sebi": 0.03,
        "gst": gst,
        "stamp_duty": 0.75,
        "charges_total": brokerage + 0.74 + 0.03 + gst + 0.75,
        "remaining_quantity": 0,
        "fill_ts": 101.0 + n,
        "correlation_id": f"c-{n}",
        "event_id": f"e-{n}",
    }


def v2_snapshot(n: int, realized: float) -> dict[str, Any]:
    return {
        "event_id": f"s-{n}",
        "namespace": "paper",
        "portfolio_id": "paper",
        "strategy_id": "sma",
        "realized_pnl": realized,
        "unrealized_pnl": 0.1 + 0.2,
        "charges": 12.345,
        "cash": 100_000.0,
        "equity": 99_987.655,
        "positions": [{"instrument_token": 738561, "quantity": 10, "average_price": 2885.05}],
        "snapshot_ts": 102.0 + n,
    }


async def make_v2_database(factory: DatabaseFactory, rows: dict[str, list[dict[str, Any]]]) -> None:
    db = factory()
    await db.connect()
    tables = v2_tables()
    async with db.engine.begin() as conn:
        for name, table in tables.items():
            await conn.run_sync(lambda sync, name=name: models.Base.metadata.tables[name].drop(sync))
            await conn.run_sync(lambda sync, table=table: table.create(sync))
            await conn.execute(table.insert(), rows[name])
        for later in (models.live_orders, models.audit_log):  # tables of later migrations
            await conn.run_sync(lambda sync, later=later: later.drop(sync))
        await conn.execute(delete(models.schema_version).where(models.schema_version.c.version > 2))
    await db.close()


async def money_types(db: Database, table: str) -> dict[str, type]:
    async with db.engine.connect() as conn:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns(table))
    return {c["name"]: type(c["type"]) for c in columns}


async def test_the_migration_makes_money_exact_and_keeps_every_row(db_factory: DatabaseFactory) -> None:
    prices = [2885.05, 101.123456, 83.25255, 2500.0577]
    brokerages = [4.155, 6.0, 0.1 + 0.2, 20.0]
    gsts = [0.8739, 1.08, 0.005, 3.6]
    rows = {
        "orders": [v2_order(n, None if n % 2 else prices[n]) for n in range(4)],
        "fills": [v2_fill(n, prices[n], brokerages[n], gsts[n]) for n in range(4)],
        "pnl_snapshots": [v2_snapshot(n, -4.155 * n) for n in range(4)],
    }
    await make_v2_database(db_factory, rows)
    assert MIGRATIONS[MONEY_VERSION - 1].upgrade.__name__ == "_exact_money"

    db = db_factory()
    try:
        assert await db.connect() == list(range(MONEY_VERSION, len(MIGRATIONS) + 1))
        for table in ("orders", "fills", "pnl_snapshots"):
            types = await money_types(db, table)
            money = [c.name for c in models.Base.metadata.tables[table].columns if is_money(c.type)]
            assert money and all(is_money(types[name]()) for name in money), (table, types)
        async with db.engine.connect() as conn:
            fills = (await conn.execute(select(models.fills).order_by(models.fills.c.id))).mappings().all()
            orders = (await conn.execute(select(models.orders).order_by(models.orders.c.id))).mappings().all()
            snaps = (
                (await conn.execute(select(models.pnl_snapshots).order_by(models.pnl_snapshots.c.id)))
                .mappings()
                .all()
            )
        assert [f["trade_id"] for f in fills] == [f"P-{n}-1" for n in range(4)]
        assert [f["id"] for f in fills] == [1, 2, 3, 4]  # the insert order restore relies on
        prices_stored = ("2885.05", "101.1235", "83.2526", "2500.0577")
        assert [f["price"] for f in fills] == [Decimal(p) for p in prices_stored]
        assert [f["brokerage"] for f in fills] == [Decimal(b) for b in ("4.16", "6.00", "0.30", "20.00")]
        assert [f["gst"] for f in fills] == [Decimal(g) for g in ("0.87", "1.08", "0.01", "3.60")]
        assert [f["charges_total"] for f in fills] == [to_paise(r["charges_total"]) for r in rows["fills"]]
        assert [o["limit_price"] for o in orders] == [Decimal("2885.05"), None, Decimal("83.2526"), None]
        realized = ("0.00", "-4.16", "-8.31", "-12.47")  # -4.155 * n, each rounded away from zero
        assert [s["realized_pnl"] for s in snaps] == [Decimal(v) for v in realized]
        assert {s["unrealized_pnl"] for s in snaps} == {Decimal("0.30")}
        assert {s["charges"] for s in snaps} == {Decimal("12.35")}
        assert snaps[0]["positions"] == rows["pnl_snapshots"][0]["positions"]

        # still the same tables: the unique keys hold, new rows take the next id, readers work
        order = placed(validated(signal()), "P-9", placed_ts=500.0)
        fill = filled(order, "P-9", "P-9-1", 10, 0, 200.0)
        await write(db, [order, fill, fill])
        async with db.engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(models.fills))).scalar_one()
            last = (await conn.execute(select(func.max(models.fills.c.id)))).scalar_one()
        assert (count, last) == (5, 5)
        assert len(await load_fills(db, NS)) == 5
        assert (await recent_orders(db, NS))[0].order_id == "P-9"
    finally:
        await db.close()
    again = db_factory()
    try:
        assert await again.connect() == []  # a restart: nothing left to migrate
    finally:
        await again.close()

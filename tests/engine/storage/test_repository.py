from __future__ import annotations

import logging

import pytest

from engine.bus import InProcessBus
from engine.events import Namespace, OrderCancelled, Side
from engine.storage import models
from engine.storage.database import Database, DatabaseNotConnected
from engine.storage.repository import DbStateStore, load_unresolved_orders, recent_orders, trace
from engine.storage.writer import StorageWriter
from engine.topics import TopicMap
from tests.engine.storage.conftest import DatabaseFactory
from tests.engine.storage.events_factory import NS, TOKEN, filled, placed, signal, validated


async def test_state_store_round_trip_survives_a_restart(db_factory: DatabaseFactory) -> None:
    db = db_factory()
    await db.connect()
    store = DbStateStore(db)
    assert await store.get_state("strategies") is None
    await store.put_state("strategies", {"sma": True, "rsi": False})
    await store.put_state("strategies", {"sma": False, "rsi": False, "nested": {"at": [1, 2]}})
    await store.put_state("kill_switch", {"on": True})
    await db.close()

    reopened = db_factory()
    await reopened.connect()
    try:
        store = DbStateStore(reopened)
        assert await store.get_state("strategies") == {"sma": False, "rsi": False, "nested": {"at": [1, 2]}}
        assert await store.get_state("kill_switch") == {"on": True}
    finally:
        await reopened.close()


async def test_state_store_returns_a_copy(db: Database) -> None:
    store = DbStateStore(db)
    value = {"a": 1}
    await store.put_state("k", value)
    value["a"] = 2
    got = await store.get_state("k")
    assert got == {"a": 1}


async def test_recent_orders_newest_first_and_limited(db: Database) -> None:
    bus = InProcessBus()
    writer = StorageWriter(bus, db, (NS,))
    writer.wire()
    await bus.start()
    parent = validated(signal())
    for i, ts in enumerate((10.0, 30.0, 20.0)):
        await bus.publish(TopicMap(NS).orders_placed, placed(parent, f"PO-{i}", placed_ts=ts))
    await bus.stop()
    await writer.stop()
    orders = await recent_orders(db, NS, limit=2)
    assert [o.order_id for o in orders] == ["PO-1", "PO-2"]
    assert all(o.status is models.OrderStatus.PLACED for o in orders)


async def test_trace_skips_an_unreadable_row(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    sig = signal()
    async with db.engine.begin() as conn:
        await conn.execute(
            models.event_log.insert().values(
                event_id="broken",
                correlation_id=sig.correlation_id,
                causation_id="",
                ts=1.0,
                body=b'\x00{"not": "an event"}',  # kept as it was by the migration to compact bodies
            )
        )
    with caplog.at_level(logging.WARNING):
        assert await trace(db, sig.correlation_id) == []
    assert "broken" in caplog.text


async def test_a_closed_database_says_so() -> None:
    db = Database("sqlite://")
    await db.connect()
    await db.close()
    with pytest.raises(DatabaseNotConnected):
        await DbStateStore(db).get_state("k")


async def test_unresolved_orders_are_the_placed_and_part_filled_ones_with_their_stored_fills(
    db: Database,
) -> None:
    bus = InProcessBus()
    writer = StorageWriter(bus, db, (NS,))
    writer.wire()
    await bus.start()
    topics = TopicMap(NS)
    parent = validated(signal())
    orders = {oid: placed(parent, oid, placed_ts=1.0) for oid in ("PO-1", "PO-2", "PO-3", "PO-4")}
    for event in orders.values():
        await bus.publish(topics.orders_placed, event)
    await bus.publish(topics.orders_filled, filled(orders["PO-2"], "PO-2", "T-2a", 3, 7, 2.0))
    await bus.publish(topics.orders_filled, filled(orders["PO-2"], "PO-2", "T-2b", 1, 6, 3.0))
    await bus.publish(topics.orders_filled, filled(orders["PO-3"], "PO-3", "T-3", 10, 0, 2.0))
    cancel = OrderCancelled("PO-4", "sma", TOKEN, 10, "cancelled on request", side=Side.BUY)
    await bus.publish(topics.orders_cancelled, orders["PO-4"].child(cancel, source="paper", key="sma"))
    await bus.stop()
    await writer.stop()

    unresolved = await load_unresolved_orders(db, NS)
    assert [(u.order.order_id, u.filled_quantity, u.remaining) for u in unresolved] == [
        ("PO-1", 0, 10),
        ("PO-2", 4, 6),
    ]
    assert unresolved[0].order == orders["PO-1"].payload
    assert unresolved[0].correlation_id == orders["PO-1"].correlation_id
    assert await load_unresolved_orders(db, Namespace.ZERODHA) == []

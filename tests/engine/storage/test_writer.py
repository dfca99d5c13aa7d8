from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import msgspec
import pytest
from sqlalchemy import select

from engine.bus import InProcessBus
from engine.events import (
    Command,
    CommandAction,
    Event,
    MarketTick,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    make_event,
)
from engine.storage import models
from engine.storage.database import Database
from engine.storage.repository import fill_count, load_fills, recent_orders, trace
from engine.storage.writer import StorageWriter
from engine.topics import CONTROL_COMMANDS, MARKET_TICKS, TopicMap
from tests.engine.storage.events_factory import NS, TOKEN, filled, placed, rejected, signal, validated
from tests.postgres import own_database, url_of

TOPICS = TopicMap(NS)


async def publish_all(bus: InProcessBus, events: list[Event]) -> None:
    for event in events:
        topic = (
            CONTROL_COMMANDS
            if isinstance(event.payload, Command)
            else TopicMap(event.namespace).for_event_type(event.type)
        )
        await bus.publish(topic, event)


def lineage(order_id: str = "PO-1") -> list[Event]:
    sig = signal()
    val = validated(sig)
    order = placed(val, order_id)
    return [
        sig,
        val,
        order,
        filled(order, order_id, f"{order_id}-T1", 4, 6, 101.0),
        filled(order, order_id, f"{order_id}-T2", 6, 0, 102.0),
    ]


async def start_writer(
    db: Database, *, max_batch: int = 500, stop_timeout_s: float = 10.0
) -> tuple[InProcessBus, StorageWriter]:
    bus = InProcessBus(retry_backoff_s=0.0)
    namespaces = (Namespace.PAPER, Namespace.ZERODHA)
    writer = StorageWriter(
        bus, db, namespaces, flush_interval_s=60.0, max_batch=max_batch, stop_timeout_s=stop_timeout_s
    )
    writer.wire()
    await bus.start()
    await writer.start()
    return bus, writer


async def stop_writer(bus: InProcessBus, writer: StorageWriter) -> None:
    await bus.stop()
    await writer.stop()


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for the writer's own task to get somewhere (it runs on its own schedule)."""
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - the writer exposes counters, not events
            await asyncio.sleep(0.005)


async def test_stop_writes_the_buffered_lineage(db: Database) -> None:
    bus, writer = await start_writer(db)
    events = lineage()
    await publish_all(bus, events)
    await bus.drain()
    assert writer.pending == 5
    assert await fill_count(db, NS) == 0  # buffered: the flush interval has not come round

    await stop_writer(bus, writer)

    assert (writer.pending, writer.written, writer.failures) == (0, 5, 0)
    assert [f.trade_id for f in await load_fills(db, NS)] == ["PO-1-T1", "PO-1-T2"]
    assert [e.id for e in await trace(db, events[0].correlation_id)] == [e.id for e in events]
    [order] = await recent_orders(db, NS)
    assert (order.order_id, order.status, order.filled_quantity) == ("PO-1", models.OrderStatus.FILLED, 10)
    assert order.correlation_id == events[0].correlation_id


async def test_a_redelivered_fill_is_stored_once(db: Database) -> None:
    bus, writer = await start_writer(db)
    events = lineage()
    first_fill = events[3]
    assert isinstance(first_fill.payload, OrderFilled)
    # the broker reports the same trade again, in a new event
    again = events[2].child(first_fill.payload, source="paper", key="sma")
    await publish_all(bus, [*events, again])
    await stop_writer(bus, writer)
    assert await fill_count(db, NS) == 2
    [order] = await recent_orders(db, NS)
    assert (order.status, order.filled_quantity) == (models.OrderStatus.FILLED, 10)

    # after a restart, a replaying bus delivers everything again: still nothing doubles
    bus, writer = await start_writer(db)
    await publish_all(bus, events)
    await stop_writer(bus, writer)
    assert writer.written == 5
    assert await fill_count(db, NS) == 2
    assert len(await trace(db, events[0].correlation_id)) == 6
    [order] = await recent_orders(db, NS)
    assert (order.status, order.filled_quantity) == (models.OrderStatus.FILLED, 10)


async def test_fills_load_in_the_order_handled_per_namespace(db: Database) -> None:
    bus, writer = await start_writer(db)
    order = placed(validated(signal()), "PO-9")
    # feed times out of order, as after a restart of a simulated session: handling order wins
    first, second, third = (
        filled(order, "PO-9", "T-first", 1, 2, 30.0),
        filled(order, "PO-9", "T-second", 1, 1, 10.0),
        filled(order, "PO-9", "T-third", 1, 0, 20.0),
    )
    other = make_event(second.payload, namespace=Namespace.ZERODHA, source="zerodha", key="sma")
    await publish_all(bus, [order, first, second, other, third])
    await stop_writer(bus, writer)
    assert [f.trade_id for f in await load_fills(db, NS)] == ["T-first", "T-second", "T-third"]
    [fill] = await load_fills(db, Namespace.ZERODHA)
    assert fill == second.payload  # every field, charges included, round-trips


async def test_risk_decisions_and_order_outcomes(db: Database) -> None:
    bus, writer = await start_writer(db)
    ok_sig, bad_sig = signal(), signal(quantity=5000)
    accepted, refused = validated(ok_sig), rejected(bad_sig, "max_quantity", "5000 > 1000")
    failed_order, cancelled_order = placed(accepted, "PO-F"), placed(accepted, "PO-C")
    partial = filled(cancelled_order, "PO-C", "PO-C-T1", 3, 7, 101.0)
    failure = failed_order.child(
        OrderFailed("PO-F", "sma", TOKEN, failed_order.payload.side, 10, "insufficient margin"),  # type: ignore[union-attr]
        source="paper",
        key="sma",
    )
    cancel = cancelled_order.child(
        OrderCancelled("PO-C", "sma", TOKEN, 7, "market closed"), source="paper", key="sma"
    )
    await publish_all(
        bus, [ok_sig, bad_sig, accepted, refused, failed_order, cancelled_order, partial, failure, cancel]
    )
    await stop_writer(bus, writer)

    async with db.engine.connect() as conn:
        decisions = (
            await conn.execute(
                select(
                    models.risk_decisions.c.accepted,
                    models.risk_decisions.c.rule,
                    models.risk_decisions.c.reason,
                ).order_by(models.risk_decisions.c.accepted)
            )
        ).all()
    assert [tuple(d) for d in decisions] == [(False, "max_quantity", "5000 > 1000"), (True, "", "")]
    orders = {o.order_id: o for o in await recent_orders(db, NS)}
    assert (orders["PO-F"].status, orders["PO-F"].status_reason) == (
        models.OrderStatus.FAILED,
        "insufficient margin",
    )
    assert (orders["PO-C"].status, orders["PO-C"].status_reason) == (
        models.OrderStatus.CANCELLED,
        "market closed",
    )
    assert orders["PO-C"].filled_quantity == 3


async def test_a_late_partial_fill_does_not_reopen_a_filled_order(db: Database) -> None:
    bus, writer = await start_writer(db)
    events = lineage()
    await publish_all(bus, events)
    await bus.drain()
    assert await writer.flush() is True
    stale = events[2].child(
        events[3].payload, source="paper", key="sma"
    )  # the partial fill, redelivered late
    await publish_all(bus, [stale])
    await stop_writer(bus, writer)
    [order] = await recent_orders(db, NS)
    assert (order.status, order.filled_quantity) == (models.OrderStatus.FILLED, 10)


async def test_commands_are_logged_and_ticks_never_reach_storage(db: Database) -> None:
    bus, writer = await start_writer(db)
    assert MARKET_TICKS not in writer.topics()
    command = make_event(
        Command(CommandAction.HALT, reason="test"), namespace=Namespace.SHARED, source="tui", key="halt"
    )
    tick = make_event(
        MarketTick(TOKEN, 2500.0, 1.0), namespace=Namespace.SHARED, source="feed", key=str(TOKEN)
    )
    await bus.publish(MARKET_TICKS, tick)
    await publish_all(bus, [command])
    await stop_writer(bus, writer)
    assert writer.written == 1
    [logged] = await trace(db, command.correlation_id)
    assert logged.payload == command.payload
    assert await trace(db, tick.correlation_id) == []


async def test_a_full_batch_is_written_without_waiting_for_the_interval(db: Database) -> None:
    bus, writer = await start_writer(db, max_batch=5)
    await publish_all(bus, lineage())
    await wait_for(lambda: writer.written == 5)
    assert await fill_count(db, NS) == 2
    await stop_writer(bus, writer)


async def test_a_row_the_database_refuses_is_dropped_and_the_rest_stored(db: Database) -> None:
    bus, writer = await start_writer(db)
    events = lineage()
    order = events[2]
    impossible = filled(order, "PO-1", "T-huge", 1, 0, 103.0)
    assert isinstance(impossible.payload, OrderFilled)
    too_big = order.child(
        msgspec.structs.replace(impossible.payload, instrument_token=2**70), source="paper", key="sma"
    )
    await publish_all(bus, [*events[:4], too_big, events[4]])
    await stop_writer(bus, writer)
    assert (writer.written, writer.rejected, writer.pending) == (5, 1, 0)
    assert [f.trade_id for f in await load_fills(db, NS)] == ["PO-1-T1", "PO-1-T2"]


# -- a database that fails -------------------------------------------------------------


async def test_writer_keeps_rows_while_sqlite_is_locked_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}", busy_timeout_ms=20)
    await db.connect()
    bus, writer = await start_writer(db)
    await publish_all(bus, lineage())
    await bus.drain()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.WARNING, logger="engine.storage.writer"):
            assert await writer.flush() is False
            assert await writer.flush() is False
        assert (writer.failures, writer.pending, writer.written) == (2, 5, 0)
        assert "database is locked" in writer.last_error
        assert sum("storage writes failing" in r.getMessage() for r in caplog.records) == 1
    finally:
        locker.rollback()
        locker.close()
    with caplog.at_level(logging.WARNING, logger="engine.storage.writer"):
        assert await writer.flush() is True
    assert (writer.pending, writer.written, writer.consecutive_failures) == (0, 5, 0)
    assert any("recovered" in r.getMessage() for r in caplog.records)
    assert await fill_count(db, NS) == 2
    await stop_writer(bus, writer)
    await db.close()


@pytest.fixture
async def doomed_postgres_url(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own, which the test drops while the writer uses it."""
    async with own_database("ap_doomed", postgres_url) as name:
        yield url_of(name, postgres_url).replace("postgres@", "postgres:pw-must-not-leak@")


async def test_writer_survives_its_postgres_database_vanishing(
    doomed_postgres_url: str, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(doomed_postgres_url)
    await db.connect()
    bus, writer = await start_writer(db, stop_timeout_s=0.2)
    events = lineage()
    await publish_all(bus, events[:3])
    await bus.drain()
    assert await writer.flush() is True

    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f"DROP DATABASE {doomed_postgres_url.rsplit('/', 1)[1]} WITH (FORCE)")
    await admin.close()

    await publish_all(bus, events[3:])
    with caplog.at_level(logging.INFO):
        await stop_writer(bus, writer)  # must not raise
        await db.close()
    assert writer.written == 3
    assert writer.failures >= 1
    assert writer.pending == 2
    assert "pw-must-not-leak" not in caplog.text
    assert "pw-must-not-leak" not in writer.last_error
    assert any("unwritten" in r.getMessage() for r in caplog.records)


async def test_writer_on_a_database_that_never_opened_counts_failures(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database's folder should be")
    db = Database(f"sqlite:///{blocker / 'alpha.db'}")
    with pytest.raises(OSError):
        await db.connect()
    bus, writer = await start_writer(db, stop_timeout_s=0.05)
    await publish_all(bus, lineage())
    await stop_writer(bus, writer)
    assert writer.failures >= 1
    assert (writer.pending, writer.written) == (5, 0)
    assert "not connected" in writer.last_error

"""The whole engine's storage guarantees: a stop during a database outage, the next start after
it, durable fills, and a kill -9 of a headless engine with and without durable fills."""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from alpha_panda_tui.control_client import EngineNotRunning, send
from engine.events import Event, Namespace, OrderFilled
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage import models
from engine.storage.database import Database
from engine.storage.journal import Journal
from engine.storage.repository import load_fills
from engine.topics import TopicMap
from tests.engine.storage.tcp_proxy import TcpProxy
from tests.postgres import own_database
from tests.strategy_configs import CHATTY_STRATEGIES_TOML

pytestmark = pytest.mark.slow


def engine_settings(root: Path, **storage: object) -> Settings:
    (root / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    database = storage.pop("database", None)
    return load_settings(
        risk={"max_orders_per_minute": 100_000, "max_open_positions": 100},
        storage=storage,
        **({"database": {"url": database}} if database else {}),
    )


async def stored_lineage(db: Database) -> tuple[list[OrderFilled], dict[str, tuple[str, int]]]:
    """Fills, and each order's (status, filled quantity)."""
    fills = await load_fills(db, Namespace.PAPER)
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(models.orders.c.order_id, models.orders.c.status, models.orders.c.filled_quantity)
            )
        ).all()
    return fills, {r.order_id: (r.status, r.filled_quantity) for r in rows}


def assert_consistent(fills: list[OrderFilled], orders: dict[str, tuple[str, int]]) -> None:
    assert len({f.trade_id for f in fills}) == len(fills), "a fill is stored twice"
    filled: dict[str, int] = defaultdict(int)
    for fill in fills:
        assert fill.order_id in orders, f"fill {fill.trade_id} has no order"
        filled[fill.order_id] += fill.quantity
    for order_id, quantity in filled.items():
        assert orders[order_id][1] == quantity, order_id
        # a partly filled order may have been cancelled since (on stop, or on the restart)
        assert orders[order_id][0] in ("PARTIAL", "FILLED", "CANCELLED"), orders[order_id]


def book(engine: Engine) -> dict[str, tuple[dict[int, int], float, float]]:
    """Per portfolio: positions, realized P&L, cash."""
    return {
        pid: (
            {t: p.quantity for t, p in b.positions.items() if p.quantity},
            round(b.realized_pnl, 6),
            round(b.cash, 6),
        )
        for pid, b in engine.portfolios[Namespace.PAPER].portfolios.items()
    }


@pytest.fixture
async def proxied_database(postgres_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A database of its own on the real PostgreSQL, reached through a proxy the test can cut."""
    async with own_database("ap_outage", postgres_url) as name:
        proxy = TcpProxy("127.0.0.1", 5432)
        await proxy.start()
        try:
            yield proxy, f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}"
        finally:
            await proxy.stop()


async def test_engine_stopped_during_an_outage_reports_the_unwritten_and_the_next_start_stores_them(
    isolated_dirs: Path, proxied_database: tuple[TcpProxy, str]
) -> None:
    proxy, url = proxied_database
    settings = engine_settings(isolated_dirs, database=url, stop_timeout_s=0.5, flush_interval_ms=50)
    first = Engine(settings, paced=False)
    await first.start()
    for _ in range(4):
        await first.pump(500)
    await proxy.cut()
    for _ in range(8):
        await first.pump(500)
    published = first.status().fills
    assert published > 20
    await first.stop()
    assert first.unwritten_at_stop > 0
    journal = Journal(settings.storage_journal)
    journal.open()
    assert journal.pending >= first.unwritten_at_stop
    journal.close()

    await proxy.restore()
    second = Engine(settings, paced=False)
    await second.start()  # writes the journal before it loads the portfolio from the database
    assert book(second) == book(first)
    await second.stop()
    assert second.unwritten_at_stop == 0
    assert settings.storage_journal.stat().st_size == 0

    db = Database(url)
    await db.connect()
    fills, orders = await stored_lineage(db)
    await db.close()
    assert len(fills) == published
    assert_consistent(fills, orders)


def journal_event_ids(path: Path) -> set[str]:
    """Ids of the events in a journal file, read without opening it as a Journal."""
    from engine.events import decode_event

    data = path.read_bytes()
    ids: set[str] = set()
    offset = 0
    while offset + 8 <= len(data):
        length, _ = struct.unpack(">II", data[offset : offset + 8])
        ids.add(decode_event(data[offset + 8 : offset + 8 + length]).id)
        offset += 8 + length
    return ids


async def test_a_durable_fill_is_on_disk_before_anything_sees_it(isolated_dirs: Path) -> None:
    settings = engine_settings(isolated_dirs, durable_fills=True)
    engine = Engine(settings, paced=False)
    seen: list[bool] = []

    async def on_fill(event: Event) -> None:  # the first subscriber to see each fill
        seen.append(event.id in journal_event_ids(settings.fill_journal))

    engine.bus.subscribe([TopicMap(Namespace.PAPER).orders_filled], "test.durable", on_fill)
    await engine.start()
    assert engine.writer is not None and engine.writer.fill_journal is not None
    for _ in range(6):
        await engine.pump(500)
    fill_journal = engine.writer.fill_journal
    await engine.stop()
    assert len(seen) == engine.status().fills > 20
    assert all(seen)
    assert fill_journal.recorded == len(seen)
    # everything reached the database: nothing left unsettled, the file truncated
    assert fill_journal.unsettled == 0
    assert settings.fill_journal.stat().st_size == 0
    assert os.stat(settings.fill_journal).st_mode & 0o077 == 0


def _headless_env(root: Path, durable: bool) -> dict[str, str]:
    return {
        **os.environ,
        "ALPHA_PANDA_DATA_DIR": str(root / "data"),
        "ALPHA_PANDA_CONFIG_DIR": str(root / "config"),
        "ALPHA_PANDA_FEED__TICKS_PER_SECOND": "3000",
        "ALPHA_PANDA_FEED__SESSION_SPEED": "20",
        "ALPHA_PANDA_RISK__MAX_ORDERS_PER_MINUTE": "100000",
        # a long flush interval makes the kill -9 window wide: only durable fills survive it
        "ALPHA_PANDA_STORAGE__FLUSH_INTERVAL_MS": "60000",
        "ALPHA_PANDA_STORAGE__DURABLE_FILLS": "true" if durable else "false",
    }


def _published_fills_then_kill(root: Path, durable: bool) -> int:
    """Run a headless engine until it has fills, read its fill count, SIGKILL it at once."""
    (root / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_headless_env(root, durable),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the headless engine exited"
            try:
                status = send(root / "data" / "control.sock", {"op": "status"})["status"]
            except EngineNotRunning:
                time.sleep(0.2)
                continue
            assert isinstance(status, dict)
            fills = int(status["fills"])
            if fills >= 10:
                proc.send_signal(signal.SIGKILL)  # fills published after this reading count too
                return fills
            time.sleep(0.2)
        raise AssertionError("the headless engine made no fills in time")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "default"])
async def test_kill_minus_9_keeps_every_published_fill_only_in_durable_mode(
    isolated_dirs: Path, durable: bool
) -> None:
    published = await asyncio.to_thread(_published_fills_then_kill, isolated_dirs, durable)
    settings = load_settings(storage={"durable_fills": durable})
    restarted = Engine(settings, paced=False)
    await restarted.start()  # replays the journals of the killed run
    await restarted.stop()
    db = Database(settings.database_url)
    await db.connect()
    fills, orders = await stored_lineage(db)
    await db.close()
    assert_consistent(fills, orders)
    if durable:
        assert len(fills) >= published
    else:  # the documented window: fills published since the last flush are gone
        assert len(fills) < published


def test_storage_settings_reach_the_writer_from_config_toml(isolated_dirs: Path) -> None:
    (isolated_dirs / "config" / "config.toml").write_text(
        "[storage]\nflush_interval_ms = 50\nmax_buffer_events = 2000\n"
        "durable_fills = true\nstop_timeout_s = 3\n",
        encoding="utf-8",
    )
    settings = load_settings()
    engine = Engine(settings, paced=False)
    writer = engine.writer
    assert writer is not None and writer.fill_journal is not None
    assert (writer.flush_interval_s, writer.max_buffer, writer.stop_timeout_s) == (0.05, 2000, 3.0)
    assert writer.journal is not None and writer.journal.path == settings.data_dir / "storage.journal"
    assert writer.fill_journal.journal.path == settings.data_dir / "fills.journal"
    assert engine.paper.durable_fills is writer.fill_journal
    assert Engine(load_settings(storage={"durable_fills": False}), paced=False).paper.durable_fills is None


async def test_sigterm_to_a_headless_engine_during_an_outage_loses_no_fill(
    isolated_dirs: Path, proxied_database: tuple[TcpProxy, str]
) -> None:
    proxy, url = proxied_database
    (isolated_dirs / "config" / "strategies.toml").write_text(CHATTY_STRATEGIES_TOML, encoding="utf-8")
    env = {
        **_headless_env(isolated_dirs, durable=False),
        "ALPHA_PANDA_STORAGE__FLUSH_INTERVAL_MS": "200",
        "ALPHA_PANDA_STORAGE__STOP_TIMEOUT_S": "1",
        "ALPHA_PANDA_DATABASE__URL": url,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alpha_panda_tui",
        "launch",
        "--headless",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    socket = isolated_dirs / "data" / "control.sock"
    try:
        async with asyncio.timeout(60):
            while True:
                assert proc.returncode is None
                try:
                    status = (await asyncio.to_thread(send, socket, {"op": "status"}))["status"]
                except EngineNotRunning:
                    status = {"fills": 0}
                assert isinstance(status, dict)
                if int(status["fills"]) >= 10:
                    break
                await asyncio.sleep(0.2)
        await proxy.cut()
        await asyncio.sleep(2.0)  # trading goes on; fills pile up unwritten
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            output = (await proc.communicate())[0].decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    final = [line for line in output.splitlines() if "final:" in line]
    assert final, output
    published = int(final[-1].split("| fills ")[1].split(" |")[0].replace(",", ""))
    assert "events unwritten" in output and "storage.journal" in output, output
    assert proc.returncode == 1, output  # the host says the stop was not clean
    assert "events were not written to the database" in output, output
    journal = Journal(isolated_dirs / "data" / "storage.journal")
    journal.open()
    assert journal.pending > 0
    journal.close()

    await proxy.restore()
    settings = load_settings(database={"url": url})
    restarted = Engine(settings, paced=False)
    await restarted.start()
    await restarted.stop()
    db = Database(url)
    await db.connect()
    fills, orders = await stored_lineage(db)
    await db.close()
    assert len(fills) == published
    assert_consistent(fills, orders)

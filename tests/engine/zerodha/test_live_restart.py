"""Restart mid-day with live orders: the next engine on the same data dir follows what is open at
Kite, books once the fill that happened while nothing ran, shows Kite's positions, raises no false
mismatch, and its halt still cancels the order it took over.

Two real engines (SQLite file, the real kiteconnect client) one after the other against one Kite
sandbox that runs across both: the sandbox's request log and order desk are the witnesses that no
order was placed twice. The first engine stops cleanly in one test and is abandoned in the other,
as a kill -9 leaves it: no stop, its background tasks gone, what storage had not written lost.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from kiteconnect import KiteConnect

from engine.control import ControlServer
from engine.events import (
    Command,
    CommandAction,
    MarketTick,
    Namespace,
    OrderType,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.health.registry import CheckStatus
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.database import Database
from engine.storage.repository import load_fills, recent_orders
from engine.strategies.base import Strategy
from engine.tasks import cancel_and_wait
from engine.topics import TopicMap
from engine.zerodha.execution import ZerodhaExecution
from engine.zerodha.order_ids import LiveOrderIds
from engine.zerodha.order_store import LiveOrder, LiveOrderStore, LiveState
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.engine.zerodha.live_harness import FAST_POLL
from tests.kite_sandbox.matching.helpers import INFY, STILL, eventually, pin, place
from tests.sandbox import running_sandbox, sandbox_settings

ZERODHA = TopicMap(Namespace.ZERODHA)
STRATEGY = "sma"
FILLED_QTY, RESTING_QTY, FILLED_BEFORE, FILLED_WHILE_DOWN = 3, 5, 1, 2
HELD = FILLED_QTY + FILLED_BEFORE + FILLED_WHILE_DOWN


def live_settings(sandbox: KiteSandbox, data_dir: Path, **more: Any) -> Settings:
    (data_dir / "strategies.toml").write_text("", encoding="utf-8")
    overrides = sandbox_settings(sandbox, data_dir)
    overrides["zerodha"].update(FAST_POLL, live_orders=True)
    return load_settings(
        **overrides,
        strategies={"file": data_dir / "strategies.toml"},
        storage={"flush_interval_ms": 60_000},  # a kill loses every event not yet written
        **more,
    )


async def launched_live(settings: Settings) -> tuple[Engine, ZerodhaExecution]:
    """An engine as `launch --live` starts it, armed by the typed word."""
    engine = Engine(settings, paced=False, strategies=[], live=True)
    assert engine.live_gate is not None and engine.zerodha is not None
    engine.live_gate.confirm("LIVE", "test")
    await engine.start()
    return engine, engine.zerodha


async def signal(engine: Engine, quantity: int, limit: float) -> None:
    """A BUY LIMIT signal of the live strategy, as risk passes it on."""
    trade = TradingSignal(
        strategy_id=STRATEGY,
        instrument_token=INFY,
        side=Side.BUY,
        quantity=quantity,
        reference_price=1500.0,
        order_type=OrderType.LIMIT,
        limit_price=limit,
        product=Product.MIS,
    )
    payload = SignalValidated(signal=trade, quantity=quantity)
    event = make_event(payload, namespace=Namespace.ZERODHA, source="test", key=STRATEGY)
    await engine.bus.publish(ZERODHA.signals_validated, event)


async def trade_then(sandbox: KiteSandbox, engine: Engine, live: ZerodhaExecution) -> tuple[str, str]:
    """One order that fills at once (a position) and one that rests, part-filled: their ids."""
    pin(sandbox, last=1500.0)
    await signal(engine, FILLED_QTY, 1500.05)
    await eventually(
        lambda: live.positions() == {(STRATEGY, INFY, Product.MIS): FILLED_QTY} and not live.open_orders()
    )
    await signal(engine, RESTING_QTY, 1400.0)
    [resting] = await eventually(lambda: list(live.open_orders()))
    assert await eventually_stored(live, resting, 0), "the resting order's Kite id was never written"
    await offer(sandbox, FILLED_BEFORE)
    assert await eventually_stored(live, resting, FILLED_BEFORE), "its first fill was never written"
    [filled] = [oid for oid in live._orders if oid != resting]
    return filled, resting


async def eventually_stored(live: ZerodhaExecution, order_id: str, filled: int) -> bool:
    """The order's `live_orders` row open at Kite, with Kite's id and `filled` booked."""
    for _ in range(250):
        stored = await live.store.get(order_id)
        if (
            stored is not None
            and stored.state is LiveState.OPEN
            and stored.broker_order_id
            and stored.filled_quantity == filled
        ):
            return True
        await asyncio.sleep(0.02)
    return False


async def offer(sandbox: KiteSandbox, quantity: int) -> None:
    """The market comes down to the resting BUY for one tick, `quantity` offered, and goes back up."""
    pin(sandbox, last=1399.0, asks=[(1399.95, quantity)])
    await sandbox.push_tick(INFY)
    pin(sandbox, last=1500.0)


async def abandon(engine: Engine) -> None:
    """What a kill -9 leaves: no stop (no drain, no flush, no goodbye to Kite), its tasks gone."""
    live, reconciler = engine.zerodha, engine.reconciler
    assert live is not None and reconciler is not None and engine.writer is not None
    tasks = [*engine._tasks, *live._loops, *live._tasks]
    if reconciler._task is not None:
        tasks.append(reconciler._task)
    if engine.writer._task is not None:
        tasks.append(engine.writer._task)
    await cancel_and_wait(*tasks)
    await engine.bus.stop()
    assert engine.db is not None
    await engine.db.close()
    if engine.db_lock is not None:  # the OS drops the dead engine's database lock
        await engine.db_lock.release()


def kite_rows(sandbox: KiteSandbox, tag: str) -> list[dict[str, Any]]:
    return [row for row in sandbox.desk.orders() if row["tag"] == tag]


@asynccontextmanager
async def data_dir() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="lrs-") as folder:  # short: a socket path is limited
        yield Path(folder)


async def restart_mid_day(*, crash: bool) -> None:
    async with running_sandbox(**STILL) as sandbox, data_dir() as folder:
        settings = live_settings(sandbox, folder)
        await log_in(sandbox, settings)
        first, first_live = await launched_live(settings)
        try:
            filled, resting = await trade_then(sandbox, first, first_live)
        finally:
            if crash:
                await abandon(first)
            else:
                await first.stop()
        await offer(sandbox, FILLED_WHILE_DOWN)  # while no engine runs
        [at_kite] = kite_rows(sandbox, resting)
        assert (at_kite["status"], at_kite["filled_quantity"]) == ("OPEN", FILLED_BEFORE + FILLED_WHILE_DOWN)
        sandbox.requests.clear()

        second, live = await launched_live(settings)
        try:
            reconciler = second.reconciler
            assert reconciler is not None
            await eventually(lambda: reconciler.runs >= 1 and not reconciler.running)
            await eventually(lambda: live.positions().get((STRATEGY, INFY, Product.MIS)) == HELD)
            assert second.writer is not None
            await second.writer.flush()
            again = await reconciler.reconcile("test")  # and a later run finds nothing to do
            open_after_restart = live.open_orders()
            positions = live.positions()
            status = second.status()
            health = {r.name: r for r in await second.check_health()}
            calls_before_halt = [(c.method, c.route) for c in sandbox.requests.order_calls()]
            assert second.db is not None
            fills = await load_fills(second.db, Namespace.ZERODHA)

            server = ControlServer(second.bus, folder / "control.sock", second.status)
            server.wire()
            halted = await server.send(Command(CommandAction.HALT, reason="enough", issued_by="test"))
            followed = live.order(resting)
            await eventually(lambda: followed is not None and followed.state is LiveState.CANCELLED)
            halt_calls = [(c.method, c.form.get("tag")) for c in sandbox.requests.order_calls()]
        finally:
            await second.stop()
        [at_kite_after] = kite_rows(sandbox, resting)
        assert second.db is not None
        await second.db.connect()
        try:
            fills_after = await load_fills(second.db, Namespace.ZERODHA)
            orders = await recent_orders(second.db, Namespace.ZERODHA)
        finally:
            await second.db.close()

    # what is open at Kite is followed, never placed again
    assert open_after_restart == {resting: RESTING_QTY - FILLED_BEFORE - FILLED_WHILE_DOWN}
    assert calls_before_halt == []
    assert len(kite_rows(sandbox, filled)) == 1
    # the fill made while no engine ran is booked, once, on the order it belongs to
    booked = sorted((f.order_id, f.quantity) for f in fills)
    assert booked == sorted([(filled, FILLED_QTY), (resting, FILLED_BEFORE), (resting, FILLED_WHILE_DOWN)])
    assert len({f.trade_id for f in fills}) == len(fills)
    assert again.fills_booked == 0 and again.adopted == [] and again.mismatches == []
    assert positions == {(STRATEGY, INFY, Product.MIS): HELD}
    # Kite's positions are shown, and agree with ours: no alarm, nobody held
    assert [(p.instrument_token, p.quantity) for p in status.broker_positions] == [(INFY, HELD)]
    assert reconciler.alarms == {} and reconciler.adopted == []
    assert reconciler.last is not None and reconciler.last.error == ""
    assert health["reconciliation"].status is CheckStatus.OK, health["reconciliation"].message
    assert second.risk[Namespace.ZERODHA].holds == {}
    assert status.live_open_orders == 1
    # and the halt reaches the order it took over
    assert halted is not None and halted.ok
    assert halt_calls == [("DELETE", None)]
    assert at_kite_after["status"] == "CANCELLED"
    assert sorted((f.order_id, f.quantity) for f in fills_after) == booked
    # the order book stored tells the same story, whatever the first engine's storage lost
    assert sorted((o.order_id, o.status.value, o.filled_quantity) for o in orders) == sorted(
        [(filled, "FILLED", FILLED_QTY), (resting, "CANCELLED", FILLED_BEFORE + FILLED_WHILE_DOWN)]
    )


async def test_after_a_clean_stop_the_next_engine_follows_the_open_order_and_books_the_missed_fill() -> None:
    await restart_mid_day(crash=False)


async def test_after_a_kill_the_next_engine_follows_the_open_order_and_books_the_missed_fill() -> None:
    await restart_mid_day(crash=True)


class AlwaysLong(Strategy):
    """Long and never exits: only its position stops it buying again."""

    kind = "always_long_live"

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        return self.go_long(tick, "always long")


async def test_an_order_kite_took_as_the_engine_was_killed_is_not_bought_again_by_its_strategy() -> None:
    async with running_sandbox(**STILL) as sandbox, data_dir() as folder:
        settings = load_settings(
            **{**live_settings(sandbox, folder).model_dump(), "feed": {"symbols": ["INFY"]}}
        )
        session = await log_in(sandbox, settings)
        pin(sandbox, last=1500.0)
        # the killed run wrote its intent and sent it; Kite took it, the answer never came back
        settings.ensure_dirs()
        db = Database(settings.database_url)
        await db.connect()
        order_id = LiveOrderIds().next()
        await LiveOrderStore(db).insert(
            LiveOrder(
                order_id=order_id,
                strategy_id="long",
                instrument_token=INFY,
                exchange="NSE",
                tradingsymbol="INFY",
                side=Side.BUY,
                quantity=RESTING_QTY,
                order_type=OrderType.LIMIT,
                product=Product.MIS,
                limit_price=1400.0,
                correlation_id="corr-" + order_id,
                placed_event_id="evt-" + order_id,
            )
        )
        await db.close()
        kite = KiteConnect(sandbox.config.api_key, access_token=session.access_token, root=sandbox.root_url)
        await place(kite, price=1400.0, quantity=RESTING_QTY, tag=order_id)
        sandbox.requests.clear()

        strategy = AlwaysLong("long", (INFY,), (Namespace.ZERODHA,), {"quantity": RESTING_QTY})
        engine = Engine(settings, paced=False, strategies=[strategy], live=True)
        assert engine.live_gate is not None and engine.zerodha is not None
        engine.live_gate.confirm("LIVE", "test")
        await engine.start()
        try:
            live = engine.zerodha
            await engine.pump(20)
            await live.idle()
            held = strategy.position(INFY)
            await eventually(lambda: (o := live.order(order_id)) is not None and o.state is LiveState.OPEN)
            calls = [(c.method, c.form.get("tag")) for c in sandbox.requests.order_calls()]
            validated = engine.risk[Namespace.ZERODHA].validated
        finally:
            await engine.stop()
    assert calls == []
    assert held == RESTING_QTY and validated == 0
    assert [row["tag"] for row in sandbox.desk.orders()] == [order_id]

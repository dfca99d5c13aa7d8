"""The engine with a live zerodha namespace reconciles with Kite when it starts, reports it in its
health, and takes the acknowledgement of a mismatch from `alpha-panda-tui acknowledge`."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from kiteconnect import KiteConnect

from engine.control import ControlServer
from engine.events import Charges, Namespace, OrderFilled, Product, Side, make_event
from engine.health.registry import CheckStatus
from engine.runtime import Engine
from engine.settings import load_settings
from engine.storage.audit import AuditLog
from engine.storage.repository import load_fills
from engine.topics import TopicMap
from engine.zerodha.feed import ZerodhaFeed
from tests.engine.zerodha.kite_login import log_in
from tests.kite_sandbox.matching.helpers import INFY, STILL, eventually, pin, place
from tests.sandbox import running_sandbox, sandbox_settings


class LiveEngine(Engine):
    """The engine with the zerodha namespace active, as a live launch builds it."""

    def _build_services(self) -> None:
        self.active_namespaces = (Namespace.PAPER, Namespace.ZERODHA)
        super()._build_services()


async def acknowledge_from_the_cli(data_dir: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alpha_panda_tui",
        "acknowledge",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "ALPHA_PANDA_DATA_DIR": str(data_dir)},
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode()


async def test_reconciled_at_start_held_on_a_mismatch_and_released_by_the_cli() -> None:
    async with running_sandbox(**STILL) as sandbox:
        with tempfile.TemporaryDirectory(prefix="rcn-") as folder:  # short: a socket path is limited
            data_dir = Path(folder)
            settings = load_settings(**sandbox_settings(sandbox, data_dir))
            session = await log_in(sandbox, settings)
            kite = KiteConnect(
                sandbox.config.api_key, access_token=session.access_token, root=sandbox.root_url
            )
            pin(sandbox, last=1500.0)
            by_hand = "K" + await place(kite, price=1500.05, quantity=2)  # before the engine starts
            engine = LiveEngine(settings, paced=False)
            assert engine.reconciler is not None
            control = ControlServer(engine.bus, settings.control_socket, engine.status)
            control.wire()
            await engine.start()
            await control.start()
            try:
                await eventually(lambda: engine.reconciler is not None and engine.reconciler.runs >= 1)
                started = engine.reconciler.last
                status = engine.status()
                health = {r.name: r for r in await engine.check_health()}
                # a fill Kite never made, for a live strategy
                fill = OrderFilled(
                    order_id="Zlost1",
                    trade_id="77777777",
                    strategy_id="momentum",
                    instrument_token=INFY,
                    side=Side.BUY,
                    quantity=1,
                    price=1500.0,
                    product=Product.MIS,
                    charges=Charges(),
                )
                zerodha = TopicMap(Namespace.ZERODHA)
                event = make_event(fill, namespace=Namespace.ZERODHA, source="test", key="momentum")
                await engine.bus.publish(zerodha.orders_filled, event)
                assert engine.writer is not None
                await engine.writer.flush()
                report = await engine.reconciler.reconcile("test")
                held = dict(engine.risk[Namespace.ZERODHA].holds)
                alarm = {r.name: r for r in await engine.check_health()}["reconciliation"]
                code, output = await acknowledge_from_the_cli(data_dir)
                after = dict(engine.risk[Namespace.ZERODHA].holds)
                assert engine.db is not None
                audit = await AuditLog(engine.db).recent(10)
            finally:
                await control.stop()
                await engine.stop()
    assert started is not None and started.adopted == [by_hand]  # by the live execution, fills too
    assert [(p.instrument_token, p.quantity, p.average_price) for p in status.broker_positions] == [
        (INFY, 2, 1500.05)
    ]
    assert status.broker_positions_ts > 0
    assert health["reconciliation"].status is CheckStatus.WARN
    assert by_hand in health["reconciliation"].message
    assert [m.describe() for m in report.mismatches] == ["INFY MIS: Kite holds +2, our fills make +3"]
    assert list(held) == ["momentum"]
    assert alarm.status is CheckStatus.FAIL and alarm.critical
    assert code == 0, output
    assert output.strip() == "ok: zerodha: position mismatch acknowledged; momentum released"
    assert after == {}
    assert ("cli", "mismatch_acknowledged") in [(e.actor, e.action) for e in audit]


async def test_a_fill_missed_on_the_socket_is_booked_once_after_the_ticker_reconnects() -> None:
    async with running_sandbox(**STILL) as sandbox:
        with tempfile.TemporaryDirectory(prefix="rcn-") as folder:
            overrides = sandbox_settings(sandbox, Path(folder))
            overrides["zerodha"].update(reconnect_initial_s=0.05, reconnect_max_s=0.2)
            settings = load_settings(**overrides, feed={"source": "zerodha", "symbols": ["INFY"]})
            session = await log_in(sandbox, settings)
            kite = KiteConnect(
                sandbox.config.api_key, access_token=session.access_token, root=sandbox.root_url
            )
            pin(sandbox, last=1500.0)
            engine = LiveEngine(settings, paced=False, strategies=[])
            reconciler = engine.reconciler
            assert reconciler is not None and isinstance(engine.feed, ZerodhaFeed)
            ticker = engine.feed.ticker

            def opened() -> int:
                return sum(c.opened for c in ticker.connections)

            await engine.start()
            try:
                await eventually(
                    lambda: (
                        ticker.streaming
                        and reconciler.runs > 0
                        and not reconciler.running
                        and reconciler.reconnects_seen == opened() > 0
                    )
                )
                runs = reconciler.runs
                by_hand = "K" + await place(kite, price=1500.05, quantity=3)  # its updates are not ours
                assert sandbox.faults.drop_connections() >= 1
                await eventually(
                    lambda: (
                        reconciler.runs > runs
                        and reconciler.last is not None
                        and reconciler.last.reason == "ticker reconnected"
                    )
                )
                after_reconnect = reconciler.last
                again = await reconciler.reconcile("test")
                assert engine.writer is not None
                await engine.writer.flush()
                assert engine.db is not None
                fills = await load_fills(engine.db, Namespace.ZERODHA)
            finally:
                await engine.stop()
    assert after_reconnect is not None and after_reconnect.reason == "ticker reconnected"
    assert after_reconnect.adopted == [by_hand]  # the live execution adopts it and books its fill
    assert again.fills_booked == 0
    assert [(f.order_id, f.quantity) for f in fills] == [(by_hand, 3)]

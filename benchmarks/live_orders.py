"""Live orders benchmark: validated signals to Kite orders against the sandbox, Kite's rate limits on.

    python benchmarks/live_orders.py [--paced 100] [--burst 200]

The Kite sandbox runs in a child process (its CPU is not ours) with Kite's
rate limits on: 10 order calls a second, 400 a minute. This process runs
`ZerodhaExecution` as the engine does: the official kiteconnect client off the
event loop, the shared rate limiter, every intent written to SQLite (a temp
dir) before its place call, the audit log, events on a bus.

1. `--paced` signals, one every 0.12 s (under the limit, so nothing queues):
   signal-to-broker-ack latency p50/p99 (from publishing the validated signal
   to OrderPlaced, which goes out when Kite answers the place call); the REST
   call alone (kiteconnect in its worker thread, HTTP to the sandbox and
   back); and our overhead = the rest, split into before the call / after it
   (negative: the socket's update announced the order before the call
   returned), and into the intent's write (a committed SQLite row, fsync'ed:
   what lets a restart resolve the order) and everything else.
2. `--burst` signals at once: the orders/s sustained while the limiter spaces
   them, how many waited, and whether Kite answered 429 to any call.

Target: the limiter, not our code, is the bottleneck (our overhead p99 < 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from kite_login import BENCH_API_KEY, bench_settings, log_in, new_api_secret

from engine.bus import DirectBus
from engine.clock import WallClock
from engine.events import (
    Event,
    MarketTick,
    Namespace,
    OrderType,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.execution.charges import ChargeCalculator
from engine.instruments import InstrumentRegistry
from engine.settings import ChargesSettings
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from engine.topics import TopicMap
from engine.zerodha.execution import ZerodhaExecution
from engine.zerodha.order_store import LiveOrder, LiveOrderStore
from engine.zerodha.rest import KiteRest
from engine.zerodha.session import SessionStore
from engine.zerodha.ticker import KiteTicker, TickMode
from kite_sandbox.server import KiteSandbox, SandboxConfig

INFY = 408065
PACED_GAP_S = 0.12
ZERODHA = TopicMap(Namespace.ZERODHA)


def serve_sandbox(api_secret: str, conn: Connection) -> None:
    """The sandbox (its market hardly moving, rate limits on) until told "stop"."""

    async def run() -> None:
        config = SandboxConfig(api_key=BENCH_API_KEY, api_secret=api_secret, updates_per_instrument_s=0.001)
        loop = asyncio.get_running_loop()
        async with KiteSandbox(config) as sandbox:
            conn.send((sandbox.root_url, sandbox.ws_url, sandbox.issue_request_token()))
            await loop.run_in_executor(None, conn.recv)

    asyncio.run(run())


class TimedKite(KiteRest):
    """KiteRest noting how long each place call took (paced under the limit, none waits for it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.place_s: dict[str, float] = {}  # tag -> seconds in the REST call
        self.place_calls = 0
        self.place_started: dict[str, float] = {}

    async def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        if name != "place_order":
            return await super().call(name, *args, **kwargs)
        self.place_calls += 1
        started = time.perf_counter()
        self.place_started[kwargs["tag"]] = started
        try:
            return await super().call(name, *args, **kwargs)
        finally:
            self.place_s[kwargs["tag"]] = time.perf_counter() - started


class TimedStore(LiveOrderStore):
    """LiveOrderStore noting how long writing each intent took (a committed, fsync'ed SQLite row)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.insert_s: dict[str, float] = {}

    async def insert(self, order: LiveOrder) -> None:
        started = time.perf_counter()
        await super().insert(order)
        self.insert_s[order.order_id] = time.perf_counter() - started


async def ignore_ticks(ticks: list[MarketTick]) -> None:
    pass


def signal_event() -> Event:
    signal = TradingSignal(
        strategy_id="bench",
        instrument_token=INFY,
        side=Side.BUY,
        quantity=1,
        reference_price=1500.0,
        order_type=OrderType.LIMIT,
        limit_price=1400.0,
        product=Product.MIS,
    )
    return make_event(
        SignalValidated(signal=signal, quantity=1), namespace=Namespace.ZERODHA, source="bench", key="bench"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


async def measure(paced: int, burst: int, data_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    api_secret = new_api_secret()
    process = ctx.Process(target=serve_sandbox, args=(api_secret, child), daemon=True)
    process.start()
    try:
        root_url, ws_url, request_token = await asyncio.to_thread(parent.recv)
        settings = bench_settings(root_url, ws_url, api_secret)
        session = await log_in(settings, request_token, SessionStore(data_dir / "session.json"))
        await asyncio.sleep(1.1)  # the login's own call out of Kite's one-second windows
        db = Database(f"sqlite:///{data_dir / 'live.db'}")
        await db.connect()
        bus = DirectBus()
        acked: dict[str, float] = {}  # our order id -> when OrderPlaced went out
        signal_of: dict[str, str] = {}  # our order id -> the signal's event id

        async def on_placed(event: Event) -> None:
            acked[event.payload.order_id] = time.perf_counter()  # type: ignore[union-attr]
            signal_of[event.payload.order_id] = event.causation_id  # type: ignore[union-attr]

        bus.subscribe([ZERODHA.orders_placed], "bench", on_placed)
        kite = TimedKite(settings, session)
        store = TimedStore(db)
        execution = ZerodhaExecution(
            bus,
            kite,
            store,
            InstrumentRegistry.sample(),
            WallClock(),
            settings,
            ChargeCalculator(ChargesSettings()),
            audit=AuditLog(db),
        )
        ticker = KiteTicker(
            ws_url,
            BENCH_API_KEY,
            session,
            {INFY: TickMode.LTP},
            ignore_ticks,
            on_order=execution.on_order_update,
        )
        execution.socket_up = lambda: ticker.streaming
        execution.wire()
        await bus.start()
        await ticker.start()
        while not ticker.streaming:  # noqa: ASYNC110 - the ticker offers no event to wait on
            await asyncio.sleep(0.01)
        await execution.start()

        sent_at: dict[str, float] = {}
        for _ in range(paced):
            event = signal_event()
            sent_at[event.id] = time.perf_counter()
            await bus.publish(ZERODHA.signals_validated, event)
            await asyncio.sleep(PACED_GAP_S)
        await execution.idle()
        totals = [acked[oid] - sent_at[signal_of[oid]] for oid in acked]
        rest = [kite.place_s[oid] for oid in acked]
        overhead = [acked[oid] - sent_at[signal_of[oid]] - kite.place_s[oid] for oid in acked]
        before_call = [kite.place_started[oid] - sent_at[signal_of[oid]] for oid in acked]
        after_call = [acked[oid] - kite.place_started[oid] - kite.place_s[oid] for oid in acked]
        intent = [store.insert_s[oid] for oid in acked]
        rest_of_ours = [o - store.insert_s[oid] for o, oid in zip(overhead, acked, strict=True)]
        print(f"paced: {len(acked)} orders placed, one every {PACED_GAP_S} s")
        for label, values in (
            ("signal-to-ack", totals),
            ("REST place call", rest),
            ("our overhead", overhead),
            ("  before the call", before_call),
            ("  after the call", after_call),
            ("  intent write", intent),
            ("  all but that", rest_of_ours),
        ):
            print(
                f"  {label:16} p50 {ms(statistics.median(values)):>10}"
                f"  p99 {ms(percentile(values, 0.99)):>10}  max {ms(max(values)):>10}"
            )

        await asyncio.sleep(60.5)  # a fresh minute: the burst alone against the 400-a-minute window
        acked.clear()
        retries = kite.retries
        started = time.perf_counter()
        for _ in range(burst):
            await bus.publish(ZERODHA.signals_validated, signal_event())
        queued = execution.queued
        await execution.idle()
        acks = sorted(acked.values())
        first_second = settings.order_rate_per_s
        sustained = (len(acks) - first_second) / (acks[-1] - acks[int(first_second) - 1])
        print(f"burst: {burst} signals at once, {queued} waited for the limiter")
        print(
            f"  all {len(acks)} acknowledged in {acks[-1] - started:.2f} s; sustained after the first "
            f"second's {first_second:g}: {sustained:.2f} orders/s (Kite: 10/s; ours: 10 per "
            f"{1 + settings.rate_window_margin_s:g} s)"
        )
        print(f"  429s met (retries): {kite.retries - retries}; place calls: {kite.place_calls}")
        print(
            f"  order updates from the socket applied: {execution.updates_applied}; "
            f"order book reads: {execution.polls}"
        )
        await execution.stop()
        await ticker.stop()
        await bus.stop()
        await db.close()
    finally:
        parent.send("stop")
        process.join(timeout=5)
        if process.is_alive():
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paced", type=int, default=100, help="orders sent one at a time, under the limit")
    parser.add_argument("--burst", type=int, default=200, help="orders sent at once (at least 11)")
    args = parser.parse_args()
    if args.burst <= 10 or args.paced < 1:
        parser.error("--burst must be above 10 (the first second's orders go at once) and --paced at least 1")
    print(
        "Live orders against the Kite sandbox (child process, Kite's rate limits on); "
        "target: our overhead p99 < 5 ms"
    )
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(measure(args.paced, args.burst, Path(tmp)))


if __name__ == "__main__":
    main()

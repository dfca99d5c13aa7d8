"""Pipeline benchmark: synthetic ticks through the whole in-process pipeline.

    python benchmarks/pipeline.py [--ticks 300000] [--latency-seconds 5] [--durable-fills]

4 strategies (EMA and SMA crossovers, momentum, RSI) on 50 instruments; every
signal goes through the risk manager, paper execution (fills against depth,
charges) and the portfolio, on the queued InProcessBus the live engine uses.
Prints: sustained ticks/s (ticks published as fast as the pipeline takes
them, with backpressure instead of conflation, until all are handled),
p50/p99 tick-to-fill latency at a paced 10,000 ticks/s, and peak RSS.
Targets on a 2-core machine: >= 100,000 ticks/s; p99 tick-to-fill < 2 ms.
`--durable-fills` also measures tick-to-fill with `[storage] durable_fills`
(each fill journaled and fsync'ed before it is published), next to the default.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.bus import Bus, DirectBus, InProcessBus, TickOverflow
from engine.clock import ManualClock
from engine.events import Event, MarketTick, Namespace, OrderFilled, make_event
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.pipeline import build_trading_stages
from engine.service import Service
from engine.settings import Settings
from engine.state import MemoryStateStore
from engine.storage.journal import FillJournal
from engine.strategies.base import Strategy
from engine.strategies.registry import builtin_registry
from engine.topics import MARKET_TICKS, TopicMap

INSTRUMENTS = 50
FEED_BATCH = 100
# typical parameters: a few percent of ticks produce an order
STRATEGIES = (
    ("ema_10_30", "ema_crossover", {"fast": 10, "slow": 30, "quantity": 10}),
    ("sma_20_50", "sma_crossover", {"fast": 20, "slow": 50, "quantity": 10}),
    ("momentum_50", "momentum", {"lookback": 50, "threshold": 0.5, "quantity": 10}),
    ("rsi_14", "rsi", {"period": 14, "oversold": 25, "overbought": 75, "quantity": 10}),
)


def synthetic_instruments(count: int) -> InstrumentRegistry:
    sample = [i for i in InstrumentRegistry.sample() if i.tradable]
    out = []
    for n in range(count):
        base = sample[n % len(sample)]
        exchange_token = 900_000 + n
        out.append(
            Instrument(
                instrument_token=exchange_token << 8 | 1,
                exchange_token=exchange_token,
                tradingsymbol=f"{base.tradingsymbol}{n}",
                name=base.name,
                last_price=base.last_price,
                tick_size=0.05,
                lot_size=1,
                instrument_type="EQ",
                segment="NSE",
                exchange="NSE",
            )
        )
    return InstrumentRegistry(out)


def bench_settings() -> Settings:
    settings = Settings()
    risk = settings.risk.model_copy(
        update={
            "max_orders_per_minute": 1_000_000,
            "max_open_positions": 1_000,
            "max_daily_loss": 1e12,
            "max_daily_loss_per_strategy": 1e12,
            "price_band_pct": 50.0,
        }
    )
    return settings.model_copy(update={"risk": risk})


@dataclass
class Pipeline:
    bus: Bus
    clock: ManualClock
    instruments: InstrumentRegistry
    fills: list[tuple[float, OrderFilled]] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)


def build_pipeline(
    bus: Bus, clock: ManualClock, instruments: InstrumentRegistry, durable: FillJournal | None = None
) -> Pipeline:
    settings = bench_settings()
    calendar = MarketCalendar()
    store = MemoryStateStore()
    tokens = tuple(i.instrument_token for i in instruments)
    registry = builtin_registry()
    strategies: list[Strategy] = [
        registry.get(kind)(name, tokens, (Namespace.PAPER,), params) for name, kind, params in STRATEGIES
    ]
    pipeline = Pipeline(bus=bus, clock=clock, instruments=instruments)
    stages = build_trading_stages(
        bus,
        settings,
        strategies=strategies,
        enabled={s.name: True for s in strategies},
        instruments=instruments,
        calendar=calendar,
        clock=clock,
        state_store=store,
    )
    stages.paper.durable_fills = durable
    services: list[Service] = [
        stages.risk[Namespace.PAPER],
        stages.paper,
        stages.portfolios[Namespace.PAPER],
        stages.runner,
    ]
    for service in services:
        service.wire()
    pipeline.services = services

    async def on_fill(event: Event) -> None:
        assert isinstance(event.payload, OrderFilled)
        pipeline.fills.append((time.perf_counter(), event.payload))

    bus.subscribe([TopicMap(Namespace.PAPER).orders_filled], "bench.fills", on_fill)
    return pipeline


async def start(pipeline: Pipeline) -> None:
    for service in pipeline.services:
        await service.start()
    await pipeline.bus.start()


def make_ticks(instruments: InstrumentRegistry, count: int, start_ts: float) -> list[MarketTick]:
    clock = ManualClock(start_ts)
    feed = SimulatedFeed(list(instruments), clock=clock, seed=7)
    ticks: list[MarketTick] = []
    per_batch = len(instruments)
    while len(ticks) < count:
        clock.advance(0.01)
        ticks.extend(feed.next_batch(per_batch))
    return ticks[:count]


def session_start() -> float:
    return SimulatedSessionClock(MarketCalendar()).now() + 60.0


async def throughput(ticks: list[MarketTick], keys: dict[int, str], direct: bool) -> tuple[float, int, int]:
    instruments = synthetic_instruments(INSTRUMENTS)
    clock = ManualClock(ticks[0].exchange_ts)
    bus: Bus = DirectBus() if direct else InProcessBus(tick_overflow=TickOverflow.BLOCK)
    pipeline = build_pipeline(bus, clock, instruments)
    await start(pipeline)
    shared = Namespace.SHARED
    gc.collect()
    began = time.perf_counter()
    if direct:  # the replay driver: the clock follows each tick
        for tick in ticks:
            clock.set(tick.exchange_ts)
            event = make_event(tick, namespace=shared, source="feed", key=keys[tick.instrument_token])
            await bus.publish(MARKET_TICKS, event)
    else:  # the live feed: batches of ticks, as MarketFeedService publishes them
        for first in range(0, len(ticks), FEED_BATCH):
            batch = ticks[first : first + FEED_BATCH]
            clock.set(batch[-1].exchange_ts)
            events = [
                make_event(tick, namespace=shared, source="feed", key=keys[tick.instrument_token])
                for tick in batch
            ]
            await bus.publish_many(MARKET_TICKS, events)
            await asyncio.sleep(0)
    await bus.drain(timeout=600)
    elapsed = time.perf_counter() - began
    orders = bus.stats.published.get(TopicMap(Namespace.PAPER).orders_placed, 0)
    await bus.stop()
    return len(ticks) / elapsed, orders, len(pipeline.fills)


async def latency(
    ticks: list[MarketTick], keys: dict[int, str], rate: float, durable: FillJournal | None = None
) -> tuple[list[float], int]:
    instruments = synthetic_instruments(INSTRUMENTS)
    clock = ManualClock(ticks[0].exchange_ts)
    bus = InProcessBus()
    pipeline = build_pipeline(bus, clock, instruments, durable)
    await start(pipeline)
    published_at: dict[tuple[int, float], float] = {}
    interval = 0.002
    per_batch = max(1, int(rate * interval))
    began = time.perf_counter()
    sent = 0
    while sent < len(ticks):
        target = int((time.perf_counter() - began) * rate)
        while sent < min(target, len(ticks)):
            tick = ticks[sent]
            clock.set(tick.exchange_ts)
            published_at[(tick.instrument_token, tick.exchange_ts)] = time.perf_counter()
            await bus.publish(
                MARKET_TICKS,
                make_event(tick, namespace=Namespace.SHARED, source="feed", key=keys[tick.instrument_token]),
            )
            sent += 1
        await asyncio.sleep(interval / 2 if per_batch else 0)
    await bus.drain(timeout=60)
    await bus.stop()
    samples = []
    for seen, fill in pipeline.fills:
        sent_at = published_at.get((fill.instrument_token, fill.fill_ts))
        if sent_at is not None:
            samples.append((seen - sent_at) * 1000)
    return samples, len(pipeline.fills)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def report_latency(label: str, samples: list[float], n_fills: int) -> None:
    if samples:
        print(
            f"{label}: p50 {statistics.median(samples):.3f} ms   "
            f"p99 {percentile(samples, 99):.3f} ms   max {max(samples):.3f} ms   ({len(samples):,} fills)"
        )
    else:
        print(f"{label}: no fills measured ({n_fills} fills)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=300_000)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument(
        "--durable-fills",
        action="store_true",
        help="also measure tick-to-fill with each fill fsync'ed to a journal before it is published",
    )
    parser.add_argument(
        "--journal-dir", type=Path, default=None, help="folder for the durable-fills journal (default: temp)"
    )
    args = parser.parse_args()

    instruments = synthetic_instruments(INSTRUMENTS)
    keys = {i.instrument_token: i.key for i in instruments}
    start_ts = session_start()
    ticks = make_ticks(instruments, args.ticks, start_ts)
    print(
        f"pipeline benchmark: {len(STRATEGIES)} strategies x {INSTRUMENTS} instruments, {len(ticks):,} ticks"
    )

    rate, orders, fills = await throughput(ticks, keys, direct=False)
    print(
        f"sustained (InProcessBus, backpressure): {rate:>10,.0f} ticks/s   orders {orders:,}  fills {fills:,}"
    )
    rate_direct, orders_d, fills_d = await throughput(ticks, keys, direct=True)
    print(
        f"sustained (DirectBus, replay driver):   {rate_direct:>10,.0f} ticks/s"
        f"   orders {orders_d:,}  fills {fills_d:,}"
    )

    paced = make_ticks(instruments, int(args.rate * args.latency_seconds), start_ts)
    samples, n_fills = await latency(paced, keys, args.rate)
    report_latency(f"tick-to-fill at {args.rate:,.0f} ticks/s", samples, n_fills)
    if args.durable_fills:
        with tempfile.TemporaryDirectory(dir=args.journal_dir) as folder:
            journal = FillJournal(Path(folder) / "fills.journal")
            journal.journal.open()
            samples, n_fills = await latency(paced, keys, args.rate, journal)
            journal.journal.close()
        report_latency(f"tick-to-fill, durable fills (fsync in {folder})", samples, n_fills)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:,.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())

"""Replay benchmark: recorded ticks through strategy, risk, paper execution and portfolio.

    python benchmarks/replay.py                 # 1,000,000 ticks, 10 instruments, CSV
    python benchmarks/replay.py --ticks 200000 --depth --format parquet
    python benchmarks/replay.py --ticks 200000 --profile   # pyinstrument profile of the replay

Generates its own tick file in a temp dir (the simulated NSE feed, one tick
per instrument per second of session time, sessions 09:15-15:30 on trading
days), then replays it with one EMA(10)/EMA(30) long-only crossover on every
instrument. Risk runs with every rule, but with order-rate and daily-loss
limits raised so that every signal becomes an order (a few percent of ticks)
and is filled by the paper broker and booked by the portfolio.

Figures: ticks/s for reading the file alone, for the pipeline alone (time
spent outside file parsing), and end to end; peak RSS of the process.
Targets: >= 150,000 ticks/s, < 500 MB peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path

from engine.clock import ManualClock
from engine.events import MarketTick, Namespace
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST, SESSION_CLOSE, SESSION_OPEN, MarketCalendar
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import read_ticks, write_ticks
from engine.research.replay import run_replay
from engine.settings import load_settings
from engine.strategies.ema_crossover import EmaCrossover

TARGET_TICKS_PER_S = 150_000
TARGET_RSS_MB = 500
CHUNK = 10_000
START_DAY = datetime(2026, 11, 2, tzinfo=IST).date()  # a Monday


def session_ticks(instruments: int, total: int, *, depth: bool, seed: int = 7) -> Iterator[MarketTick]:
    """`total` simulated ticks, one per instrument per session second, across trading days."""
    registry = InstrumentRegistry.sample()
    chosen = registry.tradable()[:instruments]
    calendar = MarketCalendar()
    day = START_DAY if calendar.is_trading_day(START_DAY) else calendar.next_trading_day(START_DAY)
    clock = ManualClock(datetime.combine(day, SESSION_OPEN, IST).timestamp())
    close = datetime.combine(day, SESSION_CLOSE, IST).timestamp()
    feed = SimulatedFeed(chosen, clock=clock, seed=seed, depth=depth)
    produced = 0
    while produced < total:
        batch = feed.next_batch(min(len(chosen), total - produced))
        produced += len(batch)
        yield from batch
        clock.advance(1.0)
        if clock.now() >= close:
            day = calendar.next_trading_day(day)
            clock.set(datetime.combine(day, SESSION_OPEN, IST).timestamp())
            close = datetime.combine(day, SESSION_CLOSE, IST).timestamp()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


class TimedReader:
    """Yields a file's ticks, timing only the reading (chunks of parsed ticks)."""

    def __init__(self, path: Path, registry: InstrumentRegistry) -> None:
        self._ticks = read_ticks(path, registry)
        self.read_s = 0.0

    def __iter__(self) -> Iterator[MarketTick]:
        while True:
            began = time.perf_counter()
            chunk = list(islice(self._ticks, CHUNK))
            self.read_s += time.perf_counter() - began
            if not chunk:
                return
            yield from chunk


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ticks", type=int, default=1_000_000, help="ticks to generate and replay")
    parser.add_argument("--instruments", type=int, default=10)
    parser.add_argument("--depth", action="store_true", help="five levels of market depth in every tick")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--profile", action="store_true", help="profile the replay with pyinstrument")
    parser.add_argument("--write", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.write is not None:  # the child process that generates the file
        write_ticks(args.write, session_ticks(args.instruments, args.ticks, depth=args.depth))
        return 0

    registry = InstrumentRegistry.sample()
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        path = Path(tmp) / f"ticks.{args.format}"
        began = time.perf_counter()
        # generated in a child process, so its memory does not count in this one's peak RSS
        command = [sys.executable, __file__, "--write", str(path), "--ticks", str(args.ticks)]
        command += ["--instruments", str(args.instruments)] + (["--depth"] if args.depth else [])
        subprocess.run(command, check=True)
        print(
            f"generated {args.ticks:,} ticks ({path.stat().st_size / 1e6:.0f} MB {args.format}"
            f"{', with depth' if args.depth else ''}) in {time.perf_counter() - began:.1f} s"
        )

        began = time.perf_counter()
        read = sum(1 for _ in read_ticks(path, registry))
        read_s = time.perf_counter() - began

        settings = load_settings(
            risk={
                "max_orders_per_minute": 100_000,
                "max_daily_loss_per_strategy": 1e12,
                "max_daily_loss": 1e12,
            }
        )
        tokens = tuple(inst.instrument_token for inst in registry.tradable()[: args.instruments])
        strategy = EmaCrossover("ema_10_30", tokens, (Namespace.PAPER,), {"fast": 10, "slow": 30})
        reader = TimedReader(path, registry)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        began = time.perf_counter()
        result = run_replay(settings, [strategy], reader, registry)
        total_s = time.perf_counter() - began
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False))
        report = result.report()
        pipeline_s = total_s - reader.read_s

    summary = report.summary(strategy.name)
    rss = peak_rss_mb()
    end_to_end = result.ticks / total_s
    pipeline = result.ticks / pipeline_s
    print(f"ticks replayed      {result.ticks:,} ({read:,} in file)")
    share = len(result.signals) / max(result.ticks, 1)
    print(
        f"signals / orders    {len(result.signals):,} signals ({share:.1%} of ticks), "
        f"{len(result.rejections):,} rejected by risk, {len(result.failures):,} refused by the paper "
        f"broker (MIS after the cut-off), {len(result.fills):,} fills"
    )
    print(f"round trips         {summary.trades:,}, net P&L {summary.net_pnl:,.2f}")
    print(f"read file only      {read / read_s:,.0f} ticks/s")
    print(f"pipeline only       {pipeline:,.0f} ticks/s (time outside file parsing)")
    print(f"end to end          {end_to_end:,.0f} ticks/s ({total_s:.2f} s)")
    print(f"peak RSS            {rss:,.0f} MB")
    print(
        f"targets             >= {TARGET_TICKS_PER_S:,} ticks/s: pipeline "
        f"{'met' if pipeline >= TARGET_TICKS_PER_S else 'MISSED'}, end to end "
        f"{'met' if end_to_end >= TARGET_TICKS_PER_S else 'MISSED'}; "
        f"< {TARGET_RSS_MB} MB RSS: {'met' if rss < TARGET_RSS_MB else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

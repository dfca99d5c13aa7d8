"""Soak benchmark: the real engine for N minutes at a given tick rate; does memory stay flat?

    python benchmarks/soak.py [--minutes 10] [--rate 20000] [--warmup-seconds 60]
                              [--sample-seconds 30] [--database-url URL] [--queue-size N]
                              [--tracemalloc]

Runs `engine.runtime.Engine` as `launch --headless` does (simulated feed,
queued in-process bus, storage writer), on SQLite in a fresh temporary data
dir unless `--database-url` names another database (its existing rows are
left alone; figures count only what this run adds). Risk limits are opened
up (orders per minute, open positions, daily loss) so the run keeps filling
orders the whole time; everything else is the default configuration.

Prints, every `--sample-seconds`: RSS, ticks, fills published, bus backlog.
At the end: RSS growth after the warm-up, database bytes per fill (growth of
the database over the run / fills stored) and fills lost (fills published
minus fills stored; must be 0).
Targets: RSS growth < 5 MB over 10 minutes at 20,000 ticks/s after warm-up;
<= 1.5 KB of database per fill.

`--tracemalloc` also traces Python allocations and prints the biggest growth
by source line between the end of the warm-up and the end of the run (it
slows the engine several-fold; use it to find what grows, not for figures).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text

from engine.events import Namespace
from engine.runtime import Engine
from engine.settings import Settings, load_settings
from engine.storage.database import Database
from engine.storage.repository import fill_count
from engine.topics import TopicMap

RSS_TARGET_MB = 5.0
BYTES_PER_FILL_TARGET = 1536
NAMESPACE = Namespace.PAPER


def rss_mb() -> float:
    """Resident set size now (not the peak), from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def database_bytes(db: Database, settings: Settings) -> int:
    """Bytes the database occupies: the SQLite file and its WAL, or PostgreSQL's relations."""
    if db.dialect == "sqlite":
        base = settings.data_dir / "alpha_panda.db"
        database = db.url.split("///", 1)[-1]
        path = Path(database) if database else base
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    async with db.engine.connect() as conn:
        size = await conn.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
            )
        )
        return int(size.scalar_one())


@dataclass
class Sample:
    elapsed_s: float
    rss_mb: float
    ticks: int
    fills: int
    backlog: int


def soak_settings(data_dir: Path, rate: float, database_url: str, queue_size: int | None = None) -> Settings:
    return load_settings(
        data_dir=data_dir,
        config_dir=data_dir / "config",
        feed={"ticks_per_second": rate},
        database={"url": database_url},
        bus={"queue_size": queue_size} if queue_size else {},
        risk={
            "max_orders_per_minute": 1_000_000,
            "max_open_positions": 1_000,
            "max_daily_loss": 1e12,
            "max_daily_loss_per_strategy": 1e12,
        },
    )


def fills_published(engine: Engine) -> int:
    return engine.bus.stats.published.get(TopicMap(NAMESPACE).orders_filled, 0)


def print_sample(s: Sample) -> None:
    print(
        f"{s.elapsed_s:7.0f} s  RSS {s.rss_mb:7.1f} MB  ticks {s.ticks:>11,}  "
        f"fills {s.fills:>9,}  backlog {s.backlog:>6,}",
        flush=True,
    )


async def soak(args: argparse.Namespace, data_dir: Path) -> int:
    settings = soak_settings(data_dir, args.rate, args.database_url, args.queue_size)
    probe = Database(settings.database_url)
    await probe.connect()
    fills_before = await fill_count(probe, NAMESPACE)
    bytes_before = await database_bytes(probe, settings)
    await probe.close()

    engine = Engine(settings)
    await engine.start()
    started = time.monotonic()
    duration = args.minutes * 60
    samples: list[Sample] = []
    warm: Sample | None = None
    warm_snapshot: tracemalloc.Snapshot | None = None
    next_sample = 0.0

    stalled_since: float | None = None

    def sample() -> Sample:
        nonlocal stalled_since
        gc.collect()
        s = Sample(
            elapsed_s=time.monotonic() - started,
            rss_mb=rss_mb(),
            ticks=engine.feed.ticks_published,
            fills=fills_published(engine),
            backlog=engine.bus.backlog(),
        )
        if samples and s.fills == samples[-1].fills and s.ticks > samples[-1].ticks:
            if stalled_since is None:
                stalled_since = samples[-1].elapsed_s
            print(f"  no fill since {stalled_since:.0f} s while ticks flow: stalled", flush=True)
        samples.append(s)
        print_sample(s)
        return s

    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= duration:
                break
            if warm is None and elapsed >= args.warmup_seconds:
                warm = sample()
                print(f"  warm-up over: RSS {warm.rss_mb:.1f} MB is the baseline", flush=True)
                if args.tracemalloc:
                    warm_snapshot = tracemalloc.take_snapshot()
                next_sample = elapsed + args.sample_seconds
            elif elapsed >= next_sample:
                sample()
                next_sample = elapsed + args.sample_seconds
            await asyncio.sleep(min(1.0, max(0.0, duration - elapsed)))
        last = sample()
        end_snapshot = tracemalloc.take_snapshot() if args.tracemalloc else None
    finally:
        await engine.stop()

    probe = Database(settings.database_url)
    await probe.connect()
    stored = await fill_count(probe, NAMESPACE) - fills_before
    bytes_after = await database_bytes(probe, settings)
    await probe.close()
    published = fills_published(engine)
    lost = published - stored
    per_fill = (bytes_after - bytes_before) / stored if stored else float("nan")

    print()
    print(f"soak: {args.minutes:g} min at {args.rate:,.0f} ticks/s on {probe.safe_url}")
    achieved = last.ticks / max(last.elapsed_s, 1e-9)
    print(f"  ticks published       {last.ticks:,} ({achieved:,.0f}/s achieved)")
    print(f"  fills published       {published:,}")
    print(f"  fills stored          {stored:,}")
    print(f"  fills lost            {lost:,}   (target 0)")
    print(f"  database growth       {(bytes_after - bytes_before) / 1e6:,.1f} MB")
    print(f"  bytes per fill        {per_fill:,.0f}   (target <= {BYTES_PER_FILL_TARGET})")
    print(f"  max bus backlog       {max(s.backlog for s in samples):,}")
    if stalled_since is not None:
        print(f"  STALLED               no fill after {stalled_since:.0f} s while ticks kept flowing")
    ok = lost == 0 and stored > 0 and per_fill <= BYTES_PER_FILL_TARGET and stalled_since is None
    if warm is not None:
        growth = last.rss_mb - warm.rss_mb
        after_warm = [s for s in samples if s.elapsed_s >= warm.elapsed_s]
        print(
            f"  RSS after warm-up     {warm.rss_mb:.1f} -> {last.rss_mb:.1f} MB "
            f"(growth {growth:+.1f} MB over {(last.elapsed_s - warm.elapsed_s) / 60:.1f} min, "
            f"peak {max(s.rss_mb for s in after_warm):.1f}; target < {RSS_TARGET_MB:g} MB)"
        )
        half = [s for s in after_warm if s.elapsed_s >= (warm.elapsed_s + last.elapsed_s) / 2]
        if len(half) >= 2:
            minutes = (last.elapsed_s - half[0].elapsed_s) / 60
            print(
                f"  RSS, second half      {half[0].rss_mb:.1f} -> {last.rss_mb:.1f} MB "
                f"({last.rss_mb - half[0].rss_mb:+.1f} MB over {minutes:.1f} min: the trend once settled)"
            )
        ok = ok and growth < RSS_TARGET_MB
    else:
        print("  RSS growth            n/a (the run ended inside the warm-up)")
    if warm_snapshot is not None and end_snapshot is not None:
        print("\n  biggest Python allocation growth since the warm-up (tracemalloc):")
        for stat in end_snapshot.compare_to(warm_snapshot, "lineno")[: args.top]:
            print(f"    {stat}")
    print(f"  verdict               {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20_000.0, help="feed ticks per second")
    parser.add_argument("--warmup-seconds", type=float, default=60.0)
    parser.add_argument("--sample-seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default="", help="default: SQLite in a temporary data dir")
    parser.add_argument("--queue-size", type=int, default=0, help="bus queue size (default: the setting's)")
    parser.add_argument("--tracemalloc", action="store_true", help="find what grows (slow)")
    parser.add_argument("--top", type=int, default=15, help="tracemalloc lines to print")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.tracemalloc:
        tracemalloc.start(1)
    with tempfile.TemporaryDirectory(prefix="alpha-panda-soak-") as tmp:
        data_dir = Path(tmp)
        os.chmod(data_dir, 0o700)
        sys.exit(asyncio.run(soak(args, data_dir)))


if __name__ == "__main__":
    main()

"""Kite feed benchmark: the sandbox streaming full-mode ticks for 3,000 instruments into the Zerodha feed.

    python benchmarks/kite_feed.py [--instruments 3000] [--seconds 10] [--rates 1,10]

The Kite sandbox runs in a child process, so its CPU is not counted; it
streams every instrument at `rate` updates a second (1 = Kite's rate, 10 = ten
times that), in frames every 100 ms. This process runs the feed as the engine
does: our asyncio ticker (login through the sandbox's session endpoint with the
official client, full-mode subscription), the decoder, `ZerodhaFeed`
publishing onto the queued InProcessBus, and a StrategyRunner with one trivial
strategy on every instrument. Per rate it prints: ticks/s reaching the
strategy; the CPU share of this whole process (CPU time / wall time) over
`--seconds`; tick-to-strategy latency p50/p99 (from the start of the frame's
decoding to the strategy's `on_tick`, measured over a second window of
`--seconds`); the largest bus backlog seen; ticks conflated. It also prints
the sandbox's CPU share and how busy the whole machine was, since other jobs
on a shared machine stretch the latencies (not the CPU time).
Targets: <= 10% of a core at Kite's rate; p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from kite_login import BENCH_API_KEY, bench_settings, log_in, new_api_secret

from engine.bus import InProcessBus
from engine.events import MarketTick, Namespace, TradingSignal
from engine.instruments import InstrumentRegistry
from engine.market.kite_decoder import KiteFrameDecoder
from engine.state import MemoryStateStore
from engine.strategies.base import Strategy
from engine.strategies.runner import StrategyRunner
from engine.zerodha.feed import ZerodhaFeed
from engine.zerodha.session import SessionStore
from engine.zerodha.ticker import TickMode
from kite_sandbox.server import KiteSandbox, SandboxConfig

WARM_UP_S = 2.0
SAMPLE_BACKLOG_S = 0.05


# -- the sandbox, in a child process -------------------------------------------------------------------
def serve_sandbox(instruments: int, rate: float, api_secret: str, conn: Connection) -> None:
    """The sandbox until told "stop"; on "stats", what it sent so far and its own CPU time."""

    async def run() -> None:
        synthetic = max(0, instruments - len(InstrumentRegistry.sample()))
        config = SandboxConfig(
            api_key=BENCH_API_KEY,
            api_secret=api_secret,
            instruments=synthetic,
            updates_per_instrument_s=rate,
            rate_limits=False,
        )
        loop = asyncio.get_running_loop()
        async with KiteSandbox(config) as sandbox:
            tokens = sorted(inst.instrument_token for inst in sandbox.market.registry)[:instruments]
            conn.send((sandbox.root_url, sandbox.ws_url, sandbox.issue_request_token(), tokens))
            while await loop.run_in_executor(None, conn.recv) == "stats":
                conn.send((sandbox.stats.ticks_sent, sandbox.stats.frames_sent, time.process_time()))

    asyncio.run(run())


# -- the client: this process ------------------------------------------------------------------------
class StampingDecoder(KiteFrameDecoder):
    """Notes when each frame's decoding began, per tick, while `on`."""

    __slots__ = ("on", "started")

    def __init__(self) -> None:
        super().__init__()
        self.on = False
        self.started: dict[int, tuple[float, MarketTick]] = {}

    def decode(self, frame: bytes, received_ts: float) -> list[MarketTick]:
        if not self.on:
            return super().decode(frame, received_ts)
        began = time.perf_counter()
        ticks = super().decode(frame, received_ts)
        started = self.started
        for tick in ticks:
            started[id(tick)] = (began, tick)
        return ticks


class Timing(Strategy):
    """Counts ticks; while its decoder stamps, records each tick's latency."""

    kind = "timing"

    def setup(self) -> None:
        self.seen = 0
        self.latencies: list[float] = []
        self.decoders: list[StampingDecoder] = []

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.seen += 1
        for decoder in self.decoders:
            if decoder.on:
                stamp = decoder.started.pop(id(tick), None)
                if stamp is not None:
                    self.latencies.append(time.perf_counter() - stamp[0])
        return None


def machine_busy() -> tuple[int, int] | None:
    """(busy, total) CPU jiffies of the whole machine so far (Linux), to tell how shared it was."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


@dataclass
class Window:
    sent_rate: float = 0.0  # ticks/s the sandbox sent
    seen_rate: float = 0.0  # ticks/s the strategy saw
    client_cpu: float = 0.0  # share of one core, this process
    sandbox_cpu: float = 0.0  # share of one core, the sandbox's process
    machine_busy: float = float("nan")  # share of every core, every process
    max_backlog: int = 0


async def watch(parent: Connection, timing: Timing, bus: InProcessBus, seconds: float) -> Window:
    """One measurement window: rates, CPU shares and the largest bus backlog over `seconds`."""
    out = Window()
    parent.send("stats")
    sent, _, sandbox_cpu = await asyncio.to_thread(parent.recv)
    machine = machine_busy()
    seen, cpu, wall = timing.seen, time.process_time(), time.monotonic()
    until = wall + seconds
    while time.monotonic() < until:
        out.max_backlog = max(out.max_backlog, bus.backlog())
        await asyncio.sleep(SAMPLE_BACKLOG_S)
    elapsed = time.monotonic() - wall
    out.client_cpu = (time.process_time() - cpu) / elapsed
    out.seen_rate = (timing.seen - seen) / elapsed
    after = machine_busy()
    if machine is not None and after is not None and after[1] > machine[1]:
        out.machine_busy = (after[0] - machine[0]) / (after[1] - machine[1])
    parent.send("stats")
    sent_after, _, sandbox_cpu_after = await asyncio.to_thread(parent.recv)
    out.sent_rate = (sent_after - sent) / elapsed
    out.sandbox_cpu = (sandbox_cpu_after - sandbox_cpu) / elapsed
    return out


async def measure(instruments: int, rate: float, seconds: float, data_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    api_secret = new_api_secret()
    process = ctx.Process(target=serve_sandbox, args=(instruments, rate, api_secret, child), daemon=True)
    process.start()
    try:
        root_url, ws_url, request_token, tokens = await asyncio.to_thread(parent.recv)
        settings = bench_settings(root_url, ws_url, api_secret)
        session = await log_in(settings, request_token, SessionStore(data_dir / f"session-{rate:g}.json"))
        bus = InProcessBus()
        timing = Timing("timing", tuple(tokens), (Namespace.PAPER,), {})
        runner = StrategyRunner(bus, [timing], {"timing": True}, MemoryStateStore(), (Namespace.PAPER,))
        feed = ZerodhaFeed(bus, settings, session, dict.fromkeys(tokens, TickMode.FULL))
        decoders = [StampingDecoder() for _ in feed.ticker.connections]
        for connection, decoder in zip(feed.ticker.connections, decoders, strict=True):
            connection.decoder = decoder
        timing.decoders = decoders
        feed.wire()
        runner.wire()
        await bus.start()
        await runner.start()
        await feed.start()
        await asyncio.sleep(WARM_UP_S)
        if not feed.ticker.streaming:
            raise SystemExit(f"the feed is not streaming: {feed.detail}")
        cpu = await watch(parent, timing, bus, seconds)
        for decoder in decoders:
            decoder.on = True
        latency = await watch(parent, timing, bus, seconds)
        for decoder in decoders:
            decoder.on = False
            decoder.started.clear()
        conflated = sum(group.conflated for group in bus.stats.groups.values())
        garbage = sum(sum(d.garbage.values()) for d in decoders)
        await feed.stop()
        await bus.stop()
        parent.send("stop")
    finally:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
    latencies = sorted(timing.latencies)
    p50 = statistics.median(latencies) * 1e3 if latencies else float("nan")
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1e3 if latencies else float("nan")
    per_tick = cpu.client_cpu / cpu.seen_rate * 1e6 if cpu.seen_rate else float("nan")
    print(f"  {rate:g}x ({instruments * rate:,.0f} ticks/s wanted):")
    print(
        f"    sandbox sent {cpu.sent_rate:,.0f} ticks/s, the strategy saw {cpu.seen_rate:,.0f} ticks/s;"
        f" client CPU {100 * cpu.client_cpu:.1f}% of a core ({per_tick:.1f} us a tick);"
        f" sandbox CPU {100 * cpu.sandbox_cpu:.0f}%; machine busy {100 * cpu.machine_busy:.0f}% of all cores"
    )
    print(
        f"    tick-to-strategy p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(latencies):,} ticks"
        f" (machine busy {100 * latency.machine_busy:.0f}%);"
        f" max backlog {max(cpu.max_backlog, latency.max_backlog):,}; conflated {conflated:,};"
        f" garbage frames {garbage}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instruments", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="wall seconds per measurement window")
    parser.add_argument("--rates", default="1,10", help="updates per instrument per second, comma-separated")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    print(
        f"Kite feed: {args.instruments:,} instruments in full mode from the sandbox (child process),"
        f" {args.seconds:g} s windows; targets <= 10% of a core at 1x, p99 < 5 ms"
    )
    with tempfile.TemporaryDirectory(prefix="kite-feed-bench-") as tmp:
        for rate in rates:
            await measure(args.instruments, rate, args.seconds, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())

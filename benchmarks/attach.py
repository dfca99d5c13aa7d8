"""Attach benchmark: a headless engine at 20,000 ticks/s, with and without consoles attached to it.

    python benchmarks/attach.py                 # 3 rounds of 20 s windows at 20,000 ticks/s
    python benchmarks/attach.py --seconds 10 --rounds 2

The engine runs as `alpha-panda-tui launch --headless` in its own process and data dir
(the simulated feed, SQLite storage, risk limits raised so orders keep filling). Its
throughput is read from the control socket's `status` (ticks published by the feed,
ticks conflated by slow consumer groups, fills) and its CPU from the process. Each round:

  1. no console;
  2. one console attached: the real AlphaPandaApp, headless (App.run_test) in a second
     process, attached through the control socket (SocketBus); a key that switches the
     view (`]` / `[` in a compact terminal) is pressed every 150 ms, each timed from the
     press until the app has handled it and shows the new view; the console then quits.

In the last round the console, idle, is then frozen (SIGSTOP): the engine must not slow,
and it cuts the console off once it falls too far behind; thawed (SIGCONT), the console
re-attaches by itself. A last window without a console ends the run.

Reported per window: ticks/s, conflated ticks/s, fills/s, the engine's CPU (and per tick),
the console's CPU (its process, share of one core), the machine's load; keypress p50/p90/
p99/max over every round; when the frozen console was cut off. Engine loss compares the
medians of ticks/s with and without a console (fills/s drift as the session's positions
build up: shown, not judged); the engine's CPU a tick shows what serving a console costs it
whatever the scheduler does. Targets: engine loss < 5%; keypress p99 < 100 ms.
On a machine busy with other work (load above its cores) the figures are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WARMUP_S = 5.0  # the engine's start-up and the first seconds of the session
START_TIMEOUT_S = 60.0
CONSOLE_READY_TIMEOUT_S = 30.0
REATTACH_TIMEOUT_S = 20.0
KEY_INTERVAL_S = 0.15
KEY_TIMEOUT_S = 5.0  # a key with no visible effect by then counts as lost
CONSOLE_SIZE = (100, 30)  # compact: one view at a time, `]` and `[` switch views
VIEW_KEYS = ("]", "[")
TARGET_LOSS = 0.05
ALONE, ATTACHED, FROZEN = "no console", "console attached", "console frozen"
TARGET_KEY_P99_S = 0.100


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------
# the engine process and its figures
# ----------------------------------------------------------------------------
def engine_env(folder: Path, rate: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHA_PANDA_")}
    (folder / "config").mkdir(parents=True, exist_ok=True)
    env.update(
        PYTHONPATH=str(ROOT),
        ALPHA_PANDA_DATA_DIR=str(folder / "data"),
        ALPHA_PANDA_CONFIG_DIR=str(folder / "config"),
        ALPHA_PANDA_FEED__TICKS_PER_SECOND=f"{rate:g}",
        ALPHA_PANDA_RISK__MAX_ORDERS_PER_MINUTE="100000",
        ALPHA_PANDA_RISK__MAX_OPEN_POSITIONS="1000",
    )
    return env


def start_engine(folder: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    from alpha_panda_tui.control_client import EngineNotRunning, send

    socket_path = folder / "data" / "control.sock"
    log = (folder / "engine.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "alpha_panda_tui", "launch", "--headless"],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the engine exited with {process.returncode}; see {log.name}")
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the engine's control socket did not answer within {START_TIMEOUT_S:g} s")
        with contextlib.suppress(EngineNotRunning):
            if send(socket_path, {"op": "status"}).get("ok"):
                return process, socket_path
        time.sleep(0.2)


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    ticks: int
    conflated: int
    fills: int
    engine_cpu: float
    console_cpu: float | None


def cpu_seconds(process: psutil.Process | None) -> float | None:
    if process is None:
        return None
    times = process.cpu_times()
    return float(times.user + times.system)


def sample(socket_path: Path, engine: psutil.Process, console: psutil.Process | None) -> Sample:
    from alpha_panda_tui.control_client import status

    engine_cpu = cpu_seconds(engine)
    assert engine_cpu is not None
    console_cpu = cpu_seconds(console)
    now = status(socket_path)
    return Sample(time.perf_counter(), now.ticks, now.conflated_ticks, now.fills, engine_cpu, console_cpu)


@dataclass(frozen=True, slots=True)
class Window:
    name: str
    seconds: float
    ticks_s: float
    conflated_s: float
    fills_s: float
    engine_cpu: float  # share of one core
    console_cpu: float | None
    load: float  # the machine's 1-minute load average at the end (other processes compete for the cores)

    @property
    def engine_us_per_tick(self) -> float:
        """The engine's CPU for each tick it took in, all its work included (the scheduler's share aside)."""
        return self.engine_cpu / self.ticks_s * 1e6 if self.ticks_s else float("nan")

    @classmethod
    def between(cls, name: str, a: Sample, b: Sample) -> Window:
        wall = b.at - a.at
        console = None
        if a.console_cpu is not None and b.console_cpu is not None:
            console = (b.console_cpu - a.console_cpu) / wall
        return cls(
            name=name,
            seconds=wall,
            ticks_s=(b.ticks - a.ticks) / wall,
            conflated_s=(b.conflated - a.conflated) / wall,
            fills_s=(b.fills - a.fills) / wall,
            engine_cpu=(b.engine_cpu - a.engine_cpu) / wall,
            console_cpu=console,
            load=os.getloadavg()[0],
        )


def measure(
    name: str,
    seconds: float,
    socket_path: Path,
    engine: psutil.Process,
    console: psutil.Process | None = None,
) -> Window:
    first = sample(socket_path, engine, console)
    time.sleep(seconds)
    return Window.between(name, first, sample(socket_path, engine, console))


# ----------------------------------------------------------------------------
# the console process: the real app, headless, attached through the control socket
# ----------------------------------------------------------------------------
async def until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


async def timed_view_key(pilot: Any, screen: Any, key: str) -> float | None:
    """Seconds from pressing `key` until the dashboard shows another view; None if it never did."""
    before = screen.view
    began = time.perf_counter()
    # pilot.press also waits for every widget to go idle: time the view change itself
    pressing = asyncio.create_task(pilot.press(key))
    changed = await until(lambda: screen.view != before, KEY_TIMEOUT_S, interval=0.001)
    took = time.perf_counter() - began
    await pressing
    return took if changed else None


async def console_child(socket_path: Path) -> dict[str, Any]:
    """Attach, say "ready" once the day snapshot is in, press keys while told to ("keys" ..
    "stop" on stdin); what it measured."""
    from alpha_panda_tui.attach_cli import attached_app, console_instruments
    from alpha_panda_tui.attach_link import SocketBus
    from alpha_panda_tui.screens.dashboard import DashboardScreen
    from engine.settings import load_settings

    bus = SocketBus(socket_path, client=f"benchmark pid {os.getpid()}")
    states: list[str] = []
    latencies: list[float] = []
    unchanged = 0
    loop = asyncio.get_running_loop()

    async def read_line() -> str:
        line: str = await loop.run_in_executor(None, sys.stdin.readline)
        return line.strip()

    async def watch_link() -> None:
        while True:
            state = str(bus.link.state)
            if not states or states[-1] != state:
                states.append(state)
            await asyncio.sleep(0.05)

    await bus.start()
    if not await bus.wait_attached(CONSOLE_READY_TIMEOUT_S):
        await bus.stop()
        print(f"not attached: {bus.link.detail}", flush=True)
        return {}
    hello = bus.link.hello
    assert hello is not None
    settings = load_settings()
    app = attached_app(
        bus, hello, settings=settings, instruments=console_instruments(settings), animate=False
    )
    watcher = asyncio.create_task(watch_link())
    try:
        async with app.run_test(size=CONSOLE_SIZE) as pilot:
            ready = await until(lambda: bool(app.state.trading_day), CONSOLE_READY_TIMEOUT_S)
            print("ready" if ready else "no snapshot", flush=True)
            if await read_line() == "keys":
                told = asyncio.create_task(read_line())
                n = 0
                while not told.done():
                    screen = app.screen
                    assert isinstance(screen, DashboardScreen)
                    took = await timed_view_key(pilot, screen, VIEW_KEYS[n % 2])
                    if took is None:
                        unchanged += 1
                    else:
                        latencies.append(took)
                    n += 1
                    await asyncio.sleep(KEY_INTERVAL_S)
                if told.result() == "idle":  # about to be frozen: no key pending meanwhile
                    print("idle", flush=True)
                    await read_line()  # "report", once thawed
                    # cut off while frozen, it re-attaches on its own
                    await until(lambda: bus.link.attaches >= 2, REATTACH_TIMEOUT_S)
            ticks_seen = app.state.ticks.seen
    finally:
        watcher.cancel()
        await bus.stop()
    return {
        "latencies": latencies,
        "unchanged": unchanged,
        "link_states": states,
        "attaches": bus.link.attaches,
        "detail": bus.link.detail,
        "ticks_seen": ticks_seen,
    }


class Console:
    """The console process, driven through its stdin."""

    def __init__(self, folder: Path, env: dict[str, str], socket_path: Path) -> None:
        self.out = folder / "console.json"
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--console", str(socket_path), "--out", str(self.out)],
            env=env,
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(folder / "console.err").open("wb"),
            text=True,
        )
        self.ps = psutil.Process(self.process.pid)

    def wait_ready(self) -> None:
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if line != "ready":
            stop_process(self.process)
            raise SystemExit(f"the console did not attach: {line or 'it exited'} (see console.err)")

    def tell(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def idle(self) -> None:
        """Stop pressing keys (and wait until it has), so that no key is pending while it is frozen."""
        self.tell("idle")
        assert self.process.stdout is not None
        self.process.stdout.readline()

    def freeze(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def results(self) -> dict[str, Any]:
        try:
            self.process.wait(timeout=REATTACH_TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
        if not self.out.exists():
            return {}
        loaded: dict[str, Any] = json.loads(self.out.read_text())
        return loaded


# ----------------------------------------------------------------------------
# the run and the table
# ----------------------------------------------------------------------------
def cut_off_logged(folder: Path) -> bool:
    """The engine's log says it cut a console off (control_stream: "console N (...) cut off: ...")."""
    log = folder / "engine.out"
    return log.exists() and " cut off: " in log.read_text(errors="replace")


def measure_frozen(
    seconds: float, freeze_max: float, socket_path: Path, engine: psutil.Process, folder: Path
) -> tuple[Window, float | None]:
    """The engine while a console is frozen: at least `seconds`, on until it cuts the console off."""
    first = sample(socket_path, engine, None)
    cut_off_after: float | None = None
    while True:
        time.sleep(0.25)
        elapsed = time.perf_counter() - first.at
        if cut_off_after is None and cut_off_logged(folder):
            cut_off_after = elapsed
        if (elapsed >= seconds and cut_off_after is not None) or elapsed >= freeze_max:
            break
    return Window.between(FROZEN, first, sample(socket_path, engine, None)), cut_off_after


def run(
    seconds: float, rate: float, rounds: int, freeze_max: float, folder: Path
) -> tuple[list[Window], dict[str, Any]]:
    env = engine_env(folder, rate)
    print(f"engine: launch --headless at {rate:,.0f} ticks/s (data dir {folder / 'data'}) ...", flush=True)
    process, socket_path = start_engine(folder, env)
    engine = psutil.Process(process.pid)
    windows: list[Window] = []
    console_results: dict[str, Any] = {"latencies": [], "unchanged": 0}
    try:
        time.sleep(WARMUP_S)
        if not _socket_bus_available():
            print("the console windows are skipped: alpha_panda_tui.attach_link.SocketBus is not here yet")
        for number in range(1, rounds + 1):
            print(f"round {number}/{rounds}: no console, {seconds:g} s ...", flush=True)
            windows.append(measure(ALONE, seconds, socket_path, engine))
            if not _socket_bus_available():
                continue
            last = number == rounds
            console = Console(folder, env, socket_path)
            try:
                console.wait_ready()
                console.tell("keys")
                print(
                    f"round {number}/{rounds}: a console attached, pressing keys, {seconds:g} s ...",
                    flush=True,
                )
                windows.append(measure(ATTACHED, seconds, socket_path, engine, console.ps))
                cut_off_after: float | None = None
                if last:
                    console.idle()
                    console.freeze()
                    print(
                        f"the console frozen (SIGSTOP), {seconds:g} s or until the engine "
                        f"cuts it off (at most {freeze_max:g} s) ...",
                        flush=True,
                    )
                    frozen, cut_off_after = measure_frozen(seconds, freeze_max, socket_path, engine, folder)
                    windows.append(frozen)
                    console.thaw()
                console.tell("report")
                results = console.results()
            finally:
                stop_process(console.process)
            console_results["latencies"] += results.get("latencies", [])
            console_results["unchanged"] += results.get("unchanged", 0)
            if last:
                console_results.update(
                    {k: v for k, v in results.items() if k not in ("latencies", "unchanged")},
                    cut_off_after_s=cut_off_after,
                )
        print(f"no console again, {seconds:g} s ...", flush=True)
        windows.append(measure(ALONE, seconds, socket_path, engine))
    finally:
        stop_process(process)
    return windows, console_results


def _socket_bus_available() -> bool:
    try:
        from alpha_panda_tui.attach_link import SocketBus  # noqa: F401
    except ImportError:
        return False
    return True


def report(windows: list[Window], console: dict[str, Any], rate: float) -> bool:
    """Print the table; True when every target is met."""
    print()
    heads = (
        ("ticks/s", 9),
        ("conflated/s", 12),
        ("fills/s", 8),
        ("engine CPU", 11),
        ("us/tick", 8),
        ("console CPU", 12),
        ("load", 6),
    )
    print(f"{'window':22} " + " ".join(f"{name:>{width}}" for name, width in heads))
    for w in windows:
        console_cpu = f"{w.console_cpu:.0%}" if w.console_cpu is not None else "-"
        print(
            f"{w.name:22} {w.ticks_s:9,.0f} {w.conflated_s:12,.0f} {w.fills_s:8,.1f} "
            f"{w.engine_cpu:11.0%} {w.engine_us_per_tick:8.1f} {console_cpu:>12} {w.load:6.1f}"
        )
    cores = os.cpu_count() or 1
    if max(w.load for w in windows) > cores:
        print(f"the load exceeded the {cores} cores: other processes competed, the figures are noisy")
    by_kind = {kind: [w for w in windows if w.name == kind] for kind in (ALONE, ATTACHED, FROZEN)}
    alone = by_kind[ALONE]
    base_ticks = statistics.median(w.ticks_s for w in alone)
    base_fills = statistics.median(w.fills_s for w in alone)
    base_cpu = statistics.median(w.engine_cpu for w in alone)
    base_us = statistics.median(w.engine_us_per_tick for w in alone)
    targets: dict[str, bool] = {}
    print()
    print(f"medians of each kind of window against the {len(alone)} without a console:")
    for kind in (ATTACHED, FROZEN):
        these = by_kind[kind]
        if not these:
            continue
        tick_loss = 1 - statistics.median(w.ticks_s for w in these) / base_ticks
        fill_loss = 1 - statistics.median(w.fills_s for w in these) / base_fills if base_fills else 0.0
        extra_cpu = statistics.median(w.engine_cpu for w in these) - base_cpu
        per_tick = statistics.median(w.engine_us_per_tick for w in these) / base_us - 1
        console_cpus = [w.console_cpu for w in these if w.console_cpu is not None]
        print(
            f"{kind:22} engine loses ticks {tick_loss:+.1%} (fills {fill_loss:+.1%}); "
            f"engine CPU {extra_cpu:+.0%} of a core ({per_tick:+.0%} a tick)"
            + (f"; console CPU {statistics.median(console_cpus):.0%} of a core" if console_cpus else "")
        )
        targets[f"engine loses < 5% of its ticks/s with a {kind}"] = tick_loss < TARGET_LOSS
    latencies: list[float] = console.get("latencies", [])
    if console:
        slowest = max(latencies, default=float("nan"))
        print(
            f"{'keypress (] / [)':22} p50 {_percentile(latencies, 50) * 1000:.1f} ms   "
            f"p90 {_percentile(latencies, 90) * 1000:.1f} ms   "
            f"p99 {_percentile(latencies, 99) * 1000:.1f} ms   max {slowest * 1000:.1f} ms"
            f"   (n={len(latencies)}, {console.get('unchanged', 0)} without effect)"
        )
        print(
            f"{'console link':22} {' -> '.join(console.get('link_states', []))}; "
            f"attached {console.get('attaches', 0)} times; last: {console.get('detail', '')}"
        )
        targets["keypress p99 < 100 ms"] = bool(latencies) and _percentile(latencies, 99) < TARGET_KEY_P99_S
        after = console.get("cut_off_after_s")
        print(
            f"{'frozen console':22} "
            + (f"cut off {after:.1f} s after it froze" if after is not None else "not cut off while frozen")
        )
        targets["the frozen console was cut off and re-attached"] = (
            after is not None and console.get("attaches", 0) >= 2
        )
    targets[f"feed sustained ({rate:,.0f} ticks/s within 5%)"] = base_ticks >= (1 - TARGET_LOSS) * rate
    print()
    for name, met in targets.items():
        print(f"{'MET   ' if met else 'MISSED'}  {name}")
    return all(targets.values())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each window (default 20)")
    parser.add_argument("--rate", type=float, default=20_000.0, help="simulated ticks/s (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="no-console / console window pairs (default 3)")
    parser.add_argument(
        "--freeze-max",
        type=float,
        default=120.0,
        help="longest the console stays frozen waiting to be cut off (default 120)",
    )
    parser.add_argument("--console", type=Path, help=argparse.SUPPRESS)  # the console process: its socket
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.console is not None:
        args.out.write_text(json.dumps(asyncio.run(console_child(args.console))))
        return 0
    with tempfile.TemporaryDirectory(prefix="attach-bench-") as tmp:
        windows, console = run(args.seconds, args.rate, args.rounds, args.freeze_max, Path(tmp))
    return 0 if report(windows, console, args.rate) else 1


if __name__ == "__main__":
    raise SystemExit(main())

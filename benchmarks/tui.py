"""Console benchmark: the TUI on the embedded engine with the simulated feed at 20,000 ticks/s.

    python benchmarks/tui.py                 # 30 s at 20,000 ticks/s, 160x48
    python benchmarks/tui.py --seconds 10 --size 80x24

Two runs of the same length and rate:
  1. the engine alone (no console): its CPU time is the engine's share;
  2. the engine and the console in a real terminal (a pseudo-terminal this
     script reads, so every frame is rendered to ANSI and written, as over SSH),
     while this script types keys into it like a user.

Reported: the feed rate achieved and any tick backlog; the console's CPU
(run 2 minus run 1) as a share of one core, and directly measured time in its
state pulls and frame output; the refresh rate achieved; and keypress-to-screen
latency: from the moment the terminal driver hands the app a key to the moment
the frame that shows its effect is written to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import signal
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WARMUP_S = 2.0
KEY_INTERVAL_S = 0.15
# (name, the two keys pressed in turn, Textual's names for them)
CURSOR_KEYS = ("cursor", (b"j", b"k"), ("j", "k"))  # the strategies pane's cursor down and up
FOCUS_KEYS = ("focus", (b"\t", b"\x1b[Z"), ("tab", "shift+tab"))  # to the next pane and back
VIEW_KEYS = ("view", (b"]", b"["), ("right_square_bracket", "left_square_bracket"))  # small terminals
KEY_KINDS = {name: kind for kind, _, names in (CURSOR_KEYS, FOCUS_KEYS, VIEW_KEYS) for name in names}


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _settings(rate: float, data_dir: Path) -> Any:
    from engine.settings import load_settings

    return load_settings(data_dir=data_dir, feed={"ticks_per_second": rate})


def _feed_report(engine: Any, seconds: float) -> dict[str, Any]:
    stats = engine.bus.stats
    return {
        "ticks": engine.feed.ticks_published,
        "feed_rate": engine.feed.ticks_published / seconds,
        "backlog_end": engine.bus.backlog(),
        "conflated": {g: s.conflated for g, s in stats.groups.items() if s.conflated},
        "dead_letters": stats.dead_lettered,
    }


# ----------------------------------------------------------------------------
# run 1: the engine alone
# ----------------------------------------------------------------------------
async def engine_alone(seconds: float, rate: float, data_dir: Path) -> dict[str, Any]:
    from engine.runtime import Engine

    engine = Engine(_settings(rate, data_dir), persist=False)
    await engine.start()
    try:
        await asyncio.sleep(WARMUP_S)
        cpu0, wall0, ticks0 = time.process_time(), time.perf_counter(), engine.feed.ticks_published
        await asyncio.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        report = _feed_report(engine, wall)
        report["ticks"] = engine.feed.ticks_published - ticks0
        report["feed_rate"] = report["ticks"] / wall
    finally:
        await engine.stop()
    report.update(cpu_s=cpu, wall_s=wall)
    return report


# ----------------------------------------------------------------------------
# run 2 (in a child process on a pseudo-terminal): the engine and the console
# ----------------------------------------------------------------------------
class FrameClock:
    """Wraps the app's frame output: counts frames, times them, and closes pending key measurements.

    Screen updates are timed where Textual makes them (layout, compositing, and the
    ANSI written to the terminal); widgets' `render_line` calls run inside them.
    """

    def __init__(self, app: Any) -> None:
        from textual.screen import Screen

        self.app = app
        self.frames = 0
        self.display_s = 0.0
        for name in ("_refresh_layout", "_compositor_refresh"):
            setattr(Screen, name, self._timed(getattr(Screen, name)))
        self.pending: list[tuple[str, float, Any]] = []  # key, when the driver handed it over, state before
        self.latencies: dict[str, list[float]] = {"cursor": [], "focus": [], "view": []}
        self._last_key: Any = None
        self._display = app._display
        self._post = app.post_message
        app._display = self.display
        app.post_message = self.post_message

    def observed(self) -> tuple[Any, int, str]:
        from widgets.strategy_list import StrategyList

        screen = self.app.screen
        return self.app.focused, screen.query_one(StrategyList).cursor, getattr(screen, "view", "")

    def post_message(self, message: Any) -> bool:
        from textual import events

        # the driver's thread hands a key over; the app posts the same message again on its own loop
        if isinstance(message, events.Key) and message.key in KEY_KINDS and message is not self._last_key:
            self._last_key = message
            self.pending.append((KEY_KINDS[message.key], time.perf_counter(), self.observed()))
        return bool(self._post(message))

    def _timed(self, method: Any) -> Any:
        def timed(screen: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(screen, *args, **kwargs)
            finally:
                self.display_s += time.perf_counter() - started

        return timed

    def display(self, screen: Any, renderable: Any) -> None:
        self._display(screen, renderable)
        done = time.perf_counter()
        if renderable is None:
            return
        self.frames += 1
        if self.pending:
            now = self.observed()
            still: list[tuple[str, float, Any]] = []
            for kind, posted, before in self.pending:
                if now != before:
                    self.latencies[kind].append(done - posted)
                else:
                    still.append((kind, posted, before))
            self.pending = still


async def console_child(seconds: float, rate: float, data_dir: Path, out: Path) -> None:
    from alpha_panda_tui.app import make_app
    from alpha_panda_tui.screens.dashboard import PANE_VIEW, DashboardScreen
    from engine.runtime import Engine
    from widgets.strategy_list import StrategyList

    engine = Engine(_settings(rate, data_dir), persist=False)
    app = make_app(engine, debounce_s=0.0, freeze_gc=True)  # as `launch` builds it
    results: dict[str, Any] = {}

    async def measure() -> None:
        await asyncio.sleep(0.5)
        dashboard = app.screen
        if isinstance(dashboard, DashboardScreen) and dashboard.compact:
            dashboard.show_view(PANE_VIEW["strategies"])  # a small terminal shows one view at a time
            await asyncio.sleep(0.2)
        app.screen.query_one(StrategyList).focus()
        await asyncio.sleep(0.1)
        results["focus_ok"] = isinstance(app.focused, StrategyList)
        clock = FrameClock(app)
        await asyncio.sleep(WARMUP_S - 0.5)
        cpu0, wall0, ticks0 = time.process_time(), time.perf_counter(), engine.feed.ticks_published
        pulls0, pull_s0, frames0, display0 = app.pulls, app.pull_seconds, clock.frames, clock.display_s
        ui_ticks0 = app.state.ticks.seen
        await asyncio.sleep(seconds)
        wall = time.perf_counter() - wall0
        results.update(_feed_report(engine, wall))
        results.update(
            ticks=engine.feed.ticks_published - ticks0,
            feed_rate=(engine.feed.ticks_published - ticks0) / wall,
            cpu_s=time.process_time() - cpu0,
            wall_s=wall,
            pulls=app.pulls - pulls0,
            pull_s=app.pull_seconds - pull_s0,
            frames=clock.frames - frames0,
            display_s=clock.display_s - display0,
            ui_ticks=app.state.ticks.seen - ui_ticks0,
            ui_backlog_end=engine.bus.stats.groups["ui"].backlog,
            latencies=clock.latencies,
            unanswered_keys=len(clock.pending),
        )
        app.exit(0)

    await engine.start()
    measuring = asyncio.create_task(measure())
    try:
        await app.run_async()
    finally:
        measuring.cancel()
        await engine.stop()
    with out.open("w") as fh:
        json.dump(results, fh)


def run_console_in_pty(seconds: float, rate: float, size: tuple[int, int], data_dir: Path) -> dict[str, Any]:
    from alpha_panda_tui.screens.dashboard import COMPACT_BELOW_HEIGHT, COMPACT_BELOW_WIDTH

    compact = size[0] < COMPACT_BELOW_WIDTH or size[1] < COMPACT_BELOW_HEIGHT
    phases = (CURSOR_KEYS, FOCUS_KEYS, VIEW_KEYS) if compact else (CURSOR_KEYS, FOCUS_KEYS)
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    pid, master = pty.fork()
    if pid == 0:  # the child: the console, on the pseudo-terminal's slave side
        os.environ.update(TERM="xterm-256color", COLUMNS=str(size[0]), LINES=str(size[1]))
        os.environ.pop("NO_COLOR", None)
        try:
            asyncio.run(console_child(seconds, rate, data_dir, out))
        finally:
            os._exit(0)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    started = time.monotonic()
    keys_from = started + WARMUP_S + 0.5
    phase_s = (seconds - 0.5) / len(phases)
    next_key, sent, phase_sent = keys_from, 0, 0
    current = 0
    written = 0
    try:
        while True:
            now = time.monotonic()
            if keys_from <= now < keys_from + seconds - 0.5 and now >= next_key:
                phase = min(int((now - keys_from) / phase_s), len(phases) - 1)
                if phase != current:  # each phase starts with its first key, and ends where it began
                    current, phase_sent = phase, 0
                # a key that leaves the phase's start needs time for its return key
                room = phase_sent % 2 or now + KEY_INTERVAL_S < keys_from + (phase + 1) * phase_s
                if room:
                    os.write(master, phases[phase][1][phase_sent % 2])
                    sent += 1
                    phase_sent += 1
                next_key = now + KEY_INTERVAL_S
            ready, _, _ = select.select([master], [], [], 0.01)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:
                    break
                if not chunk:
                    break
                written += len(chunk)
            if now - started > seconds + 60:
                os.kill(pid, signal.SIGTERM)
                break
    finally:
        os.waitpid(pid, 0)
        os.close(master)
    results: dict[str, Any] = json.loads(out.read_text() or "{}")
    out.unlink()
    results["terminal_bytes"] = written
    results["keys_sent"] = sent
    return results


def report(alone: dict[str, Any], ui: dict[str, Any], rate: float) -> bool:
    """Print the figures; True if every target is met."""
    wall = ui["wall_s"]
    ui_cpu = ui["cpu_s"] - alone["cpu_s"] * (wall / alone["wall_s"])
    render = ui["pull_s"] + ui["display_s"]
    latencies: dict[str, list[float]] = ui["latencies"]
    lines = [
        (
            "feed",
            f"engine alone {alone['feed_rate']:,.0f} ticks/s   with console {ui['feed_rate']:,.0f} ticks/s",
        ),
        ("backlog", f"at the end: {ui['backlog_end']} events (console group {ui['ui_backlog_end']})"),
        (
            "conflated",
            f"engine alone {alone['conflated'] or 'none'}   with console {ui['conflated'] or 'none'}",
        ),
        ("console saw", f"{ui['ui_ticks']:,} of {ui['ticks']:,} ticks"),
        (
            "CPU",
            f"engine alone {alone['cpu_s'] / alone['wall_s']:.0%} of a core   "
            f"engine + console {ui['cpu_s'] / wall:.0%}   console share {ui_cpu / wall:.1%} of a core",
        ),
        (
            "console render",
            f"state pulls {ui['pull_s'] / wall:.1%} + screen updates {ui['display_s'] / wall:.1%} "
            f"= {render / wall:.1%} of a core (timed inside the app)",
        ),
        (
            "refresh",
            f"{ui['pulls'] / wall:.1f} state pulls/s, {ui['frames'] / wall:.1f} frames/s written "
            f"({ui['terminal_bytes'] / wall / 1024:,.0f} KiB/s to the terminal)",
        ),
    ]
    described = {
        "cursor": "cursor key (j/k, strategies pane)",
        "focus": "focus key (tab/shift+tab)",
        "view": "view key (] / [, a new view)",
    }
    for kind, values in latencies.items():
        if not values:
            continue
        name = described[kind]
        lines.append(
            (
                "keypress",
                f"{name:34} p50 {_percentile(values, 50) * 1000:.1f} ms   "
                f"p99 {_percentile(values, 99) * 1000:.1f} ms   "
                f"max {max(values, default=float('nan')) * 1000:.1f} ms   (n={len(values)})",
            )
        )
    if not ui.get("focus_ok", False):
        lines.append(("", "the strategies pane did not take focus: the key figures are not valid"))
    if ui["unanswered_keys"]:
        lines.append(("", f"{ui['unanswered_keys']} key(s) had no visible effect before the run ended"))
    print()
    for name, text in lines:
        print(f"{name:15} {text}")
    everything = [v for values in latencies.values() for v in values]
    targets = {
        "feed sustained, no tick backlog": ui["feed_rate"] >= 0.95 * rate and ui["backlog_end"] < rate / 10,
        "keypress p99 < 100 ms": bool(everything) and _percentile(everything, 99) < 0.100,
        "console rendering < 30% of a core": ui_cpu / wall < 0.30,
    }
    print()
    for name, met in targets.items():
        print(f"{'MET   ' if met else 'MISSED'}  {name}")
    return all(targets.values())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each run (default 30)")
    parser.add_argument("--rate", type=float, default=20_000.0, help="simulated ticks/s (default 20000)")
    parser.add_argument("--size", default="160x48", help="terminal size WxH (default 160x48)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ALPHA_PANDA_CONFIG_DIR"] = str(Path(tmp) / "config")
        print(f"run 1: engine alone, {args.rate:,.0f} ticks/s for {args.seconds:.0f} s ...", flush=True)
        alone = asyncio.run(engine_alone(args.seconds, args.rate, Path(tmp) / "alone"))
        print(f"run 2: engine + console in a {width}x{height} terminal ...", flush=True)
        ui = run_console_in_pty(args.seconds, args.rate, (width, height), Path(tmp) / "console")
    if "cpu_s" not in ui:
        print("the console run produced no results", file=sys.stderr)
        return 1
    report(alone, ui, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

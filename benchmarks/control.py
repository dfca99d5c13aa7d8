"""Control round-trip benchmark: commands over the control socket to a running engine.

    python benchmarks/control.py                # 200 halt/resume pairs, then 200 status requests
    python benchmarks/control.py --rounds 1000

Starts a paced engine (the simulated feed at its configured rate, the queued
in-process bus, no database) with a risk manager in the paper and the zerodha
namespace, and its control server on a Unix socket in a temp dir. A client in
this process sends `halt`, `resume` and `status` one after another, each on its
own connection as the CLI does, and times each from connect to decoded reply.
A command's reply comes when the last service that must answer has answered,
so its round trip is the slowest service's time, not a fixed wait.

Figures: p50, p99 and max of each round trip, in milliseconds.
Target: a halt's p99 well under the command timeout (3 s); in practice a few ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from alpha_panda_tui.control_client import request
from engine.control import ControlServer
from engine.events import CommandAction, Namespace
from engine.runtime import Engine
from engine.settings import load_settings


class TwoBrokerEngine(Engine):
    def _build_services(self) -> None:
        self.active_namespaces = (Namespace.PAPER, Namespace.ZERODHA)
        super()._build_services()


def _figures(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    p50 = statistics.median(ms)
    return f"{name:8} n={len(ms):5}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  max {ms[-1]:7.2f} ms"


async def _timed(path: Path, payload: dict[str, object]) -> float:
    began = time.perf_counter()
    reply = await request(path, payload)
    took = time.perf_counter() - began
    if not reply.get("ok"):
        raise SystemExit(f"the engine refused {payload}: {reply}")
    return took


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ctlb-") as folder:
        path = Path(folder) / "control.sock"
        engine = TwoBrokerEngine(load_settings(), persist=False)
        server = ControlServer(engine.bus, path, engine.status)
        server.wire()
        await engine.start()
        await server.start()
        try:
            halts: list[float] = []
            resumes: list[float] = []
            statuses: list[float] = []
            for _ in range(rounds):
                halts.append(await _timed(path, {"op": "command", "action": CommandAction.HALT.value}))
                resumes.append(await _timed(path, {"op": "command", "action": CommandAction.RESUME.value}))
            for _ in range(rounds):
                statuses.append(await _timed(path, {"op": "status"}))
        finally:
            await server.stop()
            await engine.stop()
    print(f"control socket round trips, engine fed at {engine.settings.feed.ticks_per_second:g} ticks/s")
    for name, samples in (("halt", halts), ("resume", resumes), ("status", statuses)):
        print(_figures(name, samples))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=200, help="halt/resume pairs, and status requests")
    args = parser.parse_args()
    asyncio.run(main(args.rounds))

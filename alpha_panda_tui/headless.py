"""`launch --headless`: the engine with no UI — logs, a periodic status line, clean stop on signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from alpha_panda_tui.logging_config import configure_logging
from engine.control import ControlServer
from engine.events import EngineStatus
from engine.runtime import Engine
from engine.settings import Settings

log = logging.getLogger("alpha_panda_tui.headless")


def secrets_of(settings: Settings) -> list[str]:
    z = settings.zerodha
    return [s.get_secret_value() for s in (z.api_key, z.api_secret, z.access_token) if s is not None]


def status_line(status: EngineStatus, pnl: float) -> str:
    state = status.state.value.upper()
    if status.halted_reason:
        state += f" ({status.halted_reason})"
    paused = " feed paused" if status.feed_paused else ""
    return (
        f"{state}{paused} | {status.tick_rate:,.0f} ticks/s | ticks {status.ticks:,} | "
        f"signals {status.signals:,} | orders {status.orders:,} | fills {status.fills:,} | "
        f"rejected {status.rejections:,} | P&L {pnl:+,.2f} | market {status.market_status}"
    )


def total_pnl(engine: Engine) -> float:
    return sum(manager.totals().net_pnl for manager in engine.portfolios.values())


async def run_headless(settings: Settings, *, duration: float | None = None) -> int:
    settings.ensure_dirs()
    configure_logging(
        level=settings.log.level,
        fmt=settings.log.format,
        log_file=settings.log_dir / "engine.log",
        secrets=secrets_of(settings),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    engine = Engine(settings)
    control = ControlServer(engine.bus, settings.control_socket, engine.status)
    control.wire()
    try:
        try:
            await engine.start()
            await control.start()
        except Exception as exc:
            reason = engine.db.redact(str(exc)) if engine.db is not None else str(exc)
            log.error("cannot start the engine: %s (run `alpha-panda-tui doctor` for details)", reason)
            return 1
        log.info(
            "control socket %s (use `alpha-panda-tui status` from another terminal)", settings.control_socket
        )
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(engine.feed.finished.wait())]
        reporter = asyncio.create_task(_report(engine, settings.status_interval_s))
        _, pending = await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
        for task in (*pending, reporter):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if engine.feed.finished.is_set():
            log.info("feed finished")
        log.info("stopping: draining the pipeline and flushing storage")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await control.stop()
        await engine.stop()
    log.info("final: %s", status_line(engine.status(), total_pnl(engine)))
    return 0


async def _report(engine: Engine, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        log.info("%s", status_line(engine.status(), total_pnl(engine)))

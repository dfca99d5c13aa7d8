"""`launch --headless`: the engine with no UI — logs, a periodic status line, clean stop on signals."""

from __future__ import annotations

import asyncio
import logging

from alpha_panda_tui.host import EngineHost, HostError
from engine.events import EngineStatus
from engine.runtime import Engine
from engine.settings import Settings
from engine.tasks import cancel_and_wait

log = logging.getLogger("alpha_panda_tui.headless")


def status_line(status: EngineStatus, pnl: float) -> str:
    state = status.state.value.upper()
    if status.halted_reason:
        state += f" ({status.halted_reason})"
    paused = " feed paused" if status.feed_paused else ""
    if status.feed_detail:  # a live feed that is not streaming, and why
        paused += f" feed {status.feed_detail}"
    live = ""
    if status.live:
        live = "LIVE | "
    elif status.live_detail:  # launched live, yet nothing can reach Kite now
        live = f"LIVE OFF: {status.live_detail} | "
    kite = ""
    if status.live or status.live_detail:
        kite = f" | kite orders {status.live_open_orders} open, {status.live_orders_queued} queued"
    return (
        f"{live}{state}{paused} | {status.tick_rate:,.0f} ticks/s | ticks {status.ticks:,} | "
        f"signals {status.signals:,} | orders {status.orders:,} | fills {status.fills:,} | "
        f"rejected {status.rejections:,} | P&L {pnl:+,.2f} | market {status.market_status}{kite}"
    )


def total_pnl(engine: Engine) -> float:
    return sum(manager.totals().net_pnl for manager in engine.portfolios.values())


async def run_headless(settings: Settings, *, duration: float | None = None, live: bool = False) -> int:
    """Run until SIGINT/SIGTERM, the feed's end or `duration`; the exit code (see `exit_codes`)."""
    host = EngineHost(settings, log_file="engine.log", live=live)
    try:
        async with host:
            await host.start()
            log.info(
                "control socket %s (`alpha-panda-tui attach` or `status` from another terminal)",
                settings.control_socket,
            )
            await serve(host, duration)
    except HostError as exc:
        return exc.exit_code
    engine = host.engine
    log.info("final: %s", status_line(engine.status(), total_pnl(engine)))
    return host.exit_code


async def serve(host: EngineHost, duration: float | None = None) -> None:
    """Run the hosted engine with no UI until a stop is asked for, the feed ends or `duration` passes."""
    engine = host.engine
    waiters = [
        asyncio.create_task(host.stop_requested.wait()),
        asyncio.create_task(engine.feed.finished.wait()),
    ]
    reporter = asyncio.create_task(_report(engine, host.settings.status_interval_s))
    _, pending = await asyncio.wait(waiters, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
    await cancel_and_wait(*pending, reporter)
    if engine.feed.finished.is_set():
        log.info("feed finished")
    log.info("stopping: draining the pipeline and flushing storage")


async def _report(engine: Engine, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        log.info("%s", status_line(engine.status(), total_pnl(engine)))

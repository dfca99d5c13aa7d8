"""Records every tick on the bus to a CSV tick file, so a session can be replayed exactly."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import TextIO

from engine.bus.base import Bus
from engine.clock import Clock, WallClock
from engine.events import Event, MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST
from engine.market.tick_files import TickCsvWriter
from engine.service import Service
from engine.tasks import cancel_and_wait
from engine.topics import MARKET_TICKS

log = logging.getLogger(__name__)

RECORDER_GROUP = "recorder"
FLUSH_INTERVAL_S = 0.5
WRITE_BUFFER_BYTES = 1 << 20


def recording_name(session_ts: float, suffix: int = 0) -> str:
    """`ticks-YYYYMMDD-HHMMSS.csv` in session time (IST); a suffix tells same-second files apart."""
    stamp = datetime.fromtimestamp(session_ts, IST).strftime("%Y%m%d-%H%M%S")
    return f"ticks-{stamp}.csv" if suffix == 0 else f"ticks-{stamp}-{suffix}.csv"


class TickRecorder(Service):
    """Subscribes MARKET_TICKS (group "recorder") and appends every tick to a CSV file at `path`.

    Rows go into a large write buffer that reaches the disk when a background
    task flushes it (every ~0.5 s), when it fills, and on stop.
    """

    name = "recorder"

    def __init__(
        self,
        bus: Bus,
        directory: Path,
        instruments: InstrumentRegistry | None = None,
        *,
        clock: Clock | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        super().__init__(bus)
        self.directory = directory
        self.flush_interval_s = flush_interval_s
        self._session_ts = (clock or WallClock()).now()
        self.path = directory / recording_name(self._session_ts)  # final once the file is open
        self.ticks_recorded = 0
        self._instruments = instruments
        self._fh: TextIO | None = None
        self._writer: TickCsvWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def wire(self) -> None:
        self.bus.subscribe([MARKET_TICKS], RECORDER_GROUP, self._on_tick)

    async def start(self) -> None:
        self._open()
        if self._task is None:
            self._task = asyncio.create_task(self._flush_forever(), name="recorder-flush")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._closed = True  # a late tick must not start a second file
        fh, self._fh, self._writer = self._fh, None, None
        if fh is not None:
            fh.close()
            log.info("recorded %d ticks to %s", self.ticks_recorded, self.path)

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()

    async def _on_tick(self, event: Event) -> None:
        tick = event.payload
        if isinstance(tick, MarketTick) and not self._closed:
            (self._writer or self._open()).write(tick)
            self.ticks_recorded += 1

    def _open(self) -> TickCsvWriter:
        if self._writer is not None:
            return self._writer
        self.directory.mkdir(parents=True, exist_ok=True)
        suffix = 0
        while True:
            try:
                fh = self.path.open("x", newline="", encoding="utf-8", buffering=WRITE_BUFFER_BYTES)
                break
            except FileExistsError:
                suffix += 1
                self.path = self.directory / recording_name(self._session_ts, suffix)
        self._fh = fh
        self._writer = TickCsvWriter(fh, self._instruments)
        log.info("recording ticks to %s", self.path)
        return self._writer

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                self.flush()
            except OSError:
                log.exception("could not flush the tick recording %s", self.path)

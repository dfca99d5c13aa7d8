"""StorageWriter: every order, fill, risk decision, P&L snapshot and command, into the database.

The bus handler only appends to a buffer; a background task writes batches.
A database that is down or locked never stops the engine: the rows stay
buffered and are retried with backoff, one log line per failure streak, and
`stop()` keeps trying (up to `stop_timeout_s`) so a SIGTERM loses no fill.
Ticks are never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from itertools import islice

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from engine.bus.base import Bus
from engine.events import Event, Namespace
from engine.service import Service
from engine.storage.database import Database
from engine.storage.rows import RowBatch, write_batch
from engine.topics import CONTROL_COMMANDS, TopicMap

log = logging.getLogger(__name__)

GROUP = "storage"
MAX_ERROR_CHARS = 300


# what a row the database (or its driver) refuses looks like, as opposed to a database
# that is down or busy; checked along the whole cause chain, as drivers wrap each other
_BAD_DATA: tuple[type[BaseException], ...] = (
    IntegrityError,
    DataError,
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
    ValueError,  # includes asyncpg's client-side DataError
    TypeError,
    ArithmeticError,  # e.g. an int too large for SQLite
)


def _is_bad_data(exc: BaseException) -> bool:
    """An error that retrying the same rows cannot fix (a bad row, not a bad connection)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _BAD_DATA):
            return True
        orig = current.orig if isinstance(current, DBAPIError) else None
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False


class StorageWriter(Service):
    name = "storage"
    group = GROUP

    def __init__(
        self,
        bus: Bus,
        db: Database,
        namespaces: tuple[Namespace, ...],
        flush_interval_s: float = 0.2,
        max_batch: int = 500,
        *,
        max_backoff_s: float = 5.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(bus)
        self.db = db
        self.namespaces = namespaces
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_backoff_s = max_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self.written = 0  # events stored
        self.failures = 0  # failed write attempts
        self.rejected = 0  # events no database could store (bad data); logged and dropped
        self.consecutive_failures = 0
        self.failing_since: float | None = None  # monotonic start of the current failure streak
        self.last_error = ""
        self._buffer: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def topics(self) -> list[str]:
        topics: list[str] = []
        for ns in dict.fromkeys(self.namespaces):
            topics += TopicMap(ns).namespaced_topics()  # signals, risk decisions, orders, P&L
        topics.append(CONTROL_COMMANDS)
        return topics

    def wire(self) -> None:
        self.bus.subscribe(self.topics(), self.group, self._on_event)

    async def _on_event(self, event: Event) -> None:
        self._buffer.append(event)
        if len(self._buffer) >= self.max_batch:
            self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="storage-writer")

    async def stop(self) -> None:
        """Stop the background task, then write everything still buffered."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_timeout_s
        while not await self.flush():
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.error(
                    "storage stopped with %d events unwritten after %d failed attempts: %s",
                    self.pending,
                    self.consecutive_failures,
                    self.last_error,
                )
                return
            await asyncio.sleep(min(self._delay(), remaining))

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._delay())
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:  # a bug here must not silently end storage for the session
                log.exception("storage flush failed unexpectedly; retrying")

    def _delay(self) -> float:
        if not self.consecutive_failures:
            return self.flush_interval_s
        backoff = self.flush_interval_s * float(2 ** min(self.consecutive_failures, 16))
        return min(self.max_backoff_s, backoff)

    async def flush(self) -> bool:
        """Write everything buffered now; True when nothing is left pending. Never raises."""
        async with self._lock:
            while self._buffer:
                if not await self._write_head():
                    return False
            return True

    async def _write_head(self) -> bool:
        """Write the oldest batch; False (rows kept) when the database failed."""
        batch = RowBatch()
        count = 0
        for event in list(islice(self._buffer, self.max_batch)):
            try:
                batch.add(event)
            except Exception as exc:  # an event no table can hold: drop it, once
                self._buffer.remove(event)
                self._reject(event, exc)
            else:
                count += 1
        try:
            await write_batch(self.db, batch)
        except Exception as exc:
            if not _is_bad_data(exc):
                self._failed(exc)
                return False
            return await self._write_one_by_one(count)
        for _ in range(count):
            self._buffer.popleft()
        self.written += count
        self._succeeded()
        return True

    async def _write_one_by_one(self, count: int) -> bool:
        """A batch has a row the database refuses: store the others, drop (and log) that one."""
        for _ in range(count):
            event = self._buffer[0]
            batch = RowBatch()
            batch.add(event)
            try:
                await write_batch(self.db, batch)
            except Exception as exc:
                if not _is_bad_data(exc):
                    self._failed(exc)
                    return False
                self._reject(event, exc)
            else:
                self.written += 1
            self._buffer.popleft()
        self._succeeded()
        return True

    def _reject(self, event: Event, exc: BaseException) -> None:
        self.rejected += 1
        log.error(
            "storage dropped unstorable %s event %s: %s", event.type.value, event.id, self._describe(exc)
        )

    def _succeeded(self) -> None:
        if self.consecutive_failures:
            log.warning(
                "storage writes recovered after %d failed attempts; %d events pending",
                self.consecutive_failures,
                self.pending,
            )
        self.consecutive_failures = 0
        self.failing_since = None

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = self._describe(exc)
        if not self.consecutive_failures:
            self.failing_since = time.monotonic()
            log.error(
                "storage writes failing (%s); keeping %d events and retrying with backoff",
                self.last_error,
                self.pending,
            )
        self.consecutive_failures += 1

    def _describe(self, exc: BaseException) -> str:
        cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        text = f"{type(cause).__name__}: {cause}".splitlines()[0] if str(cause) else type(cause).__name__
        return self.db.redact(text)[:MAX_ERROR_CHARS]

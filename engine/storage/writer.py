"""StorageWriter: every order, fill, risk decision, P&L snapshot and command, into the database.

The bus handler only appends to a memory buffer; a background task writes
batches every flush interval (or as soon as a batch is full). A database that
is down or locked never stops the engine:

- attempts back off exponentially up to `max_backoff_s`; new events do not
  wake the writer early while it backs off, they wait for the next attempt;
- memory holds at most `max_buffer` events: beyond that, and every flush
  interval while the database fails, the buffer spills to the journal, an
  append-only file on local disk (fsync'ed), so a crash during an outage loses
  no more than a crash with a healthy database would;
- the journal is written to the database first, in order, when it answers
  again (and by `recover()` on the next start); it is truncated once all of it
  is committed. Writes are idempotent, so a record written twice changes nothing;
- `stop()` keeps trying up to `stop_timeout_s`, then leaves whatever is still
  unwritten in the journal and reports the count in `unwritten`.

Ticks are never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from engine.backoff import Backoff
from engine.bus.base import Bus
from engine.events import Event, MalformedEvent, Namespace
from engine.service import Service
from engine.storage.database import Database
from engine.storage.journal import FillJournal, Journal
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
        write_timeout_s: float = 10.0,
        max_buffer: int = 10_000,
        journal_path: Path | None = None,
        fill_journal_path: Path | None = None,
    ) -> None:
        super().__init__(bus)
        if fill_journal_path is not None and journal_path is None:
            raise ValueError("durable fills need the storage journal (journal_path)")
        self.db = db
        self.namespaces = namespaces
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.max_backoff_s = max_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self.write_timeout_s = write_timeout_s
        # without a journal (tests, benchmarks) memory is the only place to keep events
        self.max_buffer = max(max_buffer, max_batch)
        self.journal = Journal(journal_path) if journal_path is not None else None
        self.fill_journal = FillJournal(fill_journal_path) if fill_journal_path is not None else None
        self.written = 0  # events stored
        self.attempts = 0  # database write transactions tried
        self.failures = 0  # failed write attempts
        self.rejected = 0  # events no database could store (bad data); logged and dropped
        self.spilled = 0  # events moved from memory to the journal
        self.replayed = 0  # events written to the database from the journal
        self.consecutive_failures = 0
        self.failing_since: float | None = None  # monotonic start of the current failure streak
        self.last_error = ""
        self.journal_error = ""  # why the journal cannot be written; "" while it works
        self.unwritten = 0  # events stop() could not write (they are in the journal)
        self._buffer: deque[Event] = deque()
        self._inflight: list[Event] = []  # a batch taken from memory, being written
        self._inflight_spilled = False  # ... and also spilled to the journal meanwhile
        self._next_attempt = 0.0  # monotonic time of the next attempt while failing
        # twice the flush interval after the first failure, doubling after each next one
        self._backoff = Backoff(2 * flush_interval_s, factor=2.0, cap=max_backoff_s)
        self._retry_delay = flush_interval_s  # the wait before the next attempt
        self._journal_retry_at = 0.0
        self._deadline: float | None = None  # loop time by which stop() must be done
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def in_memory(self) -> int:
        """Events held only in memory (lost by a crash)."""
        inflight = 0 if self._inflight_spilled else len(self._inflight)
        return len(self._buffer) + inflight

    @property
    def journaled(self) -> int:
        """Events in the journal on disk, not yet in the database."""
        return self.journal.pending if self.journal is not None else 0

    @property
    def pending(self) -> int:
        """Events not yet in the database."""
        return self.in_memory + self.journaled

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
        held = len(self._buffer)
        if held >= self.max_buffer and self.journal is not None:
            self._spill()
        elif held >= self.max_batch and not self.consecutive_failures:
            self._wake.set()  # while backing off, the next attempt waits for its time

    # -- lifecycle ------------------------------------------------------------------------
    def open_journals(self) -> None:
        """Open the journals; fills a previous run made durable join the storage journal."""
        if self.journal is None or self.journal.is_open:
            return
        self.journal.open()
        if self.fill_journal is None:
            return
        fills = self.fill_journal.journal
        fills.open()
        if fills.pending:
            events, _ = fills.read(fills.pending)
            try:
                self.journal.append(events)
            except OSError as exc:  # they stay in fills.journal until the database has them
                self._journal_failed(exc)
                self.fill_journal.hold(events)
                self._buffer.extendleft(reversed(events))
            else:
                fills.clear()

    async def recover(self) -> int:
        """Write what a previous run left in the journal; call before anything reads the database.

        Returns the number of events found. What cannot be written now stays in the
        journal for the background task.
        """
        self._try_open_journals()
        found = self.journaled + len(self._buffer)
        if found:
            log.warning(
                "storage journal %s holds %d events a previous run could not write; writing them now",
                self.journal.path if self.journal is not None else "",
                found,
            )
            if await self.flush():
                log.info("storage journal written to the database: %d events", found)
            else:
                log.error(
                    "storage journal: %d events still unwritten (%s); retrying in the background",
                    self.journaled,
                    self.last_error,
                )
        return found

    async def start(self) -> None:
        self._try_open_journals()
        self._stopping = False
        self._deadline = None
        self.unwritten = 0
        self._task = asyncio.create_task(self._run(), name="storage-writer")

    async def stop(self) -> None:
        """Stop the background task, write what can be written in time, journal the rest."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self.stop_timeout_s
        while not await self.flush():
            remaining = self._deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(self._delay(), remaining))
        self.unwritten = self.pending
        if self.unwritten:
            self._journal_retry_at = 0.0
            kept = self._spill() if self.journal is not None else False
            if kept and self.journal is not None:
                log.error(
                    "storage stopped with %d events unwritten after %d failed attempts (%s); "
                    "they are kept in %s and will be written on the next start",
                    self.unwritten,
                    self.consecutive_failures,
                    self.last_error,
                    self.journal.path,
                )
            else:
                log.error(
                    "storage stopped with %d events unwritten after %d failed attempts (%s); "
                    "%d of them could not be saved to a journal and are lost%s",
                    self.unwritten,
                    self.consecutive_failures,
                    self.last_error,
                    self.in_memory,
                    f" ({self.journal_error})" if self.journal_error else "",
                )
        self._close_journals()

    def _try_open_journals(self) -> None:
        try:
            self.open_journals()
        except OSError as exc:  # memory only until the journal works; health says so
            self._journal_failed(exc)

    def _close_journals(self) -> None:
        if self.fill_journal is not None:
            self.fill_journal.journal.close()
        if self.journal is not None:
            self.journal.close()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            if self._stopping:
                return
            try:
                if self.consecutive_failures and time.monotonic() < self._next_attempt:
                    self._spill()  # backing off: keep the outage's events on disk meanwhile
                    continue
                if not await self.flush():
                    self._spill()
            except Exception:  # a bug here must not silently end storage for the session
                log.exception("storage flush failed unexpectedly; retrying")

    def _delay(self) -> float:
        return self._retry_delay if self.consecutive_failures else self.flush_interval_s

    # -- memory -> journal ----------------------------------------------------------------
    def _spill(self) -> bool:
        """Move every event held only in memory to the journal (fsync'ed); False if it failed.

        The journal then holds them after everything it held before, and before
        anything that arrives later, so replay keeps the order they arrived in.
        """
        if self.journal is None or not self.in_memory:
            return self.journal is not None
        if time.monotonic() < self._journal_retry_at:
            return False
        inflight = [] if self._inflight_spilled else self._inflight
        events = [*inflight, *self._buffer]
        try:
            self.open_journals()
            self.journal.append(events)
        except OSError as exc:
            self._journal_failed(exc)
            return False
        if self.journal_error:
            log.warning("storage journal %s works again", self.journal.path)
            self.journal_error = ""
        self._inflight_spilled = bool(self._inflight)
        self._buffer.clear()
        self.spilled += len(events)
        if self.fill_journal is not None:
            self.fill_journal.settled(e.id for e in events)
        return True

    def _journal_failed(self, exc: OSError) -> None:
        # retrying every event would rewrite a growing buffer each time: wait a while
        self._journal_retry_at = time.monotonic() + max(1.0, self.flush_interval_s)
        text = f"{type(exc).__name__}: {exc}"
        if not self.journal_error:
            log.error(
                "storage journal %s cannot be written (%s); %d events held in memory only",
                self.journal.path if self.journal is not None else "",
                text,
                self.in_memory,
            )
        self.journal_error = text[:MAX_ERROR_CHARS]

    # -- writing --------------------------------------------------------------------------
    async def flush(self) -> bool:
        """Write the journal, then memory, now; True when nothing is left pending. Never raises."""
        async with self._lock:
            while True:
                if self.journal is not None and self.journal.pending:
                    if not await self._write_from_journal():
                        return False
                elif self._buffer:
                    if not await self._write_from_memory():
                        return False
                else:
                    return True

    async def _write_from_journal(self) -> bool:
        assert self.journal is not None
        try:
            events, ends = self.journal.read(self.max_batch)
        except (OSError, MalformedEvent) as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            if error != self.journal_error:
                log.error("storage journal %s cannot be read: %s", self.journal.path, error)
            self.journal_error = error
            return False
        done = await self._write(events)
        if done:
            self.journal.consume(ends[done - 1], done)
            self.replayed += done
        return done == len(events)

    async def _write_from_memory(self) -> bool:
        count = min(self.max_batch, len(self._buffer))
        self._inflight = [self._buffer.popleft() for _ in range(count)]
        self._inflight_spilled = False
        done = 0
        try:
            done = await self._write(self._inflight)
        finally:
            if done < count and not self._inflight_spilled:
                self._buffer.extendleft(reversed(self._inflight[done:]))
            self._inflight = []
            self._inflight_spilled = False
        return done == count

    async def _write(self, events: Sequence[Event]) -> int:
        """Write events in one transaction; how many (from the front) are done with."""
        batch = RowBatch()
        stored = 0
        refused: list[tuple[Event, BaseException]] = []
        for event in events:
            try:
                batch.add(event)
            except Exception as exc:  # an event no table can hold: drop it
                refused.append((event, exc))
            else:
                stored += 1
        try:
            await self._commit(batch)
        except Exception as exc:
            if not _is_bad_data(exc):
                self._failed(exc)
                return 0
            return await self._write_one_by_one(events)
        for event, reason in refused:
            self._reject(event, reason)
        self.written += stored
        self._done_with(events)
        self._succeeded()
        return len(events)

    async def _write_one_by_one(self, events: Sequence[Event]) -> int:
        """A batch has a row the database refuses: store the others, drop (and log) that one."""
        for done, event in enumerate(events):
            batch = RowBatch()
            try:
                batch.add(event)
            except Exception as exc:
                self._reject(event, exc)
                continue
            try:
                await self._commit(batch)
            except Exception as exc:
                if not _is_bad_data(exc):
                    self._failed(exc)
                    self._done_with(events[:done])
                    return done
                self._reject(event, exc)
            else:
                self.written += 1
        self._done_with(events)
        self._succeeded()
        return len(events)

    async def _commit(self, batch: RowBatch) -> None:
        self.attempts += 1
        timeout = self.write_timeout_s
        if self._deadline is not None:
            timeout = max(0.05, min(timeout, self._deadline - asyncio.get_running_loop().time()))
        async with asyncio.timeout(timeout):
            await write_batch(self.db, batch)

    def _done_with(self, events: Sequence[Event]) -> None:
        if self.fill_journal is not None and events:
            self.fill_journal.settled(e.id for e in events)

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
        self._backoff.reset()

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
        self._retry_delay = self._backoff.next_delay()
        self._next_attempt = time.monotonic() + self._retry_delay

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError) and not str(exc):
            return f"TimeoutError: no answer from the database within {self.write_timeout_s:g} s"
        cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        text = f"{type(cause).__name__}: {cause}".splitlines()[0] if str(cause) else type(cause).__name__
        return self.db.redact(text)[:MAX_ERROR_CHARS]

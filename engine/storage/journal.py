"""An append-only file of events on local disk, for what the database cannot take yet.

Each record is `[u32 length][u32 crc32][msgspec event]` (big-endian). Appends
are fsync'ed before they count; a record torn by a crash (short, or failing
its checksum) ends the readable journal and is cut off when the file is next
opened. Records are read back in the order written, from a read offset that
only moves forward; once everything is read and stored elsewhere the file is
truncated to nothing. The file is created mode 0600: it holds trading history.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from engine.events import Event, MalformedEvent, decode_event, encode_event

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
MAX_RECORD_BYTES = 64 * 1024 * 1024


def encode_records(events: Iterable[Event]) -> bytes:
    parts: list[bytes] = []
    for event in events:
        body = encode_event(event)
        parts.append(_HEADER.pack(len(body), zlib.crc32(body)))
        parts.append(body)
    return b"".join(parts)


class Journal:
    """One journal file. Not thread-safe except `sync()`, which may run in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending = 0  # records appended and not yet consumed
        self.size = 0  # bytes of valid records in the file
        self._fd: int | None = None
        self._read_offset = 0

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        """Open (creating, mode 0600) and check the file; a torn tail from a crash is cut off."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            info = os.fstat(fd)
            regular = stat.S_ISREG(info.st_mode)
            if regular and stat.S_IMODE(info.st_mode) != 0o600:
                os.fchmod(fd, 0o600)
            valid, count = _scan(fd, info.st_size) if regular else (0, 0)
            if regular and valid < info.st_size:
                log.warning(
                    "journal %s: cut %d bytes of a torn record at its end (a crash mid-write)",
                    self.path,
                    info.st_size - valid,
                )
                os.ftruncate(fd, valid)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self.size, self.pending, self._read_offset = fd, valid, count, 0

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def append(self, events: Sequence[Event], *, sync: bool = True) -> None:
        """Append the events (all or none: a failed write is cut back off); raises OSError."""
        if not events:
            return
        fd = self._require_fd()
        data = encode_records(events)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            if sync:
                os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, self.size)
            except OSError:
                pass  # the next open() cuts the torn record off
            raise
        self.size += len(data)
        self.pending += len(events)

    def sync(self) -> None:
        os.fsync(self._require_fd())

    def read(self, max_events: int) -> tuple[list[Event], list[int]]:
        """Up to max_events unconsumed events, each with the offset just after its record."""
        fd = self._require_fd()
        events: list[Event] = []
        ends: list[int] = []
        offset = self._read_offset
        while len(events) < max_events and offset < self.size:
            length, _crc = _HEADER.unpack(os.pread(fd, _HEADER.size, offset))
            body = os.pread(fd, length, offset + _HEADER.size)
            offset += _HEADER.size + length
            events.append(decode_event(body))
            ends.append(offset)
        return events, ends

    def consume(self, end_offset: int, count: int) -> None:
        """The records up to end_offset are stored elsewhere; an emptied journal is truncated."""
        self._read_offset = end_offset
        self.pending = max(0, self.pending - count)
        if self._read_offset >= self.size:
            self.clear()

    def clear(self) -> None:
        os.ftruncate(self._require_fd(), 0)
        self.size = self.pending = self._read_offset = 0

    def rewrite(self, events: Sequence[Event]) -> None:
        """Replace the whole journal by these events (written to a new file, fsync'ed, renamed)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC, 0o600)
        data = encode_records(events)
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        self.size, self.pending, self._read_offset = len(data), len(events), 0

    def _require_fd(self) -> int:
        if self._fd is None:
            raise OSError(f"journal {self.path} is not open")
        return self._fd


def _scan(fd: int, size: int) -> tuple[int, int]:
    """(bytes of whole, checksummed, decodable records from the start, their count)."""
    offset = count = 0
    while offset + _HEADER.size <= size:
        length, crc = _HEADER.unpack(os.pread(fd, _HEADER.size, offset))
        end = offset + _HEADER.size + length
        if length > MAX_RECORD_BYTES or end > size:
            break
        body = os.pread(fd, length, offset + _HEADER.size)
        if zlib.crc32(body) != crc:
            break
        try:
            decode_event(body)
        except MalformedEvent:
            break
        offset, count = end, count + 1
    return offset, count


class FillJournal:
    """Fills made durable before they are published (`[storage] durable_fills`).

    Each fill is journaled with its order's OrderPlaced event, so a replay after a
    crash can always store the order a fill belongs to. An entry is settled once
    the storage writer has the fill in the database (or in its own journal); when
    none is left unsettled the file is truncated, and when it grows large it is
    rewritten with only the unsettled ones.
    """

    def __init__(self, path: Path, *, rewrite_bytes: int = 8 * 1024 * 1024) -> None:
        self.journal = Journal(path)
        self.rewrite_bytes = rewrite_bytes
        self.recorded = 0
        self.failures = 0
        self.last_error = ""
        self._unsettled: dict[str, tuple[Event, Event]] = {}
        self._syncing = 0  # fsyncs running in worker threads on the current file

    @property
    def unsettled(self) -> int:
        return len(self._unsettled)

    async def record(self, order: Event, fill: Event) -> None:
        """Append and fsync (in a worker thread); a disk that refuses is counted, never raised."""
        self._unsettled[fill.id] = (order, fill)
        try:
            self.journal.append((order, fill), sync=False)
            self._syncing += 1
            try:
                await asyncio.to_thread(self.journal.sync)
            finally:
                self._syncing -= 1
        except OSError as exc:
            if not self.failures:
                log.error("durable fills: journal %s failing (%s)", self.journal.path, exc)
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            return
        if self.failures:
            log.warning("durable fills: journal %s works again", self.journal.path)
        self.failures = 0
        self.last_error = ""
        self.recorded += 1

    def hold(self, events: Sequence[Event]) -> None:
        """Keep a previous run's records (order, fill pairs) until they are settled."""
        for order, fill in zip(events[::2], events[1::2], strict=False):
            self._unsettled[fill.id] = (order, fill)

    def settled(self, event_ids: Iterable[str]) -> None:
        if not self._unsettled and not self.journal.size:
            return
        for event_id in event_ids:
            self._unsettled.pop(event_id, None)
        if not self.journal.is_open:
            return
        try:
            if not self._unsettled:
                if self.journal.size:
                    self.journal.clear()
            elif self.journal.size > self.rewrite_bytes and not self._syncing:
                self.journal.rewrite([e for pair in self._unsettled.values() for e in pair])
        except OSError as exc:  # the file only grows; the next settle tries again
            self.last_error = f"{type(exc).__name__}: {exc}"

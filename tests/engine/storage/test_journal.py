from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.storage.journal import FillJournal, Journal, encode_records
from tests.engine.storage.events_factory import filled, placed, signal, validated
from tests.engine.storage.test_writer import lineage


def test_appended_events_read_back_in_order_and_a_consumed_journal_is_emptied(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j" / "storage.journal")
    journal.open()
    first, second = lineage("PO-1"), lineage("PO-2")
    journal.append(first)
    journal.append(second)
    assert journal.pending == 10

    events, ends = journal.read(7)
    assert [e.id for e in events] == [e.id for e in [*first, *second][:7]]
    journal.consume(ends[-1], len(events))
    assert journal.pending == 3
    rest, ends = journal.read(100)
    assert [e.id for e in rest] == [e.id for e in second[2:]]
    assert rest == second[2:]  # every field round-trips
    journal.consume(ends[-1], len(rest))
    assert (journal.pending, journal.size, journal.path.stat().st_size) == (0, 0, 0)
    journal.close()


def test_a_reopened_journal_holds_what_was_appended_before(tmp_path: Path) -> None:
    path = tmp_path / "storage.journal"
    written = lineage()
    journal = Journal(path)
    journal.open()
    journal.append(written)
    journal.close()
    again = Journal(path)
    again.open()
    events, _ = again.read(100)
    assert events == written
    assert again.pending == 5
    again.close()


def test_the_journal_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        fresh = Journal(tmp_path / "fresh.journal")
        fresh.open()
        fresh.append(lineage())
        fresh.close()
        loose = tmp_path / "loose.journal"
        loose.write_bytes(b"")
        loose.chmod(0o644)
        existing = Journal(loose)
        existing.open()
        existing.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "fresh.journal").stat().st_mode) == 0o600
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


@pytest.mark.parametrize("damage", ["short body", "short header", "bad checksum"])
def test_a_record_torn_by_a_crash_is_cut_off_and_the_rest_kept(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "storage.journal"
    whole = lineage()
    torn = encode_records(lineage("PO-2")[:1])
    if damage == "short body":
        torn = torn[:-3]
    elif damage == "short header":
        torn = torn[:5]
    else:
        torn = torn[:-1] + bytes([torn[-1] ^ 0xFF])
    path.write_bytes(encode_records(whole) + torn)

    journal = Journal(path)
    journal.open()
    assert journal.pending == 5
    assert path.stat().st_size == len(encode_records(whole))
    journal.append(lineage("PO-3"))  # appends after the cut stay readable
    events, _ = journal.read(100)
    assert len(events) == 10
    journal.close()


def test_a_full_disk_refuses_an_append_without_corrupting_the_journal(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    path = tmp_path / "storage.journal"
    path.symlink_to("/dev/full")
    journal = Journal(path)
    journal.open()
    with pytest.raises(OSError, match="No space left"):
        journal.append(lineage())
    assert (journal.pending, journal.size) == (0, 0)
    journal.close()


async def test_fill_journal_truncates_once_every_fill_is_settled_and_rewrites_when_large(
    tmp_path: Path,
) -> None:
    fills = FillJournal(tmp_path / "fills.journal", rewrite_bytes=2_000)
    fills.journal.open()
    order = placed(validated(signal()), "PO-1")
    fill_events = [filled(order, "PO-1", f"PO-1-T{n}", 1, 9 - n, 100.0 + n) for n in range(1, 10)]
    for fill in fill_events:
        await fills.record(order, fill)
    assert (fills.recorded, fills.unsettled, fills.failures) == (9, 9, 0)
    assert fills.journal.pending == 18  # each fill with its order
    size_before = fills.journal.size
    assert size_before > 2_000

    fills.settled(e.id for e in fill_events[:7])  # too big for two unsettled fills: rewritten
    assert fills.unsettled == 2
    assert fills.journal.size < size_before
    kept, _ = fills.journal.read(100)
    assert [e.id for e in kept] == [order.id, fill_events[7].id, order.id, fill_events[8].id]

    fills.settled([fill_events[7].id, fill_events[8].id])
    assert (fills.unsettled, fills.journal.size) == (0, 0)
    assert (tmp_path / "fills.journal").stat().st_size == 0
    fills.journal.close()

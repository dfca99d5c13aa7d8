from __future__ import annotations

import pytest

from engine.zerodha.order_ids import MAX_TAG_LENGTH, LiveOrderIds, is_valid_tag


def test_ids_are_valid_kite_tags_unique_within_and_across_runs() -> None:
    runs = [LiveOrderIds() for _ in range(3)]  # made in the same millisecond: still distinct runs
    ids = [run.next() for run in runs for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    assert all(is_valid_tag(i) and len(i) <= MAX_TAG_LENGTH and LiveOrderIds.owns(i) for i in ids)


def test_ids_of_a_later_run_never_repeat_an_earlier_runs() -> None:
    early, late = LiveOrderIds(run_ms=1_700_000_000_000), LiveOrderIds(run_ms=1_700_000_000_001)
    assert {early.next() for _ in range(100)}.isdisjoint({late.next() for _ in range(100)})


@pytest.mark.parametrize("tag", ["P-abc-1", "manual", "Z-1", "Z" + "1" * 20, ""])
def test_foreign_tags_are_not_ours(tag: str) -> None:
    assert not LiveOrderIds.owns(tag)

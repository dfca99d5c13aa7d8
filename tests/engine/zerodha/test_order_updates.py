from __future__ import annotations

from engine.zerodha.order_store import LiveState
from engine.zerodha.order_updates import KITE_STATES, checksum_ok, order_tag, state_of, update_checksum
from kite_sandbox.matching.order import FINAL, Status


def update(secret: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "order_id": "260202000000001",
        "order_timestamp": "2026-02-02 10:00:00",
        **fields,
    }
    row.setdefault("checksum", update_checksum(str(row["order_id"]), str(row["order_timestamp"]), secret))
    return row


def test_the_checksum_is_kites_for_our_secret_only() -> None:
    assert checksum_ok(update("s3cret"), "s3cret")
    assert not checksum_ok(update("other"), "s3cret")
    assert not checksum_ok(update("s3cret", order_timestamp="2026-02-02 10:00:01", checksum="x"), "s3cret")
    assert not checksum_ok(update("s3cret"), "")  # no secret: nothing can be believed
    assert not checksum_ok({"order_id": 1, "order_timestamp": None, "checksum": "x"}, "s3cret")


def test_every_sandbox_status_maps_and_only_kites_final_ones_are_final() -> None:
    for status in Status:
        assert status.value in KITE_STATES
        assert state_of(status.value).final == (status in FINAL)
    assert state_of("CANCEL PENDING") is LiveState.OPEN
    assert state_of("VALIDATION PENDING") is LiveState.PENDING
    assert state_of("SOMETHING NEW") is LiveState.PENDING  # unknown: never taken as finished


def test_our_id_is_the_tag_or_the_first_of_the_tags() -> None:
    assert order_tag({"tag": "Zabc1", "tags": ["Zabc1", "mktp"]}) == "Zabc1"
    assert order_tag({"tag": None, "tags": ["Zabc2"]}) == "Zabc2"
    assert order_tag({"tag": None, "tags": None}) == ""

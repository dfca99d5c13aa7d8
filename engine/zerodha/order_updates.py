"""Kite's order updates: checking their checksum, and every broker status as one of our states.

An update (on the ticker socket, as a postback) is the order row plus
`checksum` = sha256(order_id + order_timestamp + api_secret): one that does
not match was not sent by Kite for our app and is not believed. Kite's
statuses include interim ones (a request on its way to the exchange, a
modification or cancel pending); each maps to PENDING or OPEN, so an order is
never taken as finished before Kite says COMPLETE, CANCELLED or REJECTED.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from engine.zerodha.order_store import LiveState

log = logging.getLogger(__name__)

KITE_STATES: dict[str, LiveState] = {
    "PUT ORDER REQ RECEIVED": LiveState.PENDING,
    "VALIDATION PENDING": LiveState.PENDING,
    "OPEN PENDING": LiveState.PENDING,
    "AMO REQ RECEIVED": LiveState.OPEN,  # accepted, waits for the market to open
    "OPEN": LiveState.OPEN,
    "TRIGGER PENDING": LiveState.OPEN,
    "MODIFY VALIDATION PENDING": LiveState.OPEN,  # still working as it was while a change is checked
    "MODIFY PENDING": LiveState.OPEN,
    "MODIFIED": LiveState.OPEN,
    "CANCEL PENDING": LiveState.OPEN,  # working until the exchange confirms the cancel
    "COMPLETE": LiveState.COMPLETE,
    "CANCELLED": LiveState.CANCELLED,
    "CANCELLED AMO": LiveState.CANCELLED,
    "LAPSED": LiveState.CANCELLED,  # an order not filled by the day's end
    "REJECTED": LiveState.REJECTED,
}
_unknown_seen: set[str] = set()


def state_of(broker_status: str) -> LiveState:
    """Our state for a Kite status; an unknown status counts as pending (never as finished)."""
    state = KITE_STATES.get(broker_status.upper().strip())
    if state is not None:
        return state
    if broker_status not in _unknown_seen:
        _unknown_seen.add(broker_status)
        log.warning("Kite order status %r is not known: taken as pending until another update", broker_status)
    return LiveState.PENDING


def update_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256((order_id + order_timestamp + api_secret).encode()).hexdigest()


def checksum_ok(update: dict[str, Any], api_secret: str) -> bool:
    """True if the update's checksum is Kite's for our app's secret."""
    order_id, stamp, checksum = update.get("order_id"), update.get("order_timestamp"), update.get("checksum")
    if not (
        api_secret and isinstance(order_id, str) and isinstance(stamp, str) and isinstance(checksum, str)
    ):
        return False
    return hmac.compare_digest(update_checksum(order_id, stamp, api_secret), checksum)


def order_tag(row: dict[str, Any]) -> str:
    """Our order id from a Kite order row (its `tag`, or the first of `tags`); "" if it has none."""
    tag = row.get("tag")
    if isinstance(tag, str) and tag:
        return tag
    tags = row.get("tags")
    if isinstance(tags, list) and tags and isinstance(tags[0], str):
        return tags[0]
    return ""

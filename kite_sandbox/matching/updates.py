"""An order update as Kite pushes it (postback and ticker socket): the order row plus user_id,
app_id, unfilled_quantity and checksum = sha256(order_id + order_timestamp + api_secret)."""

from __future__ import annotations

import hashlib
from typing import Any

SANDBOX_APP_ID = 1


def update_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256((order_id + order_timestamp + api_secret).encode()).hexdigest()


def order_update(row: dict[str, Any], *, user_id: str, api_secret: str) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "unfilled_quantity": row["quantity"] - row["filled_quantity"],
        "app_id": SANDBOX_APP_ID,
        "checksum": update_checksum(row["order_id"], row["order_timestamp"], api_secret),
        **row,
    }

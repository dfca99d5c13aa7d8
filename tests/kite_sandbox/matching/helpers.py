"""Trading against a sandbox with the official kiteconnect client, on instruments whose book the test
pins (so every fill is known in advance)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from kiteconnect import KiteConnect

from engine.instruments import Instrument
from kite_sandbox.server import KiteSandbox

INFY = 408065  # close 1500.00: the circuit band is 1350.00-1650.00
SBIN = 779521  # close 850.00; 16 shares held in demat
WAIT_S = 5.0
NIFTY_FUT = Instrument(
    instrument_token=13238786,
    exchange_token=51714,
    tradingsymbol="NIFTY26DECFUT",
    name="NIFTY",
    last_price=26000.0,
    tick_size=0.1,
    lot_size=75,
    instrument_type="FUT",
    segment="NFO-FUT",
    exchange="NFO",
    expiry=date(2026, 12, 29),
)
# the market hardly steps by itself (a tick an instrument every ~17 minutes): the test pushes each tick
STILL = {"updates_per_instrument_s": 0.001}


async def call(kite: KiteConnect, name: str, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(getattr(kite, name), *args, **kwargs)


async def place(kite: KiteConnect, **fields: Any) -> str:
    order: dict[str, Any] = {
        "variety": "regular",
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "quantity": 1,
        "product": "MIS",
        "order_type": "LIMIT",
        **fields,
    }
    order_id: str = await call(kite, "place_order", **order)
    return order_id


def pin(
    sandbox: KiteSandbox,
    token: int = INFY,
    *,
    last: float,
    bids: list[tuple[float, int]] | None = None,
    asks: list[tuple[float, int]] | None = None,
) -> None:
    """Pin a book: by default 1,000 a level, five levels a tick (0.05) apart either side of `last`."""
    step = 0.05
    sandbox.market.set_book(
        token,
        last,
        bids if bids is not None else [(round(last - step * (i + 1), 2), 1000) for i in range(5)],
        asks if asks is not None else [(round(last + step * (i + 1), 2), 1000) for i in range(5)],
    )


async def eventually(check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """The first truthy value of `check()`, polled until `timeout` (then the assertion fails)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {check}")
        await asyncio.sleep(0.02)


def statuses(sandbox: KiteSandbox, order_id: str) -> list[str]:
    return [row["status"] for row in sandbox.desk.order_history(order_id)]


def order_row(sandbox: KiteSandbox, order_id: str) -> dict[str, Any]:
    return sandbox.desk.order_history(order_id)[-1]


async def next_tick(sandbox: KiteSandbox, token: int = INFY) -> None:
    """Wait until the market has ticked the instrument again."""
    tick = sandbox.market.latest[token]
    await eventually(lambda: sandbox.market.latest[token] is not tick)

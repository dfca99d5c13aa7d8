"""Order updates on the ticker socket, read by a real `websockets` client: one per status change and
one per fill, each with Kite's checksum, in the order they happened."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from kite_sandbox.server import KiteSandbox
from tests.kite_sandbox.matching.helpers import INFY, STILL, WAIT_S, call, pin, place
from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox


def ticker_url(sandbox: KiteSandbox, token: str) -> str:
    return f"{sandbox.ws_url}/?api_key={sandbox.config.api_key}&access_token={token}"


async def updates_until(ws: ClientConnection, final: str, order_id: str) -> list[dict[str, Any]]:
    """The order updates the socket brings, until `order_id` reaches the status `final`."""
    out: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(ws.recv(), WAIT_S)
        if not isinstance(message, str):
            continue  # ticks and heartbeats
        body = json.loads(message)
        if body["type"] != "order":
            continue
        out.append(body["data"])
        if body["data"]["order_id"] == order_id and body["data"]["status"] == final:
            return out


def checksum_ok(update: dict[str, Any], secret: str) -> bool:
    expected = hashlib.sha256((update["order_id"] + update["order_timestamp"] + secret).encode()).hexdigest()
    return bool(update["checksum"] == expected)


async def test_every_status_change_and_every_fill_comes_once_with_a_valid_checksum() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        async with websockets.connect(ticker_url(sandbox, kite.access_token)) as ws:
            pin(sandbox, last=1500.0, asks=[(1500.05, 400)])
            order_id = await place(kite, order_type="MARKET", quantity=1000, market_protection=2, tag="ws1")
            updates = await updates_until(ws, "COMPLETE", order_id)
        trades = await call(kite, "order_trades", order_id)
        history = await call(kite, "order_history", order_id)
    secret = sandbox.config.api_secret
    assert all(checksum_ok(update, secret) for update in updates)
    assert [u["status"] for u in updates] == [row["status"] for row in history]
    assert [u["status"] for u in updates] == [
        "PUT ORDER REQ RECEIVED",
        "VALIDATION PENDING",
        "OPEN PENDING",
        "OPEN",
        "OPEN",
        "OPEN",
        "COMPLETE",
    ]
    filled = [u["filled_quantity"] for u in updates]
    increments = [b - a for a, b in itertools.pairwise(filled) if b != a]
    assert increments == [t["quantity"] for t in trades] == [400, 400, 200]  # each fill once
    last = updates[-1]
    assert last["user_id"] == sandbox.config.user_id
    assert last["unfilled_quantity"] == 0
    assert last["tag"] == "ws1"
    assert updates[3]["unfilled_quantity"] == 1000
    assert isinstance(last["app_id"], int)


async def test_a_rejection_arrives_with_its_reason() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        async with websockets.connect(ticker_url(sandbox, kite.access_token)) as ws:
            pin(sandbox, last=1500.0)
            order_id = await place(kite, price=1700.0, quantity=1)
            updates = await updates_until(ws, "REJECTED", order_id)
    assert "upper circuit limit" in updates[-1]["status_message"]
    assert updates[-1]["unfilled_quantity"] == 1
    assert checksum_ok(updates[-1], sandbox.config.api_secret)


async def test_a_checksum_made_with_another_secret_does_not_match() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        async with websockets.connect(ticker_url(sandbox, kite.access_token)) as ws:
            pin(sandbox, last=1500.0)
            order_id = await place(kite, price=1400.0, quantity=1)
            updates = await updates_until(ws, "OPEN", order_id)
    assert not checksum_ok(updates[-1], "not-the-secret")
    assert checksum_ok(updates[-1], sandbox.config.api_secret)


async def test_every_socket_of_the_account_gets_the_updates() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        url = ticker_url(sandbox, kite.access_token)
        async with websockets.connect(url) as first, websockets.connect(url) as second:
            pin(sandbox, last=1500.0)
            order_id = await place(kite, price=1400.0, quantity=1)
            seen = [await updates_until(ws, "OPEN", order_id) for ws in (first, second)]
            await call(kite, "cancel_order", "regular", order_id)
            cancelled = await updates_until(second, "CANCELLED", order_id)
    assert seen[0] == seen[1]
    assert [u["status"] for u in cancelled] == ["CANCEL PENDING", "CANCELLED"]
    assert sandbox.stats.order_updates_sent >= 2 * 4 + 2


async def test_a_silenced_socket_misses_the_updates_and_the_order_book_has_the_fill() -> None:
    async with running_sandbox(**STILL) as sandbox:
        kite = await logged_in(sandbox)
        async with websockets.connect(ticker_url(sandbox, kite.access_token)) as ws:
            pin(sandbox, last=1500.0, asks=[(1500.10, 100)])
            order_id = await place(kite, price=1500.05, quantity=10)
            await updates_until(ws, "OPEN", order_id)
            sandbox.faults.go_silent()
            pin(sandbox, last=1500.0, asks=[(1500.05, 100)])
            await sandbox.push_tick(INFY)
            sent = sandbox.stats.order_updates_sent
            sandbox.faults.speak()
            other = await place(kite, price=1400.0, quantity=1)
            after = await updates_until(ws, "OPEN", other)
        orders = {o["order_id"]: o for o in await call(kite, "orders")}
    assert orders[order_id]["status"] == "COMPLETE"  # filled while the socket heard nothing
    assert {u["order_id"] for u in after} == {other}  # and nothing it missed is replayed
    assert sandbox.stats.order_updates_sent == sent + len(after)

"""The sandbox's control surface over HTTP: faults, stats and text messages, behind the api_secret."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
import websockets
from kiteconnect import exceptions as kite_errors

from kite_sandbox.admin import SECRET_HEADER
from kite_sandbox.server import KiteSandbox
from tests.kite_sandbox.matching.helpers import eventually
from tests.kite_sandbox.test_session import logged_in
from tests.kite_sandbox.test_ticker import WAIT_S, login, ticker_url
from tests.sandbox import running_sandbox


async def admin(
    sandbox: KiteSandbox, path: str, body: dict[str, Any] | None = None, *, secret: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {SECRET_HEADER: sandbox.config.api_secret if secret is None else secret}
    async with aiohttp.ClientSession() as http:
        if path == "stats":
            request = http.get(f"{sandbox.root_url}/sandbox/stats", headers=headers)
        else:
            request = http.post(f"{sandbox.root_url}/sandbox/{path}", json=body or {}, headers=headers)
        async with request as response:
            return response.status, await response.json()


async def test_the_control_surface_needs_the_api_secret() -> None:
    async with running_sandbox() as sandbox:
        for secret in ("", "wrong"):
            status, body = await admin(sandbox, "faults/expire_tokens", secret=secret)
            assert status == 403
            assert SECRET_HEADER in body["message"]
        kite = await logged_in(sandbox)
        assert (await asyncio.to_thread(kite.profile))["user_id"]  # nothing was expired


async def test_rest_faults_through_the_control_surface() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        assert (await admin(sandbox, "faults/fail_rest", {"status": 500, "count": 1}))[0] == 200
        with pytest.raises(kite_errors.GeneralException) as caught:
            await asyncio.to_thread(kite.holdings)
        assert caught.value.code == 500
        assert (await admin(sandbox, "faults/rate-limit", {"count": 1}))[0] == 200
        with pytest.raises(kite_errors.NetworkException):
            await asyncio.to_thread(kite.holdings)
        await asyncio.to_thread(kite.holdings)
        status, body = await admin(sandbox, "faults/fail_rest", {"status": 200})
        assert (status, body["error_type"]) == (400, "InputException")


async def test_queued_failures_can_be_cleared() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        await admin(sandbox, "faults/fail_rest", {"status": 503, "count": 5})
        await admin(sandbox, "faults/clear")
        assert (await asyncio.to_thread(kite.profile))["user_id"]


async def test_ticker_faults_and_messages_through_the_control_surface() -> None:
    async with running_sandbox() as sandbox:
        token = await login(sandbox)
        async with websockets.connect(ticker_url(sandbox, token)) as ws:
            await admin(sandbox, "message", {"type": "error", "data": "exchange feed delayed"})
            while isinstance(reply := await asyncio.wait_for(ws.recv(), WAIT_S), bytes):
                pass
            assert json.loads(reply) == {"type": "error", "data": "exchange feed delayed"}
            status, body = await admin(sandbox, "faults/drop_connections")
            assert (status, body["data"]) == (200, {"dropped": 1})
        status, stats = await admin(sandbox, "stats")
        assert status == 200
        assert stats["data"]["connections_opened"] == 1
        assert stats["data"]["text_messages_sent"] == 1
        await admin(sandbox, "faults/go_silent", {"seconds": 30})
        assert sandbox.hub.silent
        await admin(sandbox, "faults/speak")
        assert not sandbox.hub.silent


async def test_an_unknown_fault_lists_the_known_ones() -> None:
    async with running_sandbox() as sandbox:
        status, body = await admin(sandbox, "faults/earthquake")
        assert status == 404
        assert "expire_tokens" in body["message"]
        status, body = await admin(sandbox, "faults/go_silent", {"seconds": "soon"})
        assert (status, body["error_type"]) == (400, "InputException")


async def test_fail_after_accept_through_the_control_surface() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        status, _ = await admin(
            sandbox, "faults/fail-after-accept", {"count": 1, "how": "error", "status": 502}
        )
        assert status == 200
        with pytest.raises(kite_errors.NetworkException, match="after the order was accepted"):
            await asyncio.to_thread(
                kite.place_order,
                variety="regular",
                exchange="NSE",
                tradingsymbol="INFY",
                transaction_type="BUY",
                quantity=1,
                product="MIS",
                order_type="LIMIT",
                price=1450.0,
                tag="adm1",
            )
        assert [o["tag"] for o in await asyncio.to_thread(kite.orders)] == ["adm1"]
        status, body = await admin(sandbox, "faults/fail_after_accept", {"how": "never"})
        assert (status, body["error_type"]) == (400, "InputException")
        assert "how must be one of error, late, drop" in body["message"]


async def test_the_request_log_through_the_control_surface() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        await asyncio.to_thread(kite.orders)
        headers = {SECRET_HEADER: sandbox.config.api_secret}
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{sandbox.root_url}/sandbox/requests", headers=headers) as response,
        ):
            body = await response.json()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{sandbox.root_url}/sandbox/requests") as refused,
        ):
            assert refused.status == 403
    assert [entry["route"] for entry in body["data"]] == ["POST /session/token", "GET /orders"]
    assert body["data"][0]["form"]["request_token"] == "***"


async def test_a_book_pinned_through_the_control_surface_is_what_orders_fill_against() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        book = {
            "instrument": "NSE:INFY",
            "last_price": 1500.0,
            "bids": [[1499.9, 10]],
            "asks": [[1500.1, 10]],
        }
        assert (await admin(sandbox, "book", book))[0] == 200
        quote = (await asyncio.to_thread(kite.quote, ["NSE:INFY"]))["NSE:INFY"]
        assert quote["last_price"] == 1500.0
        assert (quote["depth"]["sell"][0]["price"], quote["depth"]["sell"][0]["quantity"]) == (1500.1, 10)
        status, body = await admin(sandbox, "book", {"instrument": "NSE:NOSUCH", "last_price": 1})
        assert (status, body["error_type"]) == (400, "InputException")
        pinned = sandbox.market.latest[408065].asks
        assert (await admin(sandbox, "book", {"instrument": "408065", "unpin": True}))[0] == 200
        await eventually(lambda: sandbox.market.latest[408065].asks != pinned)  # the book moves again

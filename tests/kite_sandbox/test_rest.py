"""The sandbox's REST endpoints through the official kiteconnect client: response shapes as Zerodha's
own mocks (../shared/data/kite-mocks), Kite's error envelope and the client's error mapping."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors

from tests.kite_sandbox.test_session import logged_in
from tests.sandbox import running_sandbox

MOCKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "kite-mocks"


def mock_data(name: str) -> Any:
    path = MOCKS / name
    if not path.is_file():
        pytest.skip(f"Zerodha's reference mocks are not at {MOCKS.resolve()} (../shared/data/kite-mocks)")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


async def call(kite: KiteConnect, name: str, *args: Any) -> Any:
    return await asyncio.to_thread(getattr(kite, name), *args)


async def raw_get(url: str, **headers: str) -> tuple[int, str, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.json()


@pytest.mark.parametrize(
    ("method", "mock", "key"),
    [("quote", "quote.json", "NSE:INFY"), ("ltp", "ltp.json", "NSE:INFY"), ("ohlc", "ohlc.json", "NSE:INFY")],
)
async def test_quotes_have_the_shape_of_zerodhas(method: str, mock: str, key: str) -> None:
    expected = mock_data(mock)
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        got = await call(kite, method, ["NSE:INFY", "NSE:NIFTY 50", "NSE:NOSUCH", "BSE:INFY"])
        by_token = await call(kite, method, ["408065"])
        latest = sandbox.market.latest
    assert set(got) == {"NSE:INFY", "NSE:NIFTY 50"}  # unknown instruments are left out, as Kite does
    assert shape(_dates_as_text(got[key])) == shape(expected[key])
    assert got["NSE:INFY"]["instrument_token"] == 408065
    assert by_token["408065"]["instrument_token"] == 408065
    assert got["NSE:NIFTY 50"]["instrument_token"] == 256265
    assert got["NSE:INFY"]["last_price"] > 0
    # prices are the simulated market's, not fixtures (the market moves on between calls)
    assert abs(got["NSE:INFY"]["last_price"] - latest[408065].last_price) < latest[408065].last_price * 0.05


def _dates_as_text(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: str(value) if key in ("timestamp", "last_trade_time") else value for key, value in row.items()
    }


async def test_a_quote_carries_the_market_depth_and_circuit_band() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        quote = (await call(kite, "quote", ["NSE:INFY"]))["NSE:INFY"]
    assert len(quote["depth"]["buy"]) == len(quote["depth"]["sell"]) == 5
    assert quote["depth"]["buy"][0]["price"] < quote["depth"]["sell"][0]["price"]
    assert quote["lower_circuit_limit"] < quote["ohlc"]["close"] < quote["upper_circuit_limit"]


async def test_a_quote_without_instruments_is_an_input_error() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        with pytest.raises(kite_errors.InputException) as caught:
            await call(kite, "quote", [])
        assert caught.value.code == 400


@pytest.mark.parametrize(
    ("method", "args", "mock"),
    [
        ("margins", (), "margins.json"),
        ("margins", ("equity",), "margins_equity.json"),
        ("holdings", (), "holdings.json"),
        ("profile", (), "profile.json"),
    ],
)
async def test_account_endpoints_have_the_shape_of_zerodhas(
    method: str, args: tuple[str, ...], mock: str
) -> None:
    expected = mock_data(mock)
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        got = await call(kite, method, *args)
    assert shape(got) == shape(expected)


async def test_a_fresh_sandbox_account_has_no_orders_trades_or_positions() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        assert await call(kite, "orders") == []
        assert await call(kite, "trades") == []
        assert await call(kite, "positions") == {"net": [], "day": []}
        with pytest.raises(kite_errors.InputException):
            await call(kite, "order_history", "151220000000000")


async def test_an_unknown_segment_is_an_input_error() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        with pytest.raises(kite_errors.InputException, match="segment"):
            await call(kite, "margins", "crypto")


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (500, kite_errors.GeneralException),
        (502, kite_errors.NetworkException),
        (503, kite_errors.NetworkException),
        (504, kite_errors.NetworkException),
        (429, kite_errors.NetworkException),
    ],
)
async def test_injected_failures_map_to_the_clients_exceptions(
    status: int, exception: type[Exception]
) -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        sandbox.faults.fail_rest(status, count=2)
        for _ in range(2):
            with pytest.raises(exception) as caught:
                await call(kite, "profile")
            assert caught.value.code == status  # type: ignore[attr-defined]
        assert (await call(kite, "profile"))["user_id"] == sandbox.config.user_id


async def test_rate_limit_fault_answers_429_then_recovers() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        sandbox.faults.rate_limit(count=1)
        with pytest.raises(kite_errors.NetworkException, match="Too many requests") as caught:
            await call(kite, "ltp", ["NSE:INFY"])
        assert caught.value.code == 429
        assert "NSE:INFY" in await call(kite, "ltp", ["NSE:INFY"])


async def test_kites_quote_limit_of_one_request_a_second_is_enforced() -> None:
    async with running_sandbox(rate_limits=True) as sandbox:
        kite = await logged_in(sandbox)
        await call(kite, "quote", ["NSE:INFY"])
        with pytest.raises(kite_errors.NetworkException) as caught:
            await call(kite, "quote", ["NSE:INFY"])  # the same second
        assert caught.value.code == 429
        assert (await call(kite, "profile"))["user_id"]  # other endpoints have their own budget


async def test_expired_tokens_are_a_403_token_exception_with_the_expiry_hook() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        expired: list[bool] = []
        kite.set_session_expiry_hook(lambda: expired.append(True))
        sandbox.faults.expire_tokens()
        with pytest.raises(kite_errors.TokenException) as caught:
            await call(kite, "positions")
        assert caught.value.code == 403
        assert expired == [True]


async def test_every_error_is_kites_envelope_with_a_content_type() -> None:
    async with running_sandbox() as sandbox:
        status, content_type, body = await raw_get(f"{sandbox.root_url}/no/such/route")
        assert status == 404
        assert content_type.startswith("application/json")
        assert body == {
            "status": "error",
            "message": "Route not found: /no/such/route",
            "data": None,
            "error_type": "GeneralException",
        }
        status, content_type, body = await raw_get(f"{sandbox.root_url}/user/profile")
        assert (status, body["error_type"]) == (403, "TokenException")
        assert content_type.startswith("application/json")


async def test_rest_calls_are_counted_by_route() -> None:
    async with running_sandbox() as sandbox:
        kite = await logged_in(sandbox)
        await call(kite, "quote", ["NSE:INFY"])
        await call(kite, "ltp", ["NSE:INFY"])
        await call(kite, "ltp", ["NSE:TCS"])
        await call(kite, "margins", "equity")
    calls = sandbox.stats.rest_calls
    assert calls["POST /session/token"] == 1
    assert calls["GET /quote"] == 1
    assert calls["GET /quote/ltp"] == 2
    assert calls["GET /user/margins/{segment}"] == 1

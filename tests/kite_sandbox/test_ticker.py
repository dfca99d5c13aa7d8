"""The sandbox's WebSocket ticker through a real `websockets` client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from engine.market.kite_decoder import (
    FULL_PACKET,
    INDEX_FULL_PACKET,
    INDEX_QUOTE_PACKET,
    LTP_PACKET,
    QUOTE_PACKET,
    KiteFrameDecoder,
)
from kite_sandbox.server import KiteSandbox
from kite_sandbox.ticker import MAX_CONNECTIONS_PER_API_KEY, MAX_INSTRUMENTS_PER_CONNECTION
from tests.sandbox import running_sandbox, sandbox_login

INFY = 408065
SBIN = 779521
NIFTY = 256265
WAIT_S = 5.0


async def login(sandbox: KiteSandbox) -> str:
    token: str = (await sandbox_login(sandbox))["access_token"]
    return token


def ticker_url(sandbox: KiteSandbox, token: str) -> str:
    return f"{sandbox.ws_url}/?api_key={sandbox.config.api_key}&access_token={token}"


@asynccontextmanager
async def connected(sandbox: KiteSandbox, token: str | None = None) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(ticker_url(sandbox, token or await login(sandbox))) as ws:
        yield ws


async def send(ws: ClientConnection, action: str, value: object) -> None:
    await ws.send(json.dumps({"a": action, "v": value}))


async def next_frame(ws: ClientConnection) -> bytes:
    """The next binary frame with ticks (heartbeats and text skipped)."""
    while True:
        message = await asyncio.wait_for(ws.recv(), WAIT_S)
        if isinstance(message, bytes) and len(message) > 1:
            return message


def packet_sizes(data: bytes) -> dict[int, int]:
    """token -> packet length, for every packet in a frame."""
    count = int.from_bytes(data[:2], "big")
    pos, out = 2, {}
    for _ in range(count):
        length = int.from_bytes(data[pos : pos + 2], "big")
        out[int.from_bytes(data[pos + 2 : pos + 6], "big")] = length
        pos += 2 + length
    return out


async def test_a_bad_token_is_refused_with_403_at_the_upgrade() -> None:
    async with running_sandbox() as sandbox:
        for query in ("api_key=sandbox-test-key&access_token=nope", "api_key=other&access_token=x", ""):
            with pytest.raises(InvalidStatus) as caught:
                async with websockets.connect(f"{sandbox.ws_url}/?{query}"):
                    pass
            assert caught.value.response.status_code == 403
            assert json.loads(caught.value.response.body)["error_type"] == "TokenException"
        assert sandbox.stats.upgrades_refused == 3
        assert sandbox.stats.connections_opened == 0


async def test_subscribed_instruments_stream_in_quote_mode_by_default() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", [INFY, NIFTY])
        seen: dict[int, int] = {}
        while set(seen) != {INFY, NIFTY}:
            seen.update(packet_sizes(await next_frame(ws)))
        assert seen == {INFY: QUOTE_PACKET, NIFTY: INDEX_QUOTE_PACKET}
        assert sandbox.stats.subscribe_messages == [(1, [INFY, NIFTY])]


@pytest.mark.parametrize(
    ("mode", "equity", "index"),
    [
        ("ltp", LTP_PACKET, LTP_PACKET),
        ("quote", QUOTE_PACKET, INDEX_QUOTE_PACKET),
        ("full", FULL_PACKET, INDEX_FULL_PACKET),
    ],
)
async def test_each_mode_sends_its_packets(mode: str, equity: int, index: int) -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", [INFY, NIFTY])
        await send(ws, "mode", [mode, [INFY, NIFTY]])
        decoder = KiteFrameDecoder()
        latest: dict[int, int] = {}
        # after the mode message every frame carries the new mode's packets only
        while latest != {INFY: equity, NIFTY: index}:
            data = await next_frame(ws)
            latest.update(packet_sizes(data))
            assert decoder.decode(data, 0.0)
        assert decoder.garbage == {}
        assert sandbox.stats.mode_messages == [(1, mode, [INFY, NIFTY])]


async def test_only_subscribed_instruments_arrive_and_unsubscribe_stops_them() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", [SBIN])
        for _ in range(5):
            assert set(packet_sizes(await next_frame(ws))) == {SBIN}
        await send(ws, "unsubscribe", [SBIN])
        # once a heartbeat says the socket is idle, nothing but heartbeats follows
        while await asyncio.wait_for(ws.recv(), WAIT_S) != b"\x00":
            pass
        for _ in range(3):
            assert await asyncio.wait_for(ws.recv(), WAIT_S) == b"\x00"
        assert sandbox.stats.unsubscribe_messages == [(1, [SBIN])]


async def test_an_idle_socket_gets_one_byte_heartbeats() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        for _ in range(2):
            assert await asyncio.wait_for(ws.recv(), WAIT_S) == b"\x00"
        assert sandbox.stats.heartbeats_sent >= 2


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "not JSON"),
        ('{"a": "subscribe", "v": "INFY"}', "list of tokens"),
        ('{"a": "mode", "v": ["fast", [408065]]}', "Invalid mode message"),
        ('{"a": "dance"}', "Unknown action"),
    ],
)
async def test_bad_messages_get_an_error_text_message(message: str, error: str) -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await ws.send(message)
        while isinstance(reply := await asyncio.wait_for(ws.recv(), WAIT_S), bytes):
            pass
        parsed = json.loads(reply)
        assert parsed["type"] == "error"
        assert error in parsed["data"]


async def test_more_than_3000_instruments_on_one_socket_is_an_error() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", list(range(1, MAX_INSTRUMENTS_PER_CONNECTION + 2)))
        while isinstance(reply := await asyncio.wait_for(ws.recv(), WAIT_S), bytes):
            pass
        assert "at most 3000" in json.loads(reply)["data"]


async def test_a_fourth_connection_is_refused() -> None:
    async with running_sandbox() as sandbox:
        token = await login(sandbox)
        sockets = [
            await websockets.connect(ticker_url(sandbox, token)) for _ in range(MAX_CONNECTIONS_PER_API_KEY)
        ]
        try:
            with pytest.raises(InvalidStatus) as caught:
                await websockets.connect(ticker_url(sandbox, token))
            assert caught.value.response.status_code == 429
        finally:
            for ws in sockets:
                await ws.close()


async def test_text_messages_reach_every_socket() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await sandbox.send_text("message", "markets open at 09:15")
        while isinstance(reply := await asyncio.wait_for(ws.recv(), WAIT_S), bytes):
            pass
        assert json.loads(reply) == {"type": "message", "data": "markets open at 09:15"}


async def test_dropped_connections_close_abnormally_and_a_reconnect_works() -> None:
    async with running_sandbox() as sandbox:
        token = await login(sandbox)
        async with connected(sandbox, token) as ws:
            await send(ws, "subscribe", [INFY])
            await next_frame(ws)
            assert sandbox.faults.drop_connections() == 1
            with pytest.raises(ConnectionClosed) as caught:
                while True:
                    await asyncio.wait_for(ws.recv(), WAIT_S)
            assert caught.value.rcvd is None  # no close frame: the connection was cut
        async with connected(sandbox, token) as again:
            await send(again, "subscribe", [INFY])
            assert set(packet_sizes(await next_frame(again))) == {INFY}
        assert sandbox.stats.connections_opened == 2


async def test_a_silent_socket_gets_nothing_until_the_silence_ends() -> None:
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", [INFY])
        await next_frame(ws)
        sandbox.faults.go_silent(None)
        await asyncio.sleep(0.1)  # frames already in flight
        while True:
            try:
                await asyncio.wait_for(ws.recv(), 0.5)  # several heartbeat intervals
            except TimeoutError:
                break
        sent = sandbox.stats.frames_sent, sandbox.stats.heartbeats_sent
        await asyncio.sleep(0.5)
        assert (sandbox.stats.frames_sent, sandbox.stats.heartbeats_sent) == sent
        sandbox.faults.speak()
        assert set(packet_sizes(await next_frame(ws))) == {INFY}


async def test_expired_tokens_close_sockets_and_refuse_upgrades() -> None:
    async with running_sandbox() as sandbox:
        token = await login(sandbox)
        async with connected(sandbox, token) as ws:
            await send(ws, "subscribe", [INFY])
            await next_frame(ws)
            sandbox.faults.expire_tokens()
            with pytest.raises(ConnectionClosed) as caught:
                while True:
                    await asyncio.wait_for(ws.recv(), WAIT_S)
            assert caught.value.rcvd is not None and caught.value.rcvd.reason == "token expired"
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(ticker_url(sandbox, token))
        assert refused.value.response.status_code == 403
        async with connected(sandbox) as fresh:  # a new login works again
            await send(fresh, "subscribe", [INFY])
            await next_frame(fresh)


async def test_live_frames_decode_identically_in_our_decoder_and_the_official_client() -> None:
    import kiteconnect

    official = kiteconnect.KiteTicker("k", "t")  # only its parser; its reactor is never started
    async with running_sandbox() as sandbox, connected(sandbox) as ws:
        await send(ws, "subscribe", [INFY, SBIN, NIFTY])
        await send(ws, "mode", ["full", [INFY, NIFTY]])
        decoder = KiteFrameDecoder()
        for _ in range(10):
            data = await next_frame(ws)
            ours = decoder.decode(data, 1.0)
            theirs = official._parse_binary(data)
            assert [t.instrument_token for t in ours] == [t["instrument_token"] for t in theirs]
            assert [t.last_price for t in ours] == [t["last_price"] for t in theirs]
            assert [t.volume for t in ours] == [t.get("volume_traded", 0) for t in theirs]
        assert decoder.garbage == {}


async def test_logging_out_closes_that_tokens_sockets() -> None:
    import kiteconnect

    async with running_sandbox() as sandbox:
        token = await login(sandbox)
        other = await login(sandbox)
        async with connected(sandbox, token) as ws, connected(sandbox, other) as still:
            kite = kiteconnect.KiteConnect(sandbox.config.api_key, access_token=token, root=sandbox.root_url)
            assert await asyncio.to_thread(kite.invalidate_access_token) is True
            with pytest.raises(ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), WAIT_S)
            assert await asyncio.wait_for(still.recv(), WAIT_S)  # another session's socket lives on

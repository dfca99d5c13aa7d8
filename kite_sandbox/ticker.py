"""The WebSocket ticker: 403 at the upgrade for a bad token, subscribe/unsubscribe/mode messages,
binary frames of each socket's subscribed instruments in their modes, 1-byte heartbeats when idle,
and `{"type": "message"|"error", "data": ...}` text messages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import WSMsgType, web

from engine.events import MarketTick
from kite_sandbox.auth import SandboxAuth
from kite_sandbox.errors import KiteError, error_response, token_error
from kite_sandbox.market import SandboxMarket
from kite_sandbox.packets import HEARTBEAT, Mode, frame, packet
from kite_sandbox.stats import SandboxStats

MAX_INSTRUMENTS_PER_CONNECTION = 3000
MAX_CONNECTIONS_PER_API_KEY = 3
PACKETS_PER_FRAME = 3000
DEFAULT_MODE = Mode.QUOTE
CLOSE_TIMEOUT_S = 2.0


class TickerConnection:
    """One client socket and what it subscribed to."""

    __slots__ = ("access_token", "last_sent", "modes", "number", "transport", "ws")

    def __init__(
        self, number: int, ws: web.WebSocketResponse, transport: asyncio.Transport | None, token: str
    ) -> None:
        self.number = number
        self.ws = ws
        self.transport = transport
        self.access_token = token
        self.modes: dict[int, Mode] = {}
        self.last_sent = time.monotonic()


class TickerHub:
    def __init__(
        self,
        auth: SandboxAuth,
        market: SandboxMarket,
        stats: SandboxStats,
        *,
        heartbeat_interval_s: float,
    ) -> None:
        self._auth = auth
        self._market = market
        self._stats = stats
        self._heartbeat_interval_s = heartbeat_interval_s
        self._connections: dict[int, TickerConnection] = {}
        self._silent_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connections(self) -> list[TickerConnection]:
        return list(self._connections.values())

    # -- faults ------------------------------------------------------------------------------------

    def go_silent(self, seconds: float | None) -> None:
        """Send nothing at all (not even heartbeats) for `seconds`, or until `speak()` when None."""
        self._silent_until = math.inf if seconds is None else time.monotonic() + max(0.0, seconds)

    def speak(self) -> None:
        self._silent_until = 0.0

    @property
    def silent(self) -> bool:
        return time.monotonic() < self._silent_until

    def drop_connections(self) -> int:
        """Cut every socket without a close frame, as a network failure would; how many were cut."""
        dropped = 0
        for conn in list(self._connections.values()):
            if conn.transport is not None:
                conn.transport.abort()
                dropped += 1
        return dropped

    def close_unauthorised(self, reason: str) -> None:
        """Close (with a close frame and `reason`) every socket whose token is no longer live."""
        for conn in list(self._connections.values()):
            if not self._auth.valid(self._auth.api_key, conn.access_token):
                self._spawn(self._close(conn, reason))

    # -- the socket --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        api_key = request.query.get("api_key", "")
        access_token = request.query.get("access_token", "")
        if not self._auth.valid(api_key, access_token):
            self._stats.upgrades_refused += 1
            return error_response(token_error())
        if len(self._connections) >= MAX_CONNECTIONS_PER_API_KEY:
            self._stats.upgrades_refused += 1
            return error_response(
                KiteError(429, f"Maximum of {MAX_CONNECTIONS_PER_API_KEY} connections per api_key reached.")
            )
        # Kite's ticker sends frames uncompressed; a client that never answers a close is let go soon
        ws = web.WebSocketResponse(autoping=True, compress=False, timeout=CLOSE_TIMEOUT_S)
        if not ws.can_prepare(request).ok:
            return error_response(KiteError(400, "Expected a WebSocket upgrade."))
        await ws.prepare(request)
        self._stats.connections_opened += 1
        number = self._stats.connections_opened
        transport = request.transport
        conn = TickerConnection(
            number, ws, transport if isinstance(transport, asyncio.Transport) else None, access_token
        )
        self._connections[number] = conn
        self._stats.connections_open = len(self._connections)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_text(conn, message.data)
        finally:
            self._connections.pop(number, None)
            self._stats.connections_open = len(self._connections)
        return ws

    async def _on_text(self, conn: TickerConnection, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            await self._send_text(conn, "error", "Invalid message: not JSON.")
            return
        if not isinstance(message, dict):
            await self._send_text(conn, "error", "Invalid message: expected an object.")
            return
        action = message.get("a")
        value = message.get("v")
        if action == "subscribe":
            tokens = _tokens(value)
            if tokens is None:
                await self._send_text(conn, "error", "Invalid subscribe message: v must be a list of tokens.")
                return
            self._stats.subscribe_messages.append((conn.number, tokens))
            added = [t for t in dict.fromkeys(tokens) if t not in conn.modes]
            if len(conn.modes) + len(added) > MAX_INSTRUMENTS_PER_CONNECTION:
                await self._send_text(
                    conn,
                    "error",
                    f"Subscription limit exceeded: at most {MAX_INSTRUMENTS_PER_CONNECTION} "
                    "instruments per connection.",
                )
                return
            for token in added:
                conn.modes[token] = DEFAULT_MODE
            await self._snapshot(conn, added)
        elif action == "unsubscribe":
            tokens = _tokens(value)
            if tokens is None:
                await self._send_text(
                    conn, "error", "Invalid unsubscribe message: v must be a list of tokens."
                )
                return
            self._stats.unsubscribe_messages.append((conn.number, tokens))
            for token in tokens:
                conn.modes.pop(token, None)
        elif action == "mode":
            parsed = _mode_value(value)
            if parsed is None:
                await self._send_text(
                    conn, "error", 'Invalid mode message: v must be ["ltp"|"quote"|"full", [tokens]].'
                )
                return
            mode, tokens = parsed
            self._stats.mode_messages.append((conn.number, mode.value, tokens))
            changed = [t for t in tokens if t in conn.modes]
            for token in changed:
                conn.modes[token] = mode
            await self._snapshot(conn, changed)
        else:
            await self._send_text(conn, "error", f"Unknown action {action!r}.")

    # -- pushing -----------------------------------------------------------------------------------

    async def broadcast(self, ticks: Sequence[MarketTick]) -> None:
        """Send each socket the ticks of its instruments, each in its mode; heartbeats to idle ones."""
        if self.silent or not self._connections:
            return
        encoded: dict[tuple[int, Mode], bytes] = {}
        for conn in list(self._connections.values()):
            modes = conn.modes
            if not modes:
                continue
            packets: list[bytes] = []
            for i, tick in enumerate(ticks):
                mode = modes.get(tick.instrument_token)
                if mode is None:
                    continue
                key = (i, mode)
                body = encoded.get(key)
                if body is None:
                    body = encoded[key] = packet(tick, mode)
                packets.append(body)
            if packets:
                await self._send_packets(conn, packets)

    async def heartbeat(self) -> None:
        if self.silent:
            return
        due = time.monotonic() - self._heartbeat_interval_s
        for conn in list(self._connections.values()):
            if conn.last_sent <= due and await self._send(conn, HEARTBEAT):
                self._stats.heartbeats_sent += 1

    async def send_order_update(self, update: dict[str, Any]) -> None:
        """An order update to every socket of the account (a silenced socket gets nothing)."""
        if self.silent:
            return
        for conn in list(self._connections.values()):
            if await self._send(conn, json.dumps({"type": "order", "data": update})):
                self._stats.text_messages_sent += 1
                self._stats.order_updates_sent += 1

    async def send_text_to_all(self, kind: str, data: Any) -> None:
        for conn in list(self._connections.values()):
            await self._send_text(conn, kind, data)

    async def close_all(self) -> None:
        closing = [self._close(conn, "sandbox stopping") for conn in self._connections.values()]
        await asyncio.gather(*closing)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _snapshot(self, conn: TickerConnection, tokens: list[int]) -> None:
        """Kite answers a (re)subscription or mode change at once with each instrument's latest tick."""
        if self.silent:
            return
        latest = self._market.latest
        packets = [packet(latest[t], conn.modes[t]) for t in tokens if t in latest]
        if packets:
            await self._send_packets(conn, packets)

    async def _send_packets(self, conn: TickerConnection, packets: list[bytes]) -> None:
        for start in range(0, len(packets), PACKETS_PER_FRAME):
            chunk = packets[start : start + PACKETS_PER_FRAME]
            if not await self._send(conn, frame(chunk)):
                return
            self._stats.frames_sent += 1
            self._stats.ticks_sent += len(chunk)

    async def _send_text(self, conn: TickerConnection, kind: str, data: Any) -> None:
        if await self._send(conn, json.dumps({"type": kind, "data": data})):
            self._stats.text_messages_sent += 1

    async def _send(self, conn: TickerConnection, data: bytes | str) -> bool:
        if conn.ws.closed:
            return False
        try:
            if isinstance(data, str):
                await conn.ws.send_str(data)
            else:
                await conn.ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            return False
        conn.last_sent = time.monotonic()
        return True

    async def _close(self, conn: TickerConnection, reason: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await conn.ws.close(code=1000, message=reason.encode())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _tokens(value: object) -> list[int] | None:
    if not isinstance(value, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return None
    return list(value)


def _mode_value(value: object) -> tuple[Mode, list[int]] | None:
    if not isinstance(value, list) or len(value) != 2 or value[0] not in tuple(Mode):
        return None
    tokens = _tokens(value[1])
    return None if tokens is None else (Mode(value[0]), tokens)

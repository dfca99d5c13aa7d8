"""Kite's WebSocket ticker on asyncio: binary frames in, `MarketTick` batches out.

The instruments are spread over at most 3 connections of at most 3,000 each
(Kite's limits). Each connection, every time it opens, sends one subscribe
message and one mode message per mode in use — never more, so a reconnect
never duplicates a subscription. Frames go through `KiteFrameDecoder` to the
`on_ticks` coroutine; text messages (errors, notices) go to the log, once per
distinct text, and to `on_message`; order updates go, untouched, to `on_order`
(the live order path's to check and apply) and are otherwise ignored.

Kite sends no pings: a connection that delivers nothing, not even its 1-byte
heartbeat, for `silence_timeout_s` is closed and opened again. Every reconnect
waits a backoff delay that grows while attempts fail. A 403 at the upgrade
means Kite refused the access token: the broker session is marked expired and
the connection waits for a login (`BrokerSession.wait_valid`, which also sees
a login made in another terminal), then reconnects with the new token. No
failure of a connection ever escapes to the engine; `detail` says what is
wrong in words.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus, InvalidURI, WebSocketException

from engine.backoff import Backoff
from engine.events import MarketTick
from engine.market.kite_decoder import Garbage, KiteFrameDecoder
from engine.settings import ConfigError
from engine.tasks import cancel_and_wait
from engine.zerodha.broker_session import BrokerSession, SessionState

log = logging.getLogger(__name__)
# websockets logs the request line, access token included, at DEBUG: never let it through
_ws_log = logging.getLogger(f"{__name__}.websockets")
_ws_log.setLevel(logging.INFO)

MAX_CONNECTIONS = 3
MAX_INSTRUMENTS_PER_CONNECTION = 3_000
MAX_FRAME_BYTES = 1 << 24  # a full-mode frame for 3,000 instruments is ~560 KB
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 1.0  # a silent peer does not answer the closing handshake either
RECONNECT_JITTER = 0.2
SEEN_TEXTS_KEPT = 256
KITE_VERSION_HEADER = {"X-Kite-Version": "3"}
ACCESS_REFUSED = "Kite refused the access token at the ticker (HTTP 403)"

TicksHandler = Callable[[list[MarketTick]], Awaitable[None]]
MessageHandler = Callable[[str, str], None]  # kind ("error" or "message"), text
OrderHandler = Callable[[dict[str, Any]], None]  # an order update's `data`, as Kite sent it


class TickMode(StrEnum):
    """How much Kite sends per instrument: last price, quote without depth, or quote with 5-level depth."""

    LTP = "ltp"
    QUOTE = "quote"
    FULL = "full"


class TooManyInstruments(ConfigError):
    """More instruments than Kite lets one API key stream."""


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    WAITING_LOGIN = "waiting for a login"
    STOPPED = "stopped"


def split_subscriptions(
    subscriptions: Mapping[int, TickMode],
    *,
    per_connection: int = MAX_INSTRUMENTS_PER_CONNECTION,
    connections: int = MAX_CONNECTIONS,
) -> list[dict[int, TickMode]]:
    """The instruments of each connection: as few connections as hold them all, tokens in order."""
    if len(subscriptions) > per_connection * connections:
        raise TooManyInstruments(
            f"Invalid configuration: {len(subscriptions):,} instruments to stream, but Kite allows at most"
            f" {connections} connections of {per_connection:,} ({per_connection * connections:,})\n"
            "    fix: trim feed.symbols (the watchlist) or the strategies' instruments"
        )
    tokens = sorted(subscriptions)
    return [
        {token: subscriptions[token] for token in tokens[start : start + per_connection]}
        for start in range(0, len(tokens), per_connection)
    ]


def subscription_messages(subscriptions: Mapping[int, TickMode]) -> list[str]:
    """What a connection sends once it is open: subscribe all, then one mode message per mode used."""
    if not subscriptions:
        return []
    messages = [json.dumps({"a": "subscribe", "v": list(subscriptions)})]
    for mode in TickMode:
        tokens = [token for token, wanted in subscriptions.items() if wanted is mode]
        if tokens:
            messages.append(json.dumps({"a": "mode", "v": [mode.value, tokens]}))
    return messages


def ticker_url(ws_url: str, api_key: str, access_token: str) -> str:
    query = urlencode({"api_key": api_key, "access_token": access_token})
    return f"{ws_url}{'&' if '?' in ws_url else '?'}{query}"


class TickerConnection:
    """One WebSocket connection and its instruments, kept open for as long as the ticker runs."""

    def __init__(self, number: int, ticker: KiteTicker, subscriptions: dict[int, TickMode]) -> None:
        self.number = number
        self.subscriptions = subscriptions
        self.state = ConnectionState.CONNECTING
        self.detail = "connecting to Kite"
        self.opened = 0  # connections that opened (and subscribed)
        self.decoder = KiteFrameDecoder()
        self._ticker = ticker
        self._backoff = Backoff(
            ticker.reconnect_initial_s, factor=2.0, cap=ticker.reconnect_max_s, jitter=RECONNECT_JITTER
        )

    def _set(self, state: ConnectionState, detail: str) -> None:
        self.state = state
        self.detail = detail

    async def run(self) -> None:
        session = self._ticker.session
        while True:
            token = session.access_token()
            if token is None:
                status = session.status()
                why = "no saved session" if status.state is SessionState.ABSENT else status.describe()
                self._set(ConnectionState.WAITING_LOGIN, f"waiting for a Zerodha login ({why})")
                if self.number == 1:
                    log.warning("kite ticker: %s", self.detail)
                token = await session.wait_valid()
            self._set(ConnectionState.CONNECTING, "connecting to Kite")
            try:
                reason = await self._stream(token)
            except InvalidStatus as exc:
                code = exc.response.status_code
                if code == 403:
                    session.reload()  # a login elsewhere may have replaced the refused token already
                    if session.access_token() == token:
                        session.mark_expired(ACCESS_REFUSED)
                    continue  # wait for a login, or use the token that arrived meanwhile
                reason = f"Kite answered HTTP {code} at the upgrade"
            except InvalidURI:
                reason = "zerodha.ws_url is not a WebSocket URL"  # the URL itself holds the token: not shown
            except ConnectionClosedError as exc:
                reason = f"connection dropped (code {exc.rcvd.code})" if exc.rcvd else "connection dropped"
            except TimeoutError:
                reason = "connecting timed out"
            except OSError as exc:
                reason = f"cannot connect: {exc.strerror or exc}"
            except WebSocketException as exc:
                reason = f"WebSocket error: {exc}"
            except Exception as exc:  # a bug downstream must not end the feed for the day
                log.exception("kite ticker connection %d failed", self.number)
                reason = f"unexpected error: {exc}"
            delay = self._backoff.next_delay()
            self._set(ConnectionState.RECONNECTING, f"reconnecting in {delay:.1f} s ({reason})")
            log.warning("kite ticker connection %d: %s", self.number, self.detail)
            await asyncio.sleep(delay)

    async def _stream(self, token: str) -> str:
        """One connection's life: open, subscribe once, hand on frames until it ends; returns why it ended."""
        ticker = self._ticker
        async with connect(
            ticker_url(ticker.ws_url, ticker.api_key, token),
            additional_headers=KITE_VERSION_HEADER,
            open_timeout=ticker.open_timeout_s,
            close_timeout=CLOSE_TIMEOUT_S,
            ping_interval=None,  # Kite's own 1-byte heartbeats feed the silence watchdog instead
            compression=None,
            max_size=MAX_FRAME_BYTES,
            logger=_ws_log,
        ) as ws:
            for message in subscription_messages(self.subscriptions):
                await ws.send(message)
            self.opened += 1
            self._set(ConnectionState.STREAMING, "")
            log.info(
                "kite ticker connection %d %s: %d instruments",
                self.number,
                "streaming" if self.opened == 1 else "streaming again",
                len(self.subscriptions),
            )
            silence = ticker.silence_timeout_s
            try:
                await self._read(ws, silence)
            except TimeoutError:
                return f"no data for {silence:g} s"
        return "Kite closed the connection"

    async def _read(self, ws: ClientConnection, silence: float) -> None:
        loop = asyncio.get_running_loop()
        decode = self.decoder.decode
        on_ticks = self._ticker.on_ticks
        wall = time.time
        first = True
        async with asyncio.timeout(silence) as deadline:
            async for frame in ws:
                deadline.reschedule(loop.time() + silence)
                if first:
                    self._backoff.reset()
                    first = False
                if isinstance(frame, bytes):
                    ticks = decode(frame, wall())
                    if ticks:
                        await on_ticks(ticks)
                else:
                    self._ticker.text_message(frame)


class KiteTicker:
    def __init__(
        self,
        ws_url: str,
        api_key: str,
        session: BrokerSession,
        subscriptions: Mapping[int, TickMode],
        on_ticks: TicksHandler,
        *,
        on_message: MessageHandler | None = None,
        on_order: OrderHandler | None = None,
        silence_timeout_s: float = 10.0,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        open_timeout_s: float = OPEN_TIMEOUT_S,
    ) -> None:
        self.ws_url = ws_url
        self.api_key = api_key
        self.session = session
        self.on_ticks = on_ticks
        self.silence_timeout_s = silence_timeout_s
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.open_timeout_s = open_timeout_s
        self._on_message = on_message
        self._on_order = on_order
        self._seen_texts: dict[str, None] = {}
        self.connections = [
            TickerConnection(number, self, group)
            for number, group in enumerate(split_subscriptions(subscriptions), start=1)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        if not self.connections:
            log.warning("kite ticker: no instruments to subscribe to")
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(connection.run(), name=f"kite-ticker-{connection.number}")
            for connection in self.connections
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await cancel_and_wait(*tasks)
        for connection in self.connections:
            connection.state = ConnectionState.STOPPED
            connection.detail = ""

    @property
    def streaming(self) -> bool:
        return bool(self.connections) and all(c.state is ConnectionState.STREAMING for c in self.connections)

    @property
    def detail(self) -> str:
        """What is wrong, in words; "" while every connection streams."""
        if not self.connections:
            return "no instruments to subscribe to"
        details: list[str] = []
        for connection in self.connections:
            if connection.detail and connection.detail not in details:
                details.append(connection.detail)
        return "; ".join(details)

    @property
    def garbage(self) -> dict[Garbage, int]:
        """Malformed frames dropped, by kind, over every connection."""
        total: dict[Garbage, int] = {}
        for connection in self.connections:
            for kind, count in connection.decoder.garbage.items():
                total[kind] = total.get(kind, 0) + count
        return total

    def text_message(self, text: str) -> None:
        """A text frame from Kite: an error or notice goes to the log once and to `on_message`."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            kind, body = "error", f"unreadable text message from Kite: {text[:200]}"
        else:
            kind = str(message.get("type") or "message")
            if kind == "order":
                data = message.get("data")
                if self._on_order is not None and isinstance(data, dict):
                    self._on_order(data)
                return
            data = message.get("data")
            body = data if isinstance(data, str) else json.dumps(data)
        if body not in self._seen_texts:
            if len(self._seen_texts) >= SEEN_TEXTS_KEPT:
                self._seen_texts.pop(next(iter(self._seen_texts)))
            self._seen_texts[body] = None
            level = logging.WARNING if kind == "error" else logging.INFO
            log.log(level, "kite ticker %s: %s", kind, body)
        if self._on_message is not None:
            self._on_message(kind, body)

"""The asyncio Kite ticker against the Kite sandbox: real WebSockets, real frames, real faults."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from kiteconnect import KiteConnect

from engine.events import MarketTick
from engine.instruments import InstrumentRegistry
from engine.settings import load_settings
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.session import SessionStore
from engine.zerodha.ticker import (
    ACCESS_REFUSED,
    MAX_INSTRUMENTS_PER_CONNECTION,
    ConnectionState,
    KiteTicker,
    TickMode,
    TooManyInstruments,
    split_subscriptions,
    subscription_messages,
    ticker_url,
)
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import TEST_API_KEY as API_KEY
from tests.sandbox import running_sandbox

REGISTRY = InstrumentRegistry.sample()
INFY = REGISTRY.by_symbol("INFY").instrument_token
NTPC = REGISTRY.by_symbol("NTPC").instrument_token
TCS = REGISTRY.by_symbol("TCS").instrument_token
NIFTY = REGISTRY.by_symbol("NIFTY 50").instrument_token


async def until(condition: Callable[[], bool], limit_s: float = 8.0) -> bool:
    """Wait for a condition; False (for the caller's assert) if it never held within a generous limit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Ticks:
    def __init__(self) -> None:
        self.batches: list[list[MarketTick]] = []

    async def __call__(self, ticks: list[MarketTick]) -> None:
        self.batches.append(ticks)

    @property
    def all(self) -> list[MarketTick]:
        return [tick for batch in self.batches for tick in batch]

    def of(self, token: int) -> list[MarketTick]:
        return [tick for tick in self.all if tick.instrument_token == token]


@pytest.fixture
async def sandbox() -> AsyncIterator[KiteSandbox]:
    async with running_sandbox(updates_per_instrument_s=5.0, tick_interval_s=0.05) as running:
        yield running


@pytest.fixture
def store(isolated_dirs: Path) -> SessionStore:
    return SessionStore(load_settings().kite_session_file)


async def logged_in(sandbox: KiteSandbox, store: SessionStore) -> BrokerSession:
    await log_in(sandbox, load_settings())
    return BrokerSession(store, API_KEY)


def ticker(
    sandbox: KiteSandbox,
    session: BrokerSession,
    subscriptions: dict[int, TickMode],
    ticks: Ticks,
    **options: object,
) -> KiteTicker:
    return KiteTicker(
        sandbox.ws_url,
        API_KEY,
        session,
        subscriptions,
        ticks,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.2,
        **options,  # type: ignore[arg-type]
    )


def subscribed(sandbox: KiteSandbox) -> list[tuple[int, list[int]]]:
    return [(number, sorted(tokens)) for number, tokens in sandbox.stats.subscribe_messages]


# -- subscriptions, without a server ----------------------------------------------------------------
def test_instruments_are_spread_over_as_few_connections_as_hold_them() -> None:
    wanted = {token: TickMode.FULL if token % 2 else TickMode.QUOTE for token in range(7_000)}
    groups = split_subscriptions(wanted)
    assert [len(group) for group in groups] == [3_000, 3_000, 1_000]
    merged = {token: mode for group in groups for token, mode in group.items()}
    assert merged == wanted  # every instrument once, in its mode
    assert split_subscriptions({}) == []


def test_more_instruments_than_kite_allows_is_a_clear_error() -> None:
    with pytest.raises(
        TooManyInstruments, match=r"9,001 instruments .* at most 3 connections of 3,000 \(9,000\)"
    ):
        split_subscriptions(dict.fromkeys(range(3 * MAX_INSTRUMENTS_PER_CONNECTION + 1), TickMode.LTP))


def test_a_connection_subscribes_all_then_sets_each_mode_once() -> None:
    messages = [
        json.loads(m) for m in subscription_messages({1: TickMode.FULL, 2: TickMode.LTP, 3: TickMode.FULL})
    ]
    assert messages == [
        {"a": "subscribe", "v": [1, 2, 3]},
        {"a": "mode", "v": ["ltp", [2]]},
        {"a": "mode", "v": ["full", [1, 3]]},
    ]
    assert subscription_messages({}) == []


def test_the_url_carries_key_and_token_as_kite_expects() -> None:
    assert (
        ticker_url("wss://ws.kite.trade", "k", "t/+") == "wss://ws.kite.trade?api_key=k&access_token=t%2F%2B"
    )
    assert ticker_url("ws://h:1/?v=3", "k", "t") == "ws://h:1/?v=3&api_key=k&access_token=t"


# -- against the sandbox ----------------------------------------------------------------------------
async def test_each_mode_arrives_decoded(sandbox: KiteSandbox, store: SessionStore) -> None:
    session = await logged_in(sandbox, store)
    ticks = Ticks()
    feed = ticker(
        sandbox,
        session,
        {INFY: TickMode.LTP, NTPC: TickMode.QUOTE, TCS: TickMode.FULL, NIFTY: TickMode.FULL},
        ticks,
    )
    await feed.start()
    try:
        # the subscription's snapshot comes in Kite's default mode (quote), before the mode message
        assert await until(lambda: all(len(ticks.of(t)) >= 3 for t in (INFY, NTPC, TCS, NIFTY)))
        assert feed.streaming and feed.detail == ""
    finally:
        await feed.stop()
    ltp, quote, full, index = ticks.of(INFY)[-1], ticks.of(NTPC)[-1], ticks.of(TCS)[-1], ticks.of(NIFTY)[-1]
    assert ltp.last_price > 0 and ltp.volume == 0 and ltp.close == 0 and not ltp.bids
    assert quote.last_price > 0 and quote.volume > 0 and quote.close > 0 and not quote.bids
    assert full.volume > 0 and len(full.bids) == 5 and len(full.asks) == 5
    assert full.bids[0].price < full.asks[0].price
    assert index.last_price > 0 and index.volume == 0 and not index.bids
    assert {t.instrument_token for t in ticks.all} == {INFY, NTPC, TCS, NIFTY}  # nothing unasked for
    assert subscribed(sandbox) == [(1, sorted([INFY, NTPC, TCS, NIFTY]))]


async def test_a_dropped_connection_reconnects_and_subscribes_once_more(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    session = await logged_in(sandbox, store)
    ticks = Ticks()
    feed = ticker(sandbox, session, {INFY: TickMode.FULL, NTPC: TickMode.QUOTE}, ticks)
    await feed.start()
    try:
        assert await until(lambda: len(ticks.all) > 0)
        assert sandbox.faults.drop_connections() == 1
        assert await until(lambda: sandbox.stats.connections_opened == 2 and feed.streaming)
        before = len(ticks.all)
        assert await until(lambda: len(ticks.of(INFY)) > 0 and len(ticks.all) > before + 5)
    finally:
        await feed.stop()
    assert subscribed(sandbox) == [(1, sorted([INFY, NTPC])), (2, sorted([INFY, NTPC]))]
    modes = [(number, mode, tokens) for number, mode, tokens in sandbox.stats.mode_messages]
    assert modes == [(1, "quote", [NTPC]), (1, "full", [INFY]), (2, "quote", [NTPC]), (2, "full", [INFY])]


async def test_a_silent_connection_is_closed_and_reopened(sandbox: KiteSandbox, store: SessionStore) -> None:
    session = await logged_in(sandbox, store)
    ticks = Ticks()
    feed = ticker(sandbox, session, {INFY: TickMode.FULL}, ticks, silence_timeout_s=0.6)
    await feed.start()
    try:
        assert await until(lambda: len(ticks.all) > 0)
        sandbox.faults.go_silent(None)  # the open socket stays open and says nothing, as a dead route does
        assert await until(lambda: feed.connections[0].state is not ConnectionState.STREAMING)
        assert "no data for 0.6 s" in feed.detail
        sandbox.faults.speak()
        assert await until(lambda: sandbox.stats.connections_opened == 2 and feed.streaming)
        before = len(ticks.all)
        assert await until(lambda: len(ticks.all) > before)
    finally:
        await feed.stop()
    assert subscribed(sandbox) == [(1, [INFY]), (2, [INFY])]


async def test_heartbeats_alone_keep_a_quiet_connection_open(store: SessionStore) -> None:
    async with running_sandbox(updates_per_instrument_s=0.05, heartbeat_interval_s=0.1) as sandbox:
        session = await logged_in(sandbox, store)
        ticks = Ticks()
        feed = ticker(sandbox, session, {INFY: TickMode.FULL}, ticks, silence_timeout_s=0.5)
        await feed.start()
        try:
            assert await until(lambda: feed.connections[0].decoder.heartbeats >= 15, limit_s=10.0)
        finally:
            await feed.stop()
        assert sandbox.stats.connections_opened == 1  # 1.5 s and more without a tick, never reconnected


async def test_a_refused_token_waits_for_a_login_then_streams_with_the_new_token(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    session = await logged_in(sandbox, store)
    ticks = Ticks()
    feed = ticker(sandbox, session, {INFY: TickMode.FULL}, ticks)
    await feed.start()
    try:
        assert await until(lambda: len(ticks.all) > 0)
        sandbox.faults.expire_tokens()
        assert await until(lambda: feed.connections[0].state is ConnectionState.WAITING_LOGIN)
        assert session.status().state is SessionState.EXPIRED
        assert feed.detail == f"waiting for a Zerodha login (expired: {ACCESS_REFUSED})"
        refused = sandbox.stats.upgrades_refused
        await asyncio.sleep(0.5)
        assert (
            sandbox.stats.upgrades_refused == refused
        )  # it waits; it does not hammer Kite with a dead token
        # a login in another terminal: a new session file, seen by the waiting connection
        await log_in(sandbox, load_settings())
        before = len(ticks.all)
        assert await until(lambda: feed.streaming and len(ticks.all) > before)
    finally:
        await feed.stop()
    assert session.status().state is SessionState.VALID
    assert subscribed(sandbox) == [(1, [INFY]), (2, [INFY])]


async def test_without_a_session_it_waits_and_never_connects(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    session = BrokerSession(store, API_KEY)
    feed = ticker(sandbox, session, {INFY: TickMode.FULL}, Ticks())
    await feed.start()
    try:
        assert await until(lambda: feed.connections[0].state is ConnectionState.WAITING_LOGIN)
        assert feed.detail == "waiting for a Zerodha login (no saved session)"
        await asyncio.sleep(0.3)
    finally:
        await feed.stop()
    assert sandbox.stats.connections_opened == 0 and sandbox.stats.upgrades_refused == 0


async def test_an_unreachable_kite_is_retried_with_growing_delays(store: SessionStore) -> None:
    async with running_sandbox() as sandbox:
        session = await logged_in(sandbox, store)
        url = sandbox.ws_url
    ticks = Ticks()
    feed = KiteTicker(
        url, API_KEY, session, {INFY: TickMode.FULL}, ticks, reconnect_initial_s=0.05, reconnect_max_s=0.4
    )
    await feed.start()
    try:
        assert await until(lambda: feed.connections[0].state is ConnectionState.RECONNECTING)
        assert "cannot connect" in feed.detail
        assert await until(lambda: "reconnecting in 0.4 s" in feed.detail or "in 0.3 s" in feed.detail)
    finally:
        await feed.stop()
    assert session.status().state is SessionState.VALID  # a network failure is not an expired token


async def test_instruments_beyond_one_connection_use_a_second(store: SessionStore) -> None:
    async with running_sandbox(
        instruments=3_100, updates_per_instrument_s=1.0, tick_interval_s=0.1
    ) as sandbox:
        session = await logged_in(sandbox, store)
        tokens = sorted(inst.instrument_token for inst in sandbox.market.registry)[:3_050]
        ticks = Ticks()
        feed = ticker(sandbox, session, dict.fromkeys(tokens, TickMode.LTP), ticks)
        await feed.start()
        try:
            assert await until(lambda: len({t.instrument_token for t in ticks.all}) == len(tokens))
        finally:
            await feed.stop()
    assert subscribed(sandbox) == [(1, tokens[:3_000]), (2, tokens[3_000:])]


async def test_text_messages_reach_the_callback_and_the_log_once(
    sandbox: KiteSandbox, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    session = await logged_in(sandbox, store)
    messages: list[tuple[str, str]] = []
    orders: list[dict[str, object]] = []
    feed = ticker(
        sandbox,
        session,
        {INFY: TickMode.LTP},
        Ticks(),
        on_message=lambda k, t: messages.append((k, t)),
        on_order=orders.append,
    )
    await feed.start()
    try:
        assert await until(lambda: feed.streaming)
        with caplog.at_level(logging.INFO, logger="engine.zerodha.ticker"):
            for _ in range(2):
                await sandbox.send_text("error", "Market depth unavailable")
            await sandbox.send_text("message", "Exchange maintenance at 17:00")
            await sandbox.send_text("order", {"order_id": "1", "status": "COMPLETE"})
            assert await until(lambda: len(messages) == 3)
            await asyncio.sleep(0.1)
    finally:
        await feed.stop()
    assert messages == [
        ("error", "Market depth unavailable"),
        ("error", "Market depth unavailable"),
        ("message", "Exchange maintenance at 17:00"),
    ]
    logged = [r.getMessage() for r in caplog.records if r.name == "engine.zerodha.ticker"]
    assert logged.count("kite ticker error: Market depth unavailable") == 1
    assert "kite ticker message: Exchange maintenance at 17:00" in logged
    assert not any("order" in line for line in logged)
    assert orders == [{"order_id": "1", "status": "COMPLETE"}]  # for the live order path, untouched


async def test_the_access_token_never_reaches_the_log(
    sandbox: KiteSandbox, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    session = await logged_in(sandbox, store)
    token = session.access_token()
    assert token
    feed = ticker(sandbox, session, {INFY: TickMode.FULL}, Ticks())
    with caplog.at_level(logging.DEBUG):
        await feed.start()
        try:
            assert await until(lambda: feed.streaming)
            sandbox.faults.drop_connections()
            assert await until(lambda: sandbox.stats.connections_opened == 2 and feed.streaming)
        finally:
            await feed.stop()
    logged = [r.getMessage() for r in caplog.records]
    assert "kite ticker connection 1 streaming: 1 instruments" in logged  # it did log, and the reconnect too:
    assert "kite ticker connection 1 streaming again: 1 instruments" in logged
    assert not any(token in line for line in logged)


async def test_a_failing_consumer_costs_a_reconnect_not_the_feed(
    sandbox: KiteSandbox, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    session = await logged_in(sandbox, store)
    received: list[MarketTick] = []

    async def flaky(ticks: list[MarketTick]) -> None:
        if not received:
            received.append(ticks[0])
            raise RuntimeError("bug downstream")
        received.extend(ticks)

    feed = KiteTicker(
        sandbox.ws_url, API_KEY, session, {INFY: TickMode.FULL}, flaky, reconnect_initial_s=0.05
    )
    await feed.start()
    try:
        assert await until(lambda: len(received) > 3 and feed.streaming)
    finally:
        await feed.stop()
    assert sandbox.stats.connections_opened == 2
    assert any(r.getMessage() == "kite ticker connection 1 failed" and r.exc_info for r in caplog.records)


async def test_a_token_replaced_by_a_login_elsewhere_is_swapped_without_expiring_the_session(
    sandbox: KiteSandbox, store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    session = await logged_in(sandbox, store)
    old = session.access_token()
    ticks = Ticks()
    feed = ticker(sandbox, session, {INFY: TickMode.FULL}, ticks)
    await feed.start()
    try:
        assert await until(lambda: len(ticks.all) > 0)
        new = await log_in(sandbox, load_settings())  # another terminal: a new file, this process not told
        kite = KiteConnect(API_KEY, access_token=old, root=sandbox.root_url)
        await asyncio.to_thread(kite.invalidate_access_token, old)  # the old token dies at Kite
        assert await until(lambda: sandbox.stats.connections_opened == 2 and feed.streaming)
    finally:
        await feed.stop()
    assert session.access_token() == new.access_token
    assert sandbox.stats.upgrades_refused <= 1
    assert not any("the Kite session ended" in r.getMessage() for r in caplog.records)

"""The Zerodha feed against the Kite sandbox: ticks on the bus as every feed's, through the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest

from engine.bus import InProcessBus
from engine.events import (
    Command,
    CommandAction,
    Event,
    MarketTick,
    Namespace,
    Product,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import read_ticks
from engine.runtime import Engine
from engine.settings import ConfigError, Settings, load_settings
from engine.state import MemoryStateStore
from engine.strategies.base import Strategy
from engine.strategies.runner import StrategyRunner
from engine.topics import CONTROL_COMMANDS, MARKET_TICKS
from engine.zerodha.broker_session import BrokerSession, SessionState
from engine.zerodha.feed import ZerodhaFeed, feed_subscriptions
from engine.zerodha.session import SessionStore
from engine.zerodha.ticker import ACCESS_REFUSED, TickMode
from kite_sandbox.server import KiteSandbox
from tests.engine.zerodha.kite_login import log_in
from tests.sandbox import TEST_API_KEY as API_KEY
from tests.sandbox import running_sandbox

REGISTRY = InstrumentRegistry.sample()
INFY = REGISTRY.by_symbol("INFY").instrument_token
NTPC = REGISTRY.by_symbol("NTPC").instrument_token
TCS = REGISTRY.by_symbol("TCS").instrument_token
SBIN = REGISTRY.by_symbol("SBIN").instrument_token
PAPER = (Namespace.PAPER,)


async def until(condition: Callable[[], bool], limit_s: float = 8.0) -> bool:
    """Wait for a condition; False (for the caller's assert) if it never held within a generous limit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not condition():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Watching(Strategy):
    """Trades nothing; keeps every tick it is shown."""

    kind = "watching"

    def setup(self) -> None:
        self.seen: list[MarketTick] = []

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.seen.append(tick)
        return None

    def of(self, token: int) -> list[MarketTick]:
        return [tick for tick in self.seen if tick.instrument_token == token]


class Flipping(Watching):
    """Long, then flat, then long again, on every tick: keeps paper trading busy (CNC: no square-off)."""

    kind = "flipping"

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.seen.append(tick)
        wish = (
            self.go_flat(tick, "flip") if self.position(tick.instrument_token) else self.go_long(tick, "flip")
        )
        return msgspec.structs.replace(wish, product=Product.CNC) if wish is not None else None


@pytest.fixture
async def sandbox() -> AsyncIterator[KiteSandbox]:
    async with running_sandbox(updates_per_instrument_s=5.0, tick_interval_s=0.05) as running:
        yield running


@pytest.fixture
def store(isolated_dirs: Path) -> SessionStore:
    return SessionStore(load_settings().kite_session_file)


async def login(sandbox: KiteSandbox, store: SessionStore) -> None:
    await log_in(sandbox, load_settings())


def zerodha_settings(sandbox: KiteSandbox, **feed: object) -> Settings:
    return load_settings(
        feed={"source": "zerodha", **feed},
        zerodha={
            "enabled": True,
            "api_key": API_KEY,
            "root_url": sandbox.root_url,
            "ws_url": sandbox.ws_url,
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.2,
        },
        risk={"enforce_market_hours": False, "max_orders_per_minute": 10_000},
    )


async def command(bus: InProcessBus, action: CommandAction) -> None:
    event = make_event(
        Command(action=action, issued_by="test"), namespace=Namespace.SHARED, source="t", key="c"
    )
    await bus.publish(CONTROL_COMMANDS, event)


# -- the feed on a bus --------------------------------------------------------------------------------
async def test_each_mode_reaches_the_strategy_runner(sandbox: KiteSandbox, store: SessionStore) -> None:
    await login(sandbox, store)
    bus = InProcessBus()
    watching = Watching("watching", (INFY, NTPC, TCS), PAPER, {})
    runner = StrategyRunner(bus, [watching], {"watching": True}, MemoryStateStore(), PAPER)
    keys: list[str] = []

    async def on_tick(event: Event) -> None:
        keys.append(event.key)

    bus.subscribe([MARKET_TICKS], "keys", on_tick)
    subscriptions = {INFY: TickMode.LTP, NTPC: TickMode.QUOTE, TCS: TickMode.FULL}
    feed = ZerodhaFeed(
        bus,
        zerodha_settings(sandbox).zerodha,
        BrokerSession(store, API_KEY),
        subscriptions,
        instruments=REGISTRY,
    )
    feed.wire()
    runner.wire()
    await bus.start()
    await runner.start()
    await feed.start()
    try:
        assert await until(lambda: all(len(watching.of(t)) >= 3 for t in subscriptions))
    finally:
        await feed.stop()
        await bus.drain()
        await bus.stop()
    ltp, quote, full = watching.of(INFY)[-1], watching.of(NTPC)[-1], watching.of(TCS)[-1]
    assert ltp.last_price > 0 and ltp.volume == 0 and not ltp.bids
    assert quote.volume > 0 and quote.buy_quantity > 0 and not quote.bids
    assert len(full.bids) == 5 and len(full.asks) == 5
    assert feed.ticks_published >= len(watching.seen)
    assert set(keys) == {str(INFY), str(NTPC), str(TCS)}  # keyed by instrument, as the simulated feed's


async def test_paused_it_drops_ticks_and_resumed_it_publishes_again(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    await login(sandbox, store)
    bus = InProcessBus()
    feed = ZerodhaFeed(
        bus, zerodha_settings(sandbox).zerodha, BrokerSession(store, API_KEY), {INFY: TickMode.FULL}
    )
    feed.wire()
    await bus.start()
    await feed.start()
    try:
        assert await until(lambda: feed.ticks_published > 0)
        await command(bus, CommandAction.FEED_PAUSE)
        assert await until(lambda: feed.paused)
        published = feed.ticks_published
        assert await until(lambda: feed.dropped_while_paused >= 3)
        assert feed.ticks_published == published
        await command(bus, CommandAction.FEED_RESUME)
        assert await until(lambda: feed.ticks_published > published)
        assert feed.ticker.streaming and sandbox.stats.connections_opened == 1  # the socket stayed open
    finally:
        await feed.stop()
        await bus.stop()


def test_watchlist_instruments_stream_in_full_mode_strategies_in_theirs() -> None:
    assert feed_subscriptions([INFY, NTPC], [NTPC, TCS], strategy_mode=TickMode.QUOTE) == {
        INFY: TickMode.QUOTE,
        NTPC: TickMode.FULL,
        TCS: TickMode.FULL,
    }


# -- the engine --------------------------------------------------------------------------------------
def test_a_zerodha_feed_needs_zerodha_enabled_and_an_api_key() -> None:
    with pytest.raises(
        ConfigError, match=r"feed.source = 'zerodha' needs zerodha.enabled = true and zerodha.api_key"
    ):
        load_settings(feed={"source": "zerodha"})
    with pytest.raises(ConfigError, match=r"needs zerodha.api_key\b"):
        load_settings(feed={"source": "zerodha"}, zerodha={"enabled": True})


def test_more_instruments_than_kite_streams_is_a_configuration_error(isolated_dirs: Path) -> None:
    settings = load_settings(
        feed={"source": "zerodha", "symbols": ["INFY"]}, zerodha={"enabled": True, "api_key": API_KEY}
    )
    crowd = Watching("crowd", tuple(range(1, 9_001)), PAPER, {})  # 9,000 and the watchlist's one
    with pytest.raises(ConfigError, match=r"9,001 instruments to stream"):
        Engine(settings, persist=False, strategies=[crowd])


async def test_the_engine_subscribes_strategies_and_watchlist_once(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    await login(sandbox, store)
    watching = Watching("watching", (INFY, NTPC), PAPER, {})
    engine = Engine(zerodha_settings(sandbox, symbols=["NTPC", "SBIN"]), persist=False, strategies=[watching])
    await engine.start()
    try:
        assert await until(lambda: len(watching.of(INFY)) >= 2 and len(watching.of(NTPC)) >= 2)
        status = engine.status()
    finally:
        await engine.stop()
    assert [sorted(tokens) for _, tokens in sandbox.stats.subscribe_messages] == [sorted([INFY, NTPC, SBIN])]
    # paper fills walk the book: the strategies' instruments come with depth, as the watchlist's
    assert [(mode, sorted(tokens)) for _, mode, tokens in sandbox.stats.mode_messages] == [
        ("full", sorted([INFY, NTPC, SBIN]))
    ]
    assert status.feed_source == "zerodha" and status.feed_detail == "" and status.ticks > 0
    assert status.broker_session.startswith("valid until 06:00")
    assert status.feed_message == ""


async def test_without_symbols_the_watchlist_is_the_sample_as_on_the_simulated_feed(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    await login(sandbox, store)
    engine = Engine(zerodha_settings(sandbox), persist=False, strategies=[])
    await engine.start()
    try:
        assert await until(lambda: len(sandbox.stats.subscribe_messages) == 1)
    finally:
        await engine.stop()
    ((_, tokens),) = sandbox.stats.subscribe_messages
    assert sorted(tokens) == sorted(inst.instrument_token for inst in REGISTRY)


async def test_kites_text_messages_reach_the_status(sandbox: KiteSandbox, store: SessionStore) -> None:
    await login(sandbox, store)
    engine = Engine(zerodha_settings(sandbox, symbols=["INFY"]), persist=False, strategies=[])
    await engine.start()
    try:
        assert await until(lambda: engine.status().ticks > 0)
        await sandbox.send_text("error", "Invalid subscription")
        assert await until(lambda: engine.status().feed_message == "error: Invalid subscription")
        await sandbox.send_text("order", {"order_id": "1"})  # order updates are not the feed's
        await sandbox.send_text("message", "Market closes early today")
        assert await until(lambda: engine.status().feed_message == "message: Market closes early today")
    finally:
        await engine.stop()


async def test_a_revoked_token_pauses_the_feed_until_a_login_and_paper_trading_runs_on(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    await login(sandbox, store)
    flipping = Flipping("flipping", (INFY, NTPC), PAPER, {"quantity": 1})
    engine = Engine(zerodha_settings(sandbox), persist=False, strategies=[flipping])
    await engine.start()
    try:
        assert await until(lambda: engine.status().fills >= 2)
        sandbox.faults.expire_tokens()
        assert await until(lambda: engine.status().feed_detail.startswith("waiting for a Zerodha login"))
        status = engine.status()
        assert status.feed_detail == f"waiting for a Zerodha login (expired: {ACCESS_REFUSED})"
        assert status.broker_session == f"expired: {ACCESS_REFUSED}"
        assert engine.broker_session is not None
        assert engine.broker_session.status().state is SessionState.EXPIRED
        ticks, fills = status.ticks, status.fills
        await login(sandbox, store)  # as `alpha-panda-tui login` in another terminal would
        assert await until(lambda: engine.status().feed_detail == "" and engine.status().ticks > ticks)
        assert await until(lambda: engine.status().fills > fills)
        assert engine.status().broker_session.startswith("valid until 06:00")
        assert engine.fatal_error is None
    finally:
        await engine.stop()
    assert sandbox.stats.connections_opened == 2  # one reconnect, after the login; no restart


async def test_a_recorded_zerodha_session_replays_tick_for_tick(
    sandbox: KiteSandbox, store: SessionStore
) -> None:
    await login(sandbox, store)
    watching = Watching("watching", (INFY, TCS), PAPER, {})
    settings = zerodha_settings(sandbox, record=True, symbols=["INFY", "TCS"])
    engine = Engine(settings, persist=False, strategies=[watching])
    await engine.start()
    try:
        assert await until(lambda: len(watching.seen) >= 20)
    finally:
        await engine.stop()
    assert engine.recorder is not None
    replayed = list(read_ticks(engine.recorder.path, REGISTRY))
    assert replayed == watching.seen[: len(replayed)]
    assert len(replayed) == engine.recorder.ticks_recorded >= 20
    assert any(len(tick.bids) == 5 for tick in replayed)

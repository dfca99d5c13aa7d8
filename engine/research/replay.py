"""The replay driver: recorded ticks through the live pipeline classes, as fast as the machine allows.

    ticks -> [RiskManager, PaperExecution, PortfolioManager see the tick]
          -> StrategyRunner -> RiskManager -> PaperExecution -> PortfolioManager

The same StrategyRunner, RiskManager, PaperExecution and PortfolioManager as
the live engine, on a DirectBus (every handler runs inline inside `publish`,
so a tick's signal, risk decision, order and fill are handled before the
next tick and no asyncio hop is paid per tick), with a ManualClock set to
each tick's `exchange_ts` before it is published: risk's market-hours and
staleness rules and the paper broker's fills all run on tick time. State
lives in memory; nothing touches a database.

The stages that react to the market are wired before the strategies, so a
tick updates risk's last prices, fills resting orders and marks portfolios
before any strategy reacts to it (a market order placed on a tick fills on a
later tick, as live).

Deterministic: the same ticks and settings give the same signals, orders,
fills and report, because nothing read from the wall clock or a random
source reaches them (paper order ids are numbered from the first tick's
time, not the wall clock).
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice

from engine.bus.base import Bus
from engine.bus.direct import DirectBus
from engine.clock import ManualClock
from engine.events import (
    Event,
    MarketTick,
    Namespace,
    OrderFailed,
    OrderFilled,
    SignalRejected,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.pipeline import build_trading_stages
from engine.portfolio.manager import PortfolioManager
from engine.portfolio.portfolio import portfolio_id_for
from engine.research.order_ids import replay_order_ids
from engine.research.report import ALL_INSTRUMENTS, EquityPoint, Report, build_report
from engine.settings import Settings
from engine.state import MemoryStateStore
from engine.strategies.base import Strategy
from engine.topics import MARKET_TICKS, TopicMap

NAMESPACE = Namespace.PAPER
SOURCE = "replay"
RECORDER_GROUP = "research.recorder"
DEFAULT_SAMPLE_INTERVAL_S = 60.0

REPLAY_GC_THRESHOLD = 50_000
DEFAULT_PROGRESS_EVERY = 2_000

ProgressCallback = Callable[[int], Awaitable[None]]


@dataclass(slots=True)
class ReplayResult:
    """What a replay produced: the raw material of its report."""

    strategies: tuple[str, ...]
    starting_cash: float
    sample_interval_s: float
    ticks: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    signals: list[TradingSignal] = field(default_factory=list)
    rejections: list[SignalRejected] = field(default_factory=list)
    failures: list[OrderFailed] = field(default_factory=list)
    fills: list[OrderFilled] = field(default_factory=list)
    equity: list[EquityPoint] = field(default_factory=list)
    marks: dict[int, float] = field(default_factory=dict)
    dead_letters: int = 0

    def report(self) -> Report:
        return build_report(
            self.fills,
            self.equity,
            starting_cash=self.starting_cash,
            interval_s=self.sample_interval_s,
            marks=self.marks,
            strategies=self.strategies,
        )

    def rejections_by_rule(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for rejection in self.rejections:
            counts[rejection.rule] = counts.get(rejection.rule, 0) + 1
        return dict(sorted(counts.items()))


class ReplayDriver:
    """One replay run: build the pipeline, push every tick through it, collect the results.

    `strategies` are fresh Strategy objects (they keep state); all are enabled.
    `sample_interval_s` is the feed-time spacing of equity samples, which is
    also the Sharpe interval of the report. `bus_hook`, if given, is called
    with the run's bus once the pipeline is wired and before the first tick,
    so an observer (the TUI's replay screen) can subscribe to it.
    """

    def __init__(
        self,
        settings: Settings,
        strategies: Sequence[Strategy],
        instruments: InstrumentRegistry,
        *,
        sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        calendar: MarketCalendar | None = None,
        bus_hook: Callable[[Bus], None] | None = None,
    ) -> None:
        if sample_interval_s <= 0:
            raise ValueError(f"sample_interval_s must be positive, got {sample_interval_s}")
        if not strategies:
            raise ValueError("a replay needs at least one strategy")
        self.settings = settings
        self.strategies = list(strategies)
        self.instruments = instruments
        self.calendar = calendar or MarketCalendar()
        self.sample_interval_s = sample_interval_s
        self.bus_hook = bus_hook
        names = tuple(s.name for s in self.strategies)
        self.result = ReplayResult(
            strategies=names,
            starting_cash=settings.paper.starting_cash,
            sample_interval_s=sample_interval_s,
        )
        self._charges: dict[tuple[str, int], float] = {}
        self._sampled: set[tuple[str, int]] = set()  # (strategy, instrument) with a curve
        self._sample_times: list[float] = []

    async def run(
        self,
        ticks: Iterable[MarketTick],
        *,
        on_progress: ProgressCallback | None = None,
        progress_every: int = DEFAULT_PROGRESS_EVERY,
    ) -> ReplayResult:
        """Replay every tick (in the order given) and return the results. Call once.

        `on_progress`, if given, is awaited with the number of ticks replayed so
        far after every `progress_every` ticks (and after the last): a caller on
        the same event loop can yield there, or cancel the run.
        """
        if progress_every < 1:
            raise ValueError(f"progress_every must be at least 1, got {progress_every}")
        iterator = iter(ticks)
        first = next(iterator, None)
        if first is None:
            return self.result
        clock = ManualClock(first.exchange_ts)
        bus = DirectBus(max_retries=0)
        state = MemoryStateStore()
        s = self.settings
        stages = build_trading_stages(
            bus,
            s,
            strategies=self.strategies,
            enabled={st.name: True for st in self.strategies},
            instruments=self.instruments,
            calendar=self.calendar,
            clock=clock,
            state_store=state,
            namespaces=(NAMESPACE,),
            order_ids=replay_order_ids(first.exchange_ts),
            # P&L snapshots (and so the daily-loss check) on the report's sampling interval of feed time
            snapshot_interval_s=self.sample_interval_s,
        )
        risk, paper, portfolio, runner = (
            stages.risk[NAMESPACE],
            stages.paper,
            stages.portfolios[NAMESPACE],
            stages.runner,
        )
        services = (risk, paper, portfolio, runner)
        for service in services:
            service.wire()
        topics = TopicMap(NAMESPACE)
        bus.subscribe(
            [topics.signals_raw, topics.signals_rejected, topics.orders_filled, topics.orders_failed],
            RECORDER_GROUP,
            self._record,
        )
        if self.bus_hook is not None:
            self.bus_hook(bus)
        await bus.start()
        for service in services:
            await service.start()
        # A replay allocates millions of short-lived events; collecting the young
        # generation every 700 allocations costs ~10% of the run for nothing.
        thresholds = gc.get_threshold()
        gc.set_threshold(REPLAY_GC_THRESHOLD, *thresholds[1:])
        try:
            await self._pump(chain((first,), iterator), bus, clock, portfolio, on_progress, progress_every)
        finally:
            gc.set_threshold(*thresholds)
        for service in reversed(services):
            await service.stop()
        await bus.stop()
        self.result.dead_letters = bus.stats.dead_lettered
        return self.result

    async def _pump(
        self,
        ticks: Iterable[MarketTick],
        bus: DirectBus,
        clock: ManualClock,
        portfolio: PortfolioManager,
        on_progress: ProgressCallback | None = None,
        progress_every: int = DEFAULT_PROGRESS_EVERY,
    ) -> None:
        result = self.result
        publish = bus.publish
        set_time = clock.set
        shared = Namespace.SHARED
        keys: dict[int, str] = {}
        interval = self.sample_interval_s
        next_sample = -math.inf
        sampled_at = -math.inf
        count = 0
        ts = 0.0
        # without a progress callback the whole run is one batch: the per-tick loop is the same
        batches: Iterable[Iterable[MarketTick]] = (
            (ticks,) if on_progress is None else _batches(ticks, progress_every)
        )
        for batch in batches:
            for tick in batch:
                ts = tick.exchange_ts
                set_time(ts)
                token = tick.instrument_token
                key = keys.get(token)
                if key is None:
                    key = keys[token] = str(token)
                await publish(MARKET_TICKS, make_event(tick, namespace=shared, source=SOURCE, key=key))
                count += 1
                if ts >= next_sample:
                    if count == 1:
                        result.first_ts = ts
                    self._sample(ts, portfolio)
                    sampled_at = ts
                    next_sample = (math.floor(ts / interval) + 1) * interval
            if on_progress is not None:
                await on_progress(count)
        result.ticks = count
        result.last_ts = ts
        if count and sampled_at != ts:
            self._sample(ts, portfolio)
        for book in portfolio.portfolios.values():
            for position in book.positions.values():
                if position.quantity:
                    result.marks[position.instrument_token] = position.last_price

    def _sample(self, ts: float, portfolio: PortfolioManager) -> None:
        """Equity of every strategy, and of each instrument it has traded, at feed time `ts`.

        An instrument traded for the first time gets starting-cash points at
        every earlier sample, so all of a run's curves share the same times.
        """
        points = self.result.equity
        cash = self.result.starting_cash
        charges = self._charges
        for name in self.result.strategies:
            book = portfolio.portfolios.get(portfolio_id_for(NAMESPACE, name))
            if book is None:
                points.append(EquityPoint(ts, name, ALL_INSTRUMENTS, cash))
                continue
            points.append(EquityPoint(ts, name, ALL_INSTRUMENTS, book.equity))
            for token, position in sorted(book.positions.items()):
                if (name, token) not in self._sampled:
                    self._sampled.add((name, token))
                    points.extend(EquityPoint(t, name, token, cash) for t in self._sample_times)
                net = position.realized_pnl + position.unrealized_pnl - charges.get((name, token), 0.0)
                points.append(EquityPoint(ts, name, token, cash + net))
        self._sample_times.append(ts)

    async def _record(self, event: Event) -> None:
        payload = event.payload
        result = self.result
        if type(payload) is OrderFilled:
            result.fills.append(payload)
            key = (payload.strategy_id, payload.instrument_token)
            self._charges[key] = self._charges.get(key, 0.0) + payload.charges.total
        elif type(payload) is TradingSignal:
            result.signals.append(payload)
        elif type(payload) is SignalRejected:
            result.rejections.append(payload)
        elif type(payload) is OrderFailed:
            result.failures.append(payload)


def _batches(ticks: Iterable[MarketTick], size: int) -> Iterator[list[MarketTick]]:
    iterator = iter(ticks)
    while batch := list(islice(iterator, size)):
        yield batch


def run_replay(
    settings: Settings,
    strategies: Sequence[Strategy],
    ticks: Iterable[MarketTick],
    instruments: InstrumentRegistry,
    *,
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
) -> ReplayResult:
    """Replay synchronously (its own event loop); see ReplayDriver."""
    driver = ReplayDriver(settings, strategies, instruments, sample_interval_s=sample_interval_s)

    async def replay() -> None:
        # returns None on purpose: asyncio.run's SIGINT clean-up can repr() the main task,
        # and with it a result holding every fill (seconds on a long replay)
        await driver.run(ticks)

    asyncio.run(replay())
    return driver.result

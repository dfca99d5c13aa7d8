"""The engine: builds the bus and every pipeline stage from Settings, and runs them.

    MarketFeed -> StrategyRunner -> RiskManager(ns) -> executions[ns] -> PortfolioManager(ns)
                                                   \\-> StorageWriter (orders, fills, decisions, lineage)

`executions` holds each namespace's ExecutionClient: PaperExecution for paper,
ZerodhaExecution (live Kite orders) for zerodha when that namespace runs.

The TUI, the headless runner and the replay driver all use this one class;
the TUI talks to it only through `engine.bus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from engine.bus import Bus, DirectBus, InProcessBus, KafkaBus
from engine.clock import Clock, ManualClock, WallClock
from engine.commands import CommandRouter
from engine.day_snapshot import DaySnapshotService
from engine.events import (
    CommandAction,
    CommandResult,
    EngineState,
    EngineStatus,
    Event,
    HealthCheckView,
    Namespace,
    OrderFilled,
    PositionView,
    TradingMode,
    make_event,
    trading_state,
)
from engine.execution.base import ExecutionClient
from engine.execution.charges import ChargeCalculator
from engine.execution.paper import RESTART_REASON, STOP_REASON
from engine.execution.working import UnresolvedOrder
from engine.health.checks import (
    BrokerSessionCheck,
    ConfigCheck,
    DatabaseCheck,
    DiskSpaceCheck,
    InstrumentsDumpCheck,
    MarketStatusCheck,
    PipelineFlowCheck,
    RedisCheck,
    StorageWriterCheck,
)
from engine.health.reconciliation import ReconciliationCheck
from engine.health.registry import CheckResult, HealthRegistry
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.market.feed_service import FeedService, MarketFeedService, TickSource
from engine.market.recorder import TickRecorder
from engine.market.session_clock import SimulatedSessionClock
from engine.market.simulated import SimulatedFeed
from engine.market.tick_files import ReplayTickSource
from engine.order_trace import OrderTraceService
from engine.pipeline import build_trading_stages
from engine.service import Service
from engine.settings import BusKind, ConfigError, FeedSource, Settings, check_feed_symbols
from engine.state import MemoryStateStore, StateStore
from engine.storage.audit import AuditLog
from engine.storage.database import Database
from engine.storage.db_lock import DatabaseLock
from engine.storage.repository import DbStateStore, load_fills, load_unresolved_orders
from engine.storage.writer import StorageWriter
from engine.strategies.base import Strategy
from engine.strategies.loader import load_strategies
from engine.tasks import cancel_and_wait
from engine.topics import ENGINE_STATUS, TopicMap
from engine.trading_control import TradingControl
from engine.zerodha.broker_session import BrokerSession
from engine.zerodha.feed import ZerodhaFeed, feed_subscriptions
from engine.zerodha.instruments_dump import InstrumentsDump, uses_dump
from engine.zerodha.instruments_refresh import InstrumentsRefresher
from engine.zerodha.live_gate import LiveGate, live_requested
from engine.zerodha.order_store import LiveOrderStore
from engine.zerodha.session import SessionStore
from engine.zerodha.ticker import TickMode
from engine.zerodha.verify import Verification, verify_session

if TYPE_CHECKING:
    from engine.zerodha.execution import ZerodhaExecution
    from engine.zerodha.reconcile import Reconciler
    from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 1.0
HEALTH_INTERVAL_S = 5.0
STATE_ACTIONS = (
    CommandAction.HALT,
    CommandAction.RESUME,
    CommandAction.RESET_LOSS_LATCH,
    CommandAction.ACKNOWLEDGE_MISMATCH,
    CommandAction.CONFIRM_LIVE,
)
DRAIN_TIMEOUT_S = 10.0


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        bus: Bus | None = None,
        paced: bool = True,
        persist: bool = True,
        instruments: InstrumentRegistry | None = None,
        strategies: Sequence[Strategy] | None = None,
        namespaces: tuple[Namespace, ...] = (Namespace.PAPER,),
        live: bool = False,
    ) -> None:
        """`live`: launched with `--live` (ConfigError unless `zerodha.live_orders` is on too): the
        zerodha namespace runs beside `namespaces`. Whichever way it runs, its orders pass the live gate."""
        self.settings = settings
        self.paced = paced
        self.launched_live = live_requested(settings, live)
        if self.launched_live:
            namespaces = (*namespaces, Namespace.ZERODHA)
        self.broker_session: BrokerSession | None = self._broker_session()
        self.kite: KiteRest | None = self._kite_rest()
        self.session_verification: Verification | None = None  # Kite's word on the session at start
        self.instruments_dump: InstrumentsDump | None = (
            InstrumentsDump.for_settings(settings) if settings.zerodha.enabled else None
        )
        self.instruments = instruments or self._default_instruments()
        self.instruments_refresher: InstrumentsRefresher | None = self._instruments_refresher()
        self._strategies = strategies
        self.calendar = MarketCalendar()
        self.clock: Clock = clock or self._default_clock()
        self.bus: Bus = bus or self._default_bus()
        self.active_namespaces: tuple[Namespace, ...] = tuple(dict.fromkeys(namespaces))
        self.live_gate: LiveGate | None = None  # guards the zerodha namespace: see _build_services
        self.db: Database | None = Database(settings.database_url) if persist else None
        self.audit: AuditLog | None = AuditLog(self.db) if self.db is not None else None
        self.state_store: StateStore = DbStateStore(self.db) if self.db else MemoryStateStore()
        # one engine per database, held from start to stop (read-only tools never take it)
        self.db_lock: DatabaseLock | None = DatabaseLock(settings.database_url) if persist else None
        self._lifecycle = EngineState.STOPPED  # starting, running, stopping, stopped
        self._status_due = asyncio.Event()
        self.health = HealthRegistry()
        self.last_health: list[CheckResult] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0
        self._stop_lock = asyncio.Lock()
        self.fatal_error: str | None = None
        self.unwritten_at_stop: int = 0
        self._fatal_stop: asyncio.Task[None] | None = None
        self._build_services()

    # -- construction ---------------------------------------------------------
    def _broker_session(self) -> BrokerSession | None:
        z = self.settings.zerodha
        if not z.enabled:
            return None
        api_key = z.api_key.get_secret_value() if z.api_key is not None else ""
        return BrokerSession(SessionStore(self.settings.kite_session_file), api_key)

    def _kite_rest(self) -> KiteRest | None:
        if self.broker_session is None:
            return None
        from engine.zerodha.rest import KiteRest  # the client library loads slowly: only when Kite is used

        return KiteRest(self.settings.zerodha, self.broker_session)

    def _instruments_refresher(self) -> InstrumentsRefresher | None:
        if self.kite is None or self.broker_session is None or self.instruments_dump is None:
            return None
        if not uses_dump(self.settings):
            return None
        return InstrumentsRefresher(self.instruments_dump, self.kite, self.instruments, self.broker_session)

    def _default_instruments(self) -> InstrumentRegistry:
        """Kite's instruments dumps for Kite's feed (brought up to date by `prepare_instruments`)."""
        if self.instruments_dump is not None and uses_dump(self.settings):
            return self.instruments_dump.load()
        return InstrumentRegistry.sample()

    def _default_clock(self) -> Clock:
        if self.settings.feed.source is FeedSource.SIMULATED:
            return SimulatedSessionClock(
                self.calendar,
                session_start=self.settings.feed.session_start,
                speed=self.settings.feed.session_speed,
            )
        if self.settings.feed.source is FeedSource.REPLAY:
            return ManualClock(0.0)  # set to each replayed tick's exchange time by the feed
        return WallClock()

    def _default_bus(self) -> Bus:
        cfg = self.settings.bus
        if cfg.kind is BusKind.KAFKA:
            return KafkaBus(
                bootstrap=cfg.kafka_bootstrap,
                group_prefix=cfg.kafka_group_prefix,
                max_retries=cfg.max_retries,
                retry_backoff_s=cfg.retry_backoff_ms / 1000,
            )
        if not self.paced or self.settings.feed.source is FeedSource.REPLAY:
            # a replay runs every handler inline on tick time, exactly as the research
            # driver does: the clock never runs ahead of the tick being handled
            return DirectBus(max_retries=cfg.max_retries)
        return InProcessBus(
            queue_size=cfg.queue_size,
            tick_overflow=cfg.tick_overflow,
            max_retries=cfg.max_retries,
            retry_backoff_s=cfg.retry_backoff_ms / 1000,
        )

    def _build_services(self) -> None:
        s = self.settings
        feed_cfg = s.feed
        if uses_dump(s):
            check_feed_symbols(s, self.instruments)  # the day's dump: not at hand when settings loaded
        if Namespace.ZERODHA in self.active_namespaces:
            # armed by the typed confirmation; then open while the Kite session is valid
            self.live_gate = LiveGate(self.broker_session)
        if self._strategies is None:
            strategies, enabled = load_strategies(s, self.instruments, live=self.live_gate is not None)
        else:
            strategies, enabled = list(self._strategies), {st.name: True for st in self._strategies}
        self.zerodha: ZerodhaExecution | None = self._zerodha_execution()
        self.feed: FeedService = self._build_feed(strategies)
        if self.zerodha is not None and isinstance(self.feed, ZerodhaFeed):
            ticker = self.feed.ticker
            self.zerodha.socket_up = lambda: ticker.streaming  # else Kite's order book is read instead
        stages = build_trading_stages(
            self.bus,
            s,
            strategies=strategies,
            enabled=enabled,
            instruments=self.instruments,
            calendar=self.calendar,
            clock=self.clock,
            state_store=self.state_store,
            namespaces=self.active_namespaces,
            live_gate=self.live_gate,
        )
        self.strategy_runner = stages.runner
        self.risk = stages.risk
        self.paper = stages.paper
        self.portfolios = stages.portfolios
        self.executions: dict[Namespace, ExecutionClient] = {Namespace.PAPER: self.paper}
        if self.zerodha is not None:
            self.executions[Namespace.ZERODHA] = self.zerodha
        self.trading_control = TradingControl(
            self.bus,
            self.executions,
            self.instruments,
            frozenset(strategy.name for strategy in strategies),
            live_gate=self.live_gate,
            audit=self.audit,
            flatten_on_halt=s.zerodha.flatten_on_halt,
        )
        live_risk = self.risk.get(Namespace.ZERODHA)
        if live_risk is not None:
            live_risk.on_global_latch = self.trading_control.loss_latched
        self.services: list[Service] = [
            self.feed,
            self.strategy_runner,
            *self.risk.values(),
            self.paper,
            *([self.zerodha] if self.zerodha is not None else []),
            *self.portfolios.values(),
            self.trading_control,
        ]
        self.writer: StorageWriter | None = None
        if self.db is not None:
            storage = s.storage
            self.writer = StorageWriter(
                self.bus,
                self.db,
                self.active_namespaces,
                flush_interval_s=storage.flush_interval_ms / 1000,
                max_buffer=storage.max_buffer_events,
                stop_timeout_s=storage.stop_timeout_s,
                journal_path=s.storage_journal,
                fill_journal_path=s.fill_journal if storage.durable_fills else None,
            )
            self.paper.durable_fills = self.writer.fill_journal
            self.services.append(self.writer)
        self.recorder: TickRecorder | None = None
        if feed_cfg.record:
            self.recorder = TickRecorder(self.bus, s.recordings_dir, self.instruments, clock=self.clock)
            self.services.append(self.recorder)
        self.reconciler: Reconciler | None = self._reconciler()
        if self.reconciler is not None:
            self.services.append(self.reconciler)  # started after storage: its first run is at start
        self.day_snapshots = DaySnapshotService(
            self.bus,
            db=self.db,
            namespaces=self.active_namespaces,
            portfolios=self.portfolios,
            clock=self.clock,
            status=self.status,
        )
        self.order_traces = OrderTraceService(self.bus, db=self.db)
        self.services += [self.day_snapshots, self.order_traces]
        self.commands = CommandRouter(
            self.bus,
            self._command_responders(),
            any_of=(CommandAction.CANCEL_ORDER,),
            unavailable=self._commands_unavailable(),
        )
        self.services.insert(0, self.commands)  # wired first: it sees a command before its answers
        for service in self.services:
            service.wire()
        self.bus.subscribe([ENGINE_STATUS], "engine", self._on_command_result)
        self._register_health_checks()

    def _build_feed(self, strategies: Sequence[Strategy]) -> FeedService:
        feed_cfg = self.settings.feed
        if feed_cfg.source is FeedSource.ZERODHA:
            assert self.broker_session is not None  # settings require zerodha.enabled for this feed
            watchlist = self._zerodha_watchlist()
            # paper orders fill against the book: the strategies' instruments need depth while paper trading
            depth_used = Namespace.PAPER in self.active_namespaces
            subscriptions = feed_subscriptions(
                (token for strategy in strategies for token in strategy.instruments),
                (inst.instrument_token for inst in watchlist),
                strategy_mode=TickMode.FULL if depth_used else TickMode.QUOTE,
            )
            return ZerodhaFeed(
                self.bus,
                self.settings.zerodha,
                self.broker_session,
                subscriptions,
                instruments=self.instruments,
                on_order=self.zerodha.on_order_update if self.zerodha is not None else None,
            )
        source: TickSource
        if feed_cfg.source is FeedSource.REPLAY:
            assert feed_cfg.replay_file is not None
            source = ReplayTickSource(feed_cfg.replay_file, self.instruments)
        else:
            source = SimulatedFeed(
                self.instruments.select(feed_cfg.symbols), clock=self.clock, seed=feed_cfg.seed
            )
        return MarketFeedService(
            self.bus,
            source,
            ticks_per_second=feed_cfg.ticks_per_second,
            instruments=self.instruments,
            source_name=feed_cfg.source.value,
            paced=self.paced,
            replay_clock=self.clock if isinstance(self.clock, ManualClock) else None,
            on_failure=self._feed_failed,
        )

    def _zerodha_watchlist(self) -> list[Instrument]:
        """`feed.symbols`; without any, the shipped sample's instruments, as the simulated feed streams."""
        symbols = self.settings.feed.symbols
        if symbols:
            return self.instruments.select(symbols)
        known = (self.instruments.get(inst.instrument_token) for inst in InstrumentRegistry.sample())
        return [inst for inst in known if inst is not None]

    def _zerodha_execution(self) -> ZerodhaExecution | None:
        """Live orders, when the zerodha namespace runs: Kite's session and a database are required."""
        if Namespace.ZERODHA not in self.active_namespaces:
            return None
        if self.kite is None:
            raise ConfigError("the zerodha namespace needs zerodha.enabled = true and a Kite login")
        if self.db is None:
            raise ConfigError("live orders need the database: each is written down before it is sent")
        from engine.zerodha.execution import ZerodhaExecution

        return ZerodhaExecution(
            self.bus,
            self.kite,
            LiveOrderStore(self.db),
            self.instruments,
            self.clock,
            self.settings.zerodha,
            ChargeCalculator(self.settings.charges),
            audit=self.audit,
            may_open=self.live_blocked,
            may_close=self._live_closing_blocked,
        )

    def _live_closing_blocked(self) -> str | None:
        """Closing orders (flatten, also on a halt) pass the kill switch, never the live gate."""
        if self.live_gate is None:
            return "not launched live"
        return self.live_gate.blocking_reason()

    def _reconciler(self) -> Reconciler | None:
        """Kite's book against ours, for a live zerodha namespace with a database."""
        risk = self.risk.get(Namespace.ZERODHA)
        if risk is None or self.kite is None or self.db is None:
            return None
        from engine.zerodha.reconcile import Reconciler

        return Reconciler(
            self.bus,
            self.db,
            self.kite,
            risk,
            self.state_store,
            ChargeCalculator(self.settings.charges),
            interval_s=self.settings.zerodha.reconcile_interval_s,
            audit=self.audit,
            strategies_trading=self._live_strategies_by_instrument,
            reconnects=self._ticker_connections_opened,
            symbol=self.instruments.symbol,
            execution=self.zerodha,
        )

    def _live_strategies_by_instrument(self) -> dict[int, list[str]]:
        trading: dict[int, list[str]] = {}
        for strategy in self.strategy_runner.statuses():
            if Namespace.ZERODHA in strategy.namespaces:
                for token in strategy.instruments:
                    trading.setdefault(token, []).append(strategy.name)
        return trading

    def _ticker_connections_opened(self) -> int:
        """Ticker connections opened so far: one more means the live feed reconnected."""
        if not isinstance(self.feed, ZerodhaFeed):
            return 0
        return sum(connection.opened for connection in self.feed.ticker.connections)

    def _command_responders(self) -> dict[CommandAction, tuple[str, ...]]:
        """The services that must answer each command."""
        risk = tuple(manager.name for manager in self.risk.values())
        control = (self.trading_control.name,)
        return {
            # with live orders on, a halt also cancels them at the broker
            CommandAction.HALT: risk + control if self.zerodha is not None else risk,
            CommandAction.RESUME: risk,
            CommandAction.RESET_LOSS_LATCH: risk,
            CommandAction.STRATEGY_ENABLE: (self.strategy_runner.name,),
            CommandAction.STRATEGY_DISABLE: (self.strategy_runner.name,),
            CommandAction.FEED_PAUSE: (self.feed.name,),
            CommandAction.FEED_RESUME: (self.feed.name,),
            # every broker; the order's owner answers
            CommandAction.CANCEL_ORDER: tuple(execution.name for execution in self.execution_services()),
            CommandAction.ACKNOWLEDGE_MISMATCH: (self.reconciler.name,) if self.reconciler else (),
            CommandAction.FLATTEN: control,
            CommandAction.CONFIRM_LIVE: control,
        }

    def _commands_unavailable(self) -> dict[CommandAction, str]:
        """Why this engine cannot do an action no service of it answers."""
        unavailable: dict[CommandAction, str] = {}
        if self.reconciler is None:
            unavailable[CommandAction.ACKNOWLEDGE_MISMATCH] = (
                "no position mismatch to acknowledge: this engine does not reconcile positions"
                " with Kite (only an engine trading live with Zerodha does)"
            )
        return unavailable

    def execution_services(self) -> list[Service]:
        return [self.paper, *([self.zerodha] if self.zerodha is not None else [])]

    def _register_health_checks(self) -> None:
        s = self.settings
        self.health.register(ConfigCheck(s))
        if self.db is not None:
            self.health.register(DatabaseCheck(self.db))
        self.health.register(DiskSpaceCheck(s.data_dir, s.health.min_free_disk_mb))
        self.health.register(
            PipelineFlowCheck(
                self.bus,
                self.pipeline_stages(),
                max_silence_s=s.health.max_stage_silence_s,
                max_backlog=s.health.max_backlog,
            )
        )
        self.health.register(MarketStatusCheck(self.calendar, self.clock))
        if self.broker_session is not None:
            self.health.register(BrokerSessionCheck(s.zerodha, self.broker_session))
        if self.instruments_dump is not None:
            self.health.register(InstrumentsDumpCheck(self.instruments_dump, in_use=uses_dump(s)))
        if self.writer is not None:
            self.health.register(StorageWriterCheck(self.writer))
        if self.reconciler is not None:
            self.health.register(ReconciliationCheck(self.reconciler))
        self.redis_check: RedisCheck | None = None
        if s.redis.url:
            self.redis_check = RedisCheck(s.redis.url)
            self.health.register(self.redis_check)

    def pipeline_stages(self) -> dict[str, str]:
        """Stage label -> consumer group, in pipeline order."""
        stages = {"strategies": "strategy_runner"}
        for ns in self.active_namespaces:
            stages[f"risk ({ns.value})"] = f"risk.{ns.value}"
        stages["paper execution"] = "execution.paper"
        if self.zerodha is not None:
            stages["live execution"] = self.zerodha.group
        for ns in self.active_namespaces:
            stages[f"portfolio ({ns.value})"] = f"portfolio.{ns.value}"
        if self.writer is not None:
            stages["storage"] = "storage"
        return stages

    # -- lifecycle --------------------------------------------------------------
    async def _load_state(
        self,
    ) -> tuple[dict[Namespace, list[OrderFilled]], dict[Namespace, list[UnresolvedOrder]]]:
        """Connect storage, write back what a crash left in the journal, and read each namespace's
        fills and working orders; the strategies learn their positions from them."""
        if self.db is not None:
            await self.db.connect()
        if self.writer is not None:
            await self.writer.recover()  # what a crash left in the journal, before state is loaded
        fills: dict[Namespace, list[OrderFilled]] = {}
        working: dict[Namespace, list[UnresolvedOrder]] = {}
        for ns in self.active_namespaces:
            fills[ns] = await load_fills(self.db, ns) if self.db is not None else []
            working[ns] = await load_unresolved_orders(self.db, ns) if self.db is not None else []
            intent = working[ns]
            if ns is Namespace.ZERODHA and self.zerodha is not None:
                # live orders a crash kept out of storage still count: else a strategy buys again
                intent = [*intent, *await self.zerodha.unstored_intent()]
            self.strategy_runner.restore_positions(ns, fills[ns], intent)
        return fills, working

    async def _release_database(self) -> None:
        if self.db is not None:
            await self.db.close()
        if self.db_lock is not None:
            await self.db_lock.release()

    async def start(self) -> None:
        self._lifecycle = EngineState.STARTING
        self.settings.ensure_dirs()
        try:
            if self.db_lock is not None:  # before migrations, the journal, the restore and the clean-up
                await self.db_lock.acquire()
            fills, working = await self._load_state()
        except BaseException:
            # nothing runs yet (no bus, no service): let the database go and stop at once
            await self._release_database()
            self._lifecycle = EngineState.STOPPED
            raise
        for service in self.services:
            await service.restore(self._fills_for(service, fills))
        await self.bus.start()
        # the feed last: every consumer has loaded its persisted state before the first tick
        for service in self.services:
            if service is not self.feed and service is not self.reconciler:
                await service.start()
        # paper orders a crash left working died with it: cancel them, stored, before trading
        lost = await self.paper.cancel_unresolved(working.get(self.paper.namespace, ()))
        if lost:
            log.warning("cancelled %d paper orders left working by an earlier run: %s", lost, RESTART_REASON)
        if lost or self.reconciler is not None:
            await self.bus.drain(timeout=10.0)
            if self.writer is not None:
                await self.writer.flush()
        if self.reconciler is not None:
            # its first run reads the database: after what the live execution took up is stored
            await self.reconciler.start()
        if self.kite is not None:
            self.session_verification = await verify_session(
                self.kite, timeout_s=self.settings.zerodha.verify_timeout_s
            )
        await self.feed.start()
        self._started_at = time.monotonic()
        self._lifecycle = EngineState.RUNNING
        if self.paced:
            self._tasks.append(asyncio.create_task(self._publish_status_forever(), name="engine-status"))
        if self.instruments_refresher is not None:
            refresh = self.instruments_refresher.run()
            self._tasks.append(asyncio.create_task(refresh, name="instruments-refresh"))
        log.info(
            "engine started: feed %s, %d strategies, namespaces %s, database %s",
            self.settings.feed.source.value,
            len(self.strategy_runner.statuses()),
            ",".join(ns.value for ns in self.active_namespaces),
            "on" if self.db else "off",
        )

    def _feed_failed(self, error: Exception) -> None:
        """A feed that cannot go on (a tick file that turned bad) ends the run, and says why."""
        self.fatal_error = f"the {self.settings.feed.source.value} feed failed: {error}"
        self._fatal_stop = asyncio.get_running_loop().create_task(self.stop(), name="engine-fatal-stop")

    @staticmethod
    def _fills_for(service: Service, fills: dict[Namespace, list[OrderFilled]]) -> Sequence[OrderFilled]:
        return fills.get(service.namespace, []) if service.namespace is not None else []

    async def stop(self) -> None:
        """Stop the feed, let every queued event be handled, flush storage, close. Idempotent."""
        async with self._stop_lock:
            if self._lifecycle in (EngineState.STOPPED, EngineState.STOPPING):
                return
            self._lifecycle = EngineState.STOPPING
            await cancel_and_wait(*self._tasks)
            self._tasks.clear()
            await self.feed.stop()
            # pending ticks are market data, superseded at stop; every other event is handled
            discarded = self.bus.discard_pending_ticks()
            queued = self.bus.event_backlog()
            if discarded or queued:
                log.info("stopping: %d pending ticks discarded; handling %d queued events", discarded, queued)
            if not await self.bus.drain(timeout=DRAIN_TIMEOUT_S):
                log.error(
                    "bus did not drain in %.0f s; %d events still queued", DRAIN_TIMEOUT_S, self.bus.backlog()
                )
            # a paper order does not outlive the engine: cancel what is still working, stored
            try:
                cancelled = await asyncio.wait_for(self.paper.close(STOP_REASON), timeout=10.0)
            except TimeoutError:
                log.warning("cancelling the working paper orders did not finish in time")
            else:
                if cancelled:
                    log.info("cancelled %d working paper orders: %s", cancelled, STOP_REASON)
                    await self.bus.drain(timeout=10.0)
            for service in reversed(self.services):
                if service is self.feed:
                    continue
                try:
                    await service.stop()
                except Exception:
                    log.exception("error stopping %s", service.name)
            await self._publish_final_status()
            await self.bus.stop()
            self.unwritten_at_stop = self.writer.unwritten if self.writer is not None else 0
            await self._release_database()
            if self.redis_check is not None:
                await self.redis_check.close()
            self._lifecycle = EngineState.STOPPED
            log.info("engine stopped")

    async def _publish_final_status(self) -> None:
        """The last status of the run, so a console does not go on showing the engine as running."""
        try:
            await self.publish_status(msgspec.structs.replace(self.status(), state=EngineState.STOPPED))
            await self.bus.drain(timeout=2.0)
        except Exception:
            log.exception("could not publish the final status")

    async def pump(self, n: int) -> None:
        """Push n feed ticks through the pipeline now (unpaced), and wait until handled."""
        await self.feed.pump(n)
        await self.bus.drain()

    # -- status ---------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        """Running, latched or halted as the risk managers are now (not as they were at start)."""
        return trading_state(self._lifecycle, self.halted, self.latched)

    @property
    def halted(self) -> bool:
        return any(r.halted for r in self.risk.values())

    @property
    def latched(self) -> bool:
        return any(r.latches for r in self.risk.values())

    def status(self) -> EngineStatus:
        published = self.bus.stats.published
        counts = {"signals": 0, "orders": 0, "fills": 0, "rejections": 0}
        for ns in self.active_namespaces:
            topics = TopicMap(ns)
            counts["signals"] += published.get(topics.signals_raw, 0)
            counts["orders"] += published.get(topics.orders_placed, 0)
            counts["fills"] += published.get(topics.orders_filled, 0)
            counts["rejections"] += published.get(topics.signals_rejected, 0)
        halt_reason = next((r.halt_reason for r in self.risk.values() if r.halted), "")
        latches: list[str] = []
        for ns, risk in self.risk.items():
            latches.extend(f"{ns.value}:{name}" for name in risk.latches)
        now = self.clock.now()
        live_blocked = self.live_blocked()
        return EngineStatus(
            state=trading_state(self._lifecycle, self.halted, bool(latches)),
            mode=TradingMode.LIVE if Namespace.ZERODHA in self.active_namespaces else TradingMode.PAPER,
            halted_reason=halt_reason,
            feed_paused=self.feed.paused,
            feed_source=self.settings.feed.source.value,
            tick_rate=self.feed.rate(),
            market_status=self.calendar.describe(now),
            session_ts=now,
            ticks=self.feed.ticks_published,
            dead_letters=self.bus.stats.dead_lettered,
            conflated_ticks=sum(g.conflated for g in self.bus.stats.groups.values()),
            strategies=self.strategy_runner.statuses(),
            health=tuple(
                HealthCheckView(name=r.name, status=r.status.value, message=r.message, critical=r.critical)
                for r in self.last_health
            ),
            loss_latches=tuple(latches),
            stop_reason=self.fatal_error or "",
            broker_session=self._broker_session_text(),
            broker_positions=self._broker_positions(),
            broker_positions_ts=self.reconciler.broker_positions_ts if self.reconciler else 0.0,
            feed_detail=self.feed.detail,
            feed_message=self.feed.message,
            live=live_blocked is None,
            live_detail=(live_blocked or "") if self.live_gate is not None else "",
            live_confirmed=self.live_gate is not None and self.live_gate.confirmed,
            status_ts=time.time(),
            signals=counts["signals"],
            orders=counts["orders"],
            fills=counts["fills"],
            rejections=counts["rejections"],
            live_orders_queued=self.zerodha.queued if self.zerodha is not None else 0,
            live_open_orders=len(self.zerodha.open_orders()) if self.zerodha is not None else 0,
        )

    def _broker_positions(self) -> tuple[PositionView, ...]:
        """The live account's positions as Kite reported them at the last reconciliation."""
        if self.reconciler is None:
            return ()
        return tuple(
            PositionView(
                instrument_token=p.instrument_token,
                quantity=p.quantity,
                average_price=p.average_price,
                last_price=p.last_price,
                realized_pnl=p.realised,
                unrealized_pnl=p.unrealised,
            )
            for p in self.reconciler.broker_positions
        )

    def live_blocked(self) -> str | None:
        """Why no live order can reach the broker now; None when one can."""
        if self.live_gate is None:
            return "not launched live"
        if self._lifecycle is not EngineState.RUNNING:
            return f"the engine is {self._lifecycle.value}"
        zerodha = self.risk.get(Namespace.ZERODHA)
        if zerodha is not None and zerodha.halted:
            return f"halted: {zerodha.halt_reason}"
        blocked = self.live_gate.blocking_reason()
        if blocked is None and Namespace.ZERODHA not in self.executions:
            return "no live execution client"
        return blocked

    def _broker_session_text(self) -> str:
        if self.broker_session is None:
            return ""
        self.broker_session.reload()  # a stat: notices a login or logout made in another terminal
        return self.broker_session.status().describe()

    async def check_health(self) -> list[CheckResult]:
        self.last_health = await self.health.run_all()
        return self.last_health

    async def publish_status(self, status: EngineStatus | None = None) -> None:
        status = status or self.status()
        await self.bus.publish(
            ENGINE_STATUS, make_event(status, namespace=Namespace.SHARED, source="engine", key="engine")
        )

    async def _on_command_result(self, event: Event) -> None:
        """A halt, resume or latch reset was answered: publish the new state now, not in a second."""
        result = event.payload
        if isinstance(result, CommandResult) and result.action in STATE_ACTIONS:
            self._status_due.set()

    async def publish_pending_pnl(self) -> None:
        """P&L that changed since the last ticks carried it out (see PortfolioManager.publish_pending)."""
        for manager in self.portfolios.values():
            await manager.publish_pending()

    async def _publish_status_forever(self) -> None:
        last_health = 0.0
        while True:
            try:
                if time.monotonic() - last_health >= HEALTH_INTERVAL_S:
                    last_health = time.monotonic()
                    await self.check_health()
                await self.publish_pending_pnl()
                await self.publish_status()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("status publisher failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_due.wait(), STATUS_INTERVAL_S)
            self._status_due.clear()

"""The risk manager: one per broker namespace, so paper and zerodha never share risk state.

Every raw signal leaves as either SignalValidated or SignalRejected (naming
the rule and the reason). It also holds the global kill switch and this
namespace's daily-loss latch, both persisted so a restart cannot lift them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from types import MappingProxyType

from engine.bus.base import Bus
from engine.clock import Clock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    MarketTick,
    Namespace,
    OrderFilled,
    OrderType,
    PnlSnapshot,
    Side,
    SignalRejected,
    SignalValidated,
    TradingSignal,
)
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.risk.holds import StrategyHolds
from engine.risk.kill_switch import HALT_STATE_KEY, KillSwitch
from engine.risk.loss_latch import LossLatch, ist_day
from engine.risk.market_view import MarketView
from engine.risk.order_rate import OrderRate
from engine.risk.positions import OpenPosition, PositionBook
from engine.risk.rules import Gate, build_rules
from engine.service import Service
from engine.settings import RiskSettings
from engine.state import StateStore
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap

log = logging.getLogger(__name__)

FLATTEN_REASON = "flatten: daily loss limit"
ORDER_RATE_WINDOW_S = 60.0


class RiskManager(Service):
    namespace: Namespace

    def __init__(
        self,
        bus: Bus,
        namespace: Namespace,
        settings: RiskSettings,
        instruments: InstrumentRegistry,
        calendar: MarketCalendar,
        clock: Clock,
        state_store: StateStore,
        *,
        strategy_names: Collection[str] | None = None,
        live_gate: Gate | None = None,
    ) -> None:
        super().__init__(bus)
        self.topics = TopicMap(namespace)  # refuses a non-broker namespace
        # the strategies a latch reset may name (None: any name)
        self.strategy_names = frozenset(strategy_names) if strategy_names is not None else None
        self.namespace = namespace
        self.name = f"risk.{namespace.value}"
        self.settings = settings
        self.clock = clock
        self.state_store = state_store
        self.latch_key = f"risk:{namespace.value}:latch"
        self.day_key = f"risk:{namespace.value}:day"
        self.holds_key = f"risk:{namespace.value}:holds"

        self._market = MarketView()
        self._book = PositionBook()
        self._rate = OrderRate(ORDER_RATE_WINDOW_S)
        self._switch = KillSwitch()
        self._holds = StrategyHolds()
        self._latch = LossLatch(settings.max_daily_loss_per_strategy, settings.max_daily_loss)
        self._rules = build_rules(
            settings,
            switch=self._switch,
            holds=self._holds,
            latch=self._latch,
            market=self._market,
            book=self._book,
            rate=self._rate,
            instruments=instruments,
            calendar=calendar,
            live_gate=live_gate,
        )
        self.rule_names: tuple[str, ...] = tuple(rule.name for rule in self._rules)
        self._loaded = False
        # told when this namespace's global loss latch trips (the engine cancels the live orders)
        self.on_global_latch: Callable[[str], Awaitable[None]] | None = None

        self._counter_day = -1
        self._validated = 0
        self._rejected = 0
        self._rejections_by_rule: dict[str, int] = {}
        self._flattened = 0

    # -- read-only state -------------------------------------------------------------
    @property
    def halted(self) -> bool:
        return self._switch.halted

    @property
    def halt_reason(self) -> str:
        return self._switch.reason

    @property
    def latches(self) -> Mapping[str, str]:
        """Latched strategy names (and "global") -> why."""
        return MappingProxyType(self._latch.latches())

    @property
    def holds(self) -> Mapping[str, str]:
        """Strategies held until a person acknowledges their position mismatch -> why."""
        return self._holds.reasons

    @property
    def validated(self) -> int:
        """Signals validated today (IST)."""
        return self._validated

    @property
    def rejected(self) -> int:
        """Signals rejected today (IST)."""
        return self._rejected

    @property
    def rejections_by_rule(self) -> Mapping[str, int]:
        return MappingProxyType(dict(self._rejections_by_rule))

    @property
    def flattened(self) -> int:
        """Closing orders issued by the loss latch today (IST)."""
        return self._flattened

    def position(self, strategy_id: str, instrument_token: int) -> int:
        return self._book.quantity(strategy_id, instrument_token)

    def day_pnl(self, strategy_id: str) -> float:
        return self._latch.day_pnl(strategy_id)

    # -- lifecycle ---------------------------------------------------------------------
    def wire(self) -> None:
        topics = self.topics
        self.bus.subscribe(
            [topics.signals_raw, MARKET_TICKS, topics.orders_filled, topics.pnl_snapshots, CONTROL_COMMANDS],
            self.name,
            self._on_event,
        )

    async def restore(self, fills: Sequence[OrderFilled]) -> None:
        self._book.restore(fills)

    async def start(self) -> None:
        await self._load_state()

    async def _load_state(self) -> None:
        """Read the kill switch and latches once. Handlers call this too, so a signal that
        arrives before start() is still judged against the persisted halt."""
        if self._loaded:
            return
        self._switch.load_state(await self.state_store.get_state(HALT_STATE_KEY))
        self._latch.load_latch_state(await self.state_store.get_state(self.latch_key))
        self._latch.load_day_state(await self.state_store.get_state(self.day_key))
        self._holds.load_state(await self.state_store.get_state(self.holds_key))
        self._loaded = True
        if self._switch.halted:
            log.warning("%s: starting halted by the kill switch: %s", self.name, self._switch.reason)
        for name, reason in self._latch.latches().items():
            log.warning("%s: loss latch %s still set: %s", self.name, name, reason)
        for name, reason in self._holds.reasons.items():
            log.warning("%s: strategy %s still held: %s", self.name, name, reason)

    # -- holds (a position mismatch stops one strategy) ---------------------------------------
    async def hold_strategy(self, strategy_id: str, reason: str) -> bool:
        """Stop a strategy's signals until `release_strategy`; False when it was already held."""
        await self._load_state()
        if not self._holds.hold(strategy_id, reason):
            return False
        await self.state_store.put_state(self.holds_key, self._holds.to_state())
        log.warning("%s: strategy %s held: %s", self.name, strategy_id, reason)
        return True

    async def release_strategy(self, strategy_id: str = "") -> list[str]:
        """Release one held strategy, or all of them; the strategies released."""
        await self._load_state()
        released = self._holds.release(strategy_id)
        if released:
            await self.state_store.put_state(self.holds_key, self._holds.to_state())
            log.warning("%s: released %s", self.name, ", ".join(released))
        return released

    # -- dispatch ------------------------------------------------------------------------
    async def _on_event(self, event: Event) -> None:
        payload = event.payload
        if type(payload) is MarketTick:
            self._market.ticks[payload.instrument_token] = payload
        elif isinstance(payload, TradingSignal):
            await self._on_signal(event, payload)
        elif isinstance(payload, OrderFilled):
            self._book.apply(payload)
        elif isinstance(payload, PnlSnapshot):
            await self._on_pnl(event, payload)
        elif isinstance(payload, Command):
            await self._on_command(event, payload)

    # -- signals ---------------------------------------------------------------------------
    async def _on_signal(self, event: Event, signal: TradingSignal) -> None:
        await self._load_state()
        now = self.clock.now()
        self._roll_day(now)
        for rule in self._rules:
            reason = rule.check(signal, now)
            if reason is not None:
                await self._reject(event, signal, rule.name, reason)
                return
        self._rate.record(signal.strategy_id, now)
        self._validated += 1
        validated = SignalValidated(signal=signal, quantity=signal.quantity, rules_passed=self.rule_names)
        await self.bus.publish(
            self.topics.signals_validated,
            event.child(validated, source=self.name, key=signal.strategy_id),
        )

    async def _reject(self, event: Event, signal: TradingSignal, rule: str, reason: str) -> None:
        self._rejected += 1
        self._rejections_by_rule[rule] = self._rejections_by_rule.get(rule, 0) + 1
        log.debug("%s: rejected %s signal by %s: %s", self.name, signal.strategy_id, rule, reason)
        rejected = SignalRejected(signal=signal, rule=rule, reason=reason)
        await self.bus.publish(
            self.topics.signals_rejected,
            event.child(rejected, source=self.name, key=signal.strategy_id),
        )

    def _roll_day(self, now: float) -> int:
        """Start today's counters if the IST day changed; returns the day."""
        day = ist_day(now)
        if day != self._counter_day:
            self._start_counter_day(day)
        return day

    def _start_counter_day(self, day: int) -> None:
        self._counter_day = day
        self._validated = 0
        self._rejected = 0
        self._rejections_by_rule.clear()
        self._flattened = 0

    # -- daily-loss latch ------------------------------------------------------------------
    async def _on_pnl(self, event: Event, snapshot: PnlSnapshot) -> None:
        await self._load_state()
        latch = self._latch
        latched_before = set(latch.strategy_reasons)
        global_before = latch.global_reason is not None
        value = snapshot.realized_pnl + snapshot.unrealized_pnl - snapshot.charges
        seen = latch.observe(self._roll_day(self.clock.now()), snapshot.strategy_id, value)
        if seen.new_baseline:
            await self.state_store.put_state(self.day_key, latch.day_state())
        if seen.strategy_latched is None and seen.global_latched is None:
            return
        await self.state_store.put_state(self.latch_key, latch.latch_state())
        if seen.strategy_latched is not None:
            log.warning("%s: strategy %s latched: %s", self.name, snapshot.strategy_id, seen.strategy_latched)
        if seen.global_latched is not None:
            log.warning("%s: every strategy latched: %s", self.name, seen.global_latched)
            if self.on_global_latch is not None:
                await self.on_global_latch(seen.global_latched)
        if not self.settings.flatten_on_loss_halt or global_before:
            return  # a global latch already flattened everything it could
        if seen.global_latched is not None:
            # strategies latched earlier were flattened then; closing them again would reverse them
            targets = [p for p in self._book.open_positions() if p.strategy_id not in latched_before]
        else:
            targets = list(self._book.open_positions(snapshot.strategy_id))
        for position in targets:
            await self._flatten(event, position)

    async def _flatten(self, cause: Event, position: OpenPosition) -> None:
        token = position.instrument_token
        quantity = abs(position.quantity)
        signal = TradingSignal(
            strategy_id=position.strategy_id,
            instrument_token=token,
            side=Side.SELL if position.quantity > 0 else Side.BUY,
            quantity=quantity,
            reference_price=self._market.last_price(token),
            order_type=OrderType.MARKET,
            product=position.product,
            reason=FLATTEN_REASON,
            signal_ts=self._market.tick_ts(token) or 0.0,
        )
        self._flattened += 1
        await self.bus.publish(
            self.topics.signals_validated,
            cause.child(
                SignalValidated(signal=signal, quantity=quantity, rules_passed=()),
                source=self.name,
                key=position.strategy_id,
            ),
        )

    # -- commands ----------------------------------------------------------------------------
    async def _on_command(self, event: Event, command: Command) -> None:
        await self._load_state()
        action = command.action
        ok = True
        if action is CommandAction.HALT:
            message = await self._halt(command.reason or f"halted by {command.issued_by or 'an operator'}")
        elif action is CommandAction.RESUME:
            message = await self._resume()
        elif action is CommandAction.RESET_LOSS_LATCH:
            ok, message = await self._reset_latch(command.target.strip())
        else:
            return
        result = CommandResult(command_id=event.id, action=action, ok=ok, message=message, service=self.name)
        await self.bus.publish(
            ENGINE_STATUS,
            event.child(result, source=self.name, key=self.name, namespace=Namespace.SHARED),
        )

    async def _halt(self, reason: str) -> str:
        """Engage the kill switch; one already engaged keeps its first reason."""
        ns = self.namespace.value
        if self._switch.halted:
            return f"{ns}: already halted ({self._switch.reason}); reason kept"
        self._switch.halt(reason)
        await self.state_store.put_state(HALT_STATE_KEY, self._switch.to_state())
        log.warning("%s: kill switch engaged: %s", self.name, reason)
        return f"{ns}: trading halted ({reason})"

    async def _resume(self) -> str:
        ns = self.namespace.value
        if not self._switch.halted:
            return f"{ns}: trading was not halted"
        self._switch.resume()
        await self.state_store.put_state(HALT_STATE_KEY, self._switch.to_state())
        log.warning("%s: kill switch released", self.name)
        return f"{ns}: trading resumed"

    async def _reset_latch(self, target: str) -> tuple[bool, str]:
        ns = self.namespace.value
        names = self.strategy_names
        latched = self._latch.strategy_reasons  # may hold a strategy since removed from the config
        if target and names is not None and target not in names and target not in latched:
            known = ", ".join(sorted(names)) or "none"
            return False, f"{ns}: no strategy named {target!r}; known strategies: {known}"
        what = f"strategy {target}" if target else "all strategies and global"
        if not self._latch.reset(target):
            still = " (the global latch is set: resetting every latch lifts it)"
            return (
                True,
                f"{ns}: no daily loss latch set for {what}{still if self._latch.global_reason else ''}",
            )
        await self.state_store.put_state(self.latch_key, self._latch.latch_state())
        await self.state_store.put_state(self.day_key, self._latch.day_state())
        log.warning("%s: loss latch reset for %s", self.name, what)
        return True, f"{ns}: daily loss latch reset for {what}; day P&L now counts from here"

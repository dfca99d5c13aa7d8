"""StrategyRunner: ticks in, each strategy's signals out on its namespaces' raw-signal topics.

Group "strategy_runner" consumes market ticks and control commands. The tick
handler is the hot path: one dict lookup for the instrument's strategies, a
flag check, `on_tick`, and a publish only when there is a signal.

A second group, "strategy_runner.rejections", hears risk rejections, failed
orders and cancelled orders, so a strategy's intended position forgets what
never became a position (only for strategies that trade in a single active
namespace; with two, one refusal cannot say which world the position is in).
After a restart `restore_positions` sets each such strategy's intended
position from storage: the net of its fills plus what its stored working
orders still wanted; the paper broker then cancels those orders, and the
cancellations take that part back like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from engine.bus.base import Bus
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    MarketTick,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    SignalRejected,
    StrategyStatus,
)
from engine.execution.working import UnresolvedOrder
from engine.service import Service
from engine.state import StateStore
from engine.strategies.base import Strategy
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap

log = logging.getLogger(__name__)

SOURCE = "strategy_runner"
GROUP = "strategy_runner"
REJECTIONS_GROUP = "strategy_runner.rejections"
IST_OFFSET_S = 19_800  # +05:30, no daylight saving
SECONDS_PER_DAY = 86_400


def state_key(name: str) -> str:
    """The state-store key of a strategy's persisted enabled flag."""
    return f"strategy:{name}"


class UnknownStrategy(KeyError):
    pass


class _Slot:
    """One strategy as the runner drives it: flag, counters, and its (namespace, topic) targets."""

    __slots__ = ("enabled", "errors", "name", "signals", "strategy", "targets")

    def __init__(self, strategy: Strategy, enabled: bool, targets: tuple[tuple[Namespace, str], ...]) -> None:
        self.strategy = strategy
        self.name = strategy.name
        self.enabled = enabled
        self.targets = targets
        self.signals = 0
        self.errors = 0


class StrategyRunner(Service):
    name = "strategy_runner"

    def __init__(
        self,
        bus: Bus,
        strategies: Sequence[Strategy],
        enabled: Mapping[str, bool],
        state_store: StateStore,
        active_namespaces: tuple[Namespace, ...],
    ) -> None:
        super().__init__(bus)
        self.state_store = state_store
        self.active_namespaces = tuple(active_namespaces)
        self._slots: dict[str, _Slot] = {}
        self._day_end = 0.0  # epoch seconds of the IST midnight that ends the current day
        self._by_token: dict[int, list[_Slot]] = {}
        for strategy in strategies:
            if strategy.name in self._slots:
                raise ValueError(f"two strategies are named {strategy.name!r}; names must be unique")
            targets = tuple(
                (ns, TopicMap(ns).signals_raw) for ns in strategy.namespaces if ns in self.active_namespaces
            )
            slot = _Slot(strategy, enabled.get(strategy.name, True), targets)
            self._slots[strategy.name] = slot
            if not targets:
                continue  # none of its namespaces runs here: it must not even see ticks
            for token in strategy.instruments:
                self._by_token.setdefault(token, []).append(slot)

    # -- wiring -------------------------------------------------------------
    def wire(self) -> None:
        self.bus.subscribe([MARKET_TICKS, CONTROL_COMMANDS], GROUP, self._handle)
        # what downstream refused, so each strategy's intended position follows reality
        feedback_topics = [
            topic
            for ns in self.active_namespaces
            for topic in (
                TopicMap(ns).signals_rejected,
                TopicMap(ns).orders_failed,
                TopicMap(ns).orders_cancelled,
            )
        ]
        if feedback_topics:
            self.bus.subscribe(feedback_topics, REJECTIONS_GROUP, self._on_rejected)

    async def start(self) -> None:
        """Persisted enabled flags override the file's."""
        for name, slot in self._slots.items():
            stored = await self.state_store.get_state(state_key(name))
            if stored is not None and isinstance(stored.get("enabled"), bool):
                slot.enabled = stored["enabled"]

    # -- handlers -----------------------------------------------------------
    async def _handle(self, event: Event) -> None:
        tick = event.payload
        if type(tick) is not MarketTick:
            command = event.payload
            if type(command) is Command:
                await self._on_command(event, command)
            return
        if tick.exchange_ts >= self._day_end:
            self._new_day(tick.exchange_ts)
        slots = self._by_token.get(tick.instrument_token)
        if slots is None:
            return
        for slot in slots:
            if not slot.enabled:
                continue
            try:
                signal = slot.strategy.on_tick(tick)
            except Exception:
                # Caught here, not by the bus: a retry would feed this tick again
                # to every strategy on the instrument.
                slot.errors += 1
                slot.enabled = False
                log.exception("strategy %s raised on a tick and was disabled", slot.name)
                continue
            if signal is None:
                continue
            slot.signals += 1
            for ns, topic in slot.targets:
                await self.bus.publish(topic, event.child(signal, source=SOURCE, key=slot.name, namespace=ns))

    async def _on_command(self, event: Event, command: Command) -> None:
        action = command.action
        if action is CommandAction.STRATEGY_ENABLE:
            enable = True
        elif action is CommandAction.STRATEGY_DISABLE:
            enable = False
        else:
            return
        name = command.target
        if name in self._slots:
            await self.set_enabled(name, enable)
            ok, message = True, f"strategy {name} {'enabled' if enable else 'disabled'}"
            log.info("%s by %s", message, command.issued_by or event.source)
        else:
            known = ", ".join(sorted(self._slots)) or "none"
            ok, message = False, f"no strategy named {name!r}; known strategies: {known}"
        result = CommandResult(command_id=event.id, action=action, ok=ok, message=message, service=self.name)
        await self.bus.publish(
            ENGINE_STATUS, event.child(result, source=SOURCE, key=name, namespace=Namespace.SHARED)
        )

    def _new_day(self, ts: float) -> None:
        """A tick of a new IST day: every strategy starts it flat."""
        if self._day_end:
            for slot in self._slots.values():
                slot.strategy.new_session()
        day = (ts + IST_OFFSET_S) // SECONDS_PER_DAY
        self._day_end = (day + 1) * SECONDS_PER_DAY - IST_OFFSET_S

    async def _on_rejected(self, event: Event) -> None:
        payload = event.payload
        if type(payload) is SignalRejected:
            slot = self._slots.get(payload.signal.strategy_id)
            if slot is not None and len(slot.targets) == 1:
                slot.strategy.undo(payload.signal)
        elif type(payload) is OrderFailed:
            slot = self._slots.get(payload.strategy_id)
            if slot is not None and len(slot.targets) == 1:
                slot.strategy.forget(payload.instrument_token, payload.side, payload.quantity)
        elif type(payload) is OrderCancelled:
            slot = self._slots.get(payload.strategy_id)
            if slot is not None and len(slot.targets) == 1 and payload.side is not None:
                slot.strategy.forget(payload.instrument_token, payload.side, payload.unfilled_quantity)

    # -- restart ------------------------------------------------------------
    def restore_positions(
        self, namespace: Namespace, fills: Iterable[OrderFilled], working: Iterable[UnresolvedOrder] = ()
    ) -> None:
        """Each strategy trading only in `namespace` starts from its stored position there.

        Per (strategy, instrument): the signed sum of the fills, plus the unfilled part of
        the orders still working, which are cancelled once the bus runs (and the
        cancellation takes that part back). The same book the portfolio restores, so a
        long-only strategy that bought before a restart does not buy again after it.
        """
        net: dict[tuple[str, int], int] = {}
        for fill in fills:
            key = (fill.strategy_id, fill.instrument_token)
            net[key] = net.get(key, 0) + fill.side.sign * fill.quantity
        for stored in working:
            order = stored.order
            key = (order.strategy_id, order.instrument_token)
            net[key] = net.get(key, 0) + order.side.sign * stored.remaining
        for (name, token), quantity in net.items():
            slot = self._slots.get(name)
            if slot is None or not quantity:
                continue
            if len(slot.targets) != 1:
                log.warning(
                    "strategy %s trades in several namespaces: its %s position %d in %s is not restored",
                    name,
                    namespace.value,
                    quantity,
                    token,
                )
                continue
            if slot.targets[0][0] is namespace:
                slot.strategy.restore_position(token, quantity)

    # -- control ------------------------------------------------------------
    async def set_enabled(self, name: str, enabled: bool) -> None:
        """Turn a strategy on or off now, and persist the choice."""
        slot = self._slots.get(name)
        if slot is None:
            raise UnknownStrategy(name)
        slot.enabled = enabled
        await self.state_store.put_state(state_key(name), {"enabled": enabled})

    def is_enabled(self, name: str) -> bool:
        return self._slots[name].enabled

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        return tuple(slot.strategy for slot in self._slots.values())

    def statuses(self) -> tuple[StrategyStatus, ...]:
        return tuple(
            StrategyStatus(
                name=slot.name,
                kind=slot.strategy.kind,
                enabled=slot.enabled,
                instruments=slot.strategy.instruments,
                namespaces=slot.strategy.namespaces,
                signals=slot.signals,
                params=tuple((key, str(value)) for key, value in slot.strategy.p.items()),
                orders=slot.strategy.orders.describe(),
            )
            for slot in self._slots.values()
        )

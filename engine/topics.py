"""TopicMap is the only place a topic name is built.

Shared topics carry market data and control; every broker namespace has its
own signal, order and P&L topics, so nothing produced for `paper` can reach
`zerodha` (the bus checks an event's namespace against its topic's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from engine.events import BROKER_NAMESPACES, EventType, Namespace

DLQ_SUFFIX = ".dlq"

MARKET_TICKS = "market.ticks"
CONTROL_COMMANDS = "control.commands"
ENGINE_STATUS = "engine.status"

SHARED_TOPICS: tuple[str, ...] = (MARKET_TICKS, CONTROL_COMMANDS, ENGINE_STATUS)


@dataclass(frozen=True, slots=True)
class TopicMap:
    namespace: Namespace

    def __post_init__(self) -> None:
        if self.namespace not in BROKER_NAMESPACES:
            raise ValueError(f"TopicMap needs a broker namespace, not {self.namespace.value!r}")

    def _topic(self, name: str) -> str:
        return f"{self.namespace.value}.{name}"

    # shared topics are the same for every namespace, offered here so that
    # services ask one object for every name they use
    @property
    def market_ticks(self) -> str:
        return MARKET_TICKS

    @property
    def control_commands(self) -> str:
        return CONTROL_COMMANDS

    @property
    def engine_status(self) -> str:
        return ENGINE_STATUS

    @property
    def signals_raw(self) -> str:
        return self._topic("signals.raw")

    @property
    def signals_validated(self) -> str:
        return self._topic("signals.validated")

    @property
    def signals_rejected(self) -> str:
        return self._topic("signals.rejected")

    @property
    def orders_placed(self) -> str:
        return self._topic("orders.placed")

    @property
    def orders_filled(self) -> str:
        return self._topic("orders.filled")

    @property
    def orders_failed(self) -> str:
        return self._topic("orders.failed")

    @property
    def orders_cancelled(self) -> str:
        return self._topic("orders.cancelled")

    @property
    def pnl_snapshots(self) -> str:
        return self._topic("pnl.snapshots")

    def for_event_type(self, event_type: EventType) -> str:
        """The namespaced topic an event of this type is published on."""
        return {
            EventType.TRADING_SIGNAL: self.signals_raw,
            EventType.SIGNAL_VALIDATED: self.signals_validated,
            EventType.SIGNAL_REJECTED: self.signals_rejected,
            EventType.ORDER_PLACED: self.orders_placed,
            EventType.ORDER_FILLED: self.orders_filled,
            EventType.ORDER_FAILED: self.orders_failed,
            EventType.ORDER_CANCELLED: self.orders_cancelled,
            EventType.PNL_SNAPSHOT: self.pnl_snapshots,
        }[event_type]

    def namespaced_topics(self) -> tuple[str, ...]:
        return (
            self.signals_raw,
            self.signals_validated,
            self.signals_rejected,
            self.orders_placed,
            self.orders_filled,
            self.orders_failed,
            self.orders_cancelled,
            self.pnl_snapshots,
        )

    def order_topics(self) -> tuple[str, ...]:
        return (self.orders_placed, self.orders_filled, self.orders_failed, self.orders_cancelled)


def dlq_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def all_topics() -> tuple[str, ...]:
    topics = list(SHARED_TOPICS)
    for ns in BROKER_NAMESPACES:
        topics.extend(TopicMap(ns).namespaced_topics())
    return tuple(topics)


@cache
def topic_namespace(topic: str) -> Namespace:
    """The namespace a topic belongs to (SHARED for shared topics and their DLQs' origin)."""
    base = topic.removesuffix(DLQ_SUFFIX)
    if base in SHARED_TOPICS:
        return Namespace.SHARED
    for ns in BROKER_NAMESPACES:
        if base in TopicMap(ns).namespaced_topics():
            return ns
    raise ValueError(f"unknown topic {topic!r}: build topic names with TopicMap")


def console_topics(namespaces: Sequence[Namespace], *, ticks: bool = True) -> list[str]:
    """Everything a console shows for these namespaces, and the dead-letter topic of each."""
    topics = [MARKET_TICKS] if ticks else []
    topics += [ENGINE_STATUS, CONTROL_COMMANDS]
    for namespace in dict.fromkeys(namespaces):
        topics.extend(TopicMap(namespace).namespaced_topics())
    return topics + [dlq_topic(t) for t in topics]

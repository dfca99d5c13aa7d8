"""The small bus interface every service is written against.

`publish(topic, event)` and `subscribe(topics, group, handler)`; services never
know which implementation carries their events. Shared here: namespace
segregation, redelivery de-duplication, retry-then-dead-letter, counters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from engine.backoff import Backoff
from engine.dedup import RecentIds
from engine.events import (
    DeadLetter,
    Event,
    EventType,
    Namespace,
    encode_event,
    make_event,
)
from engine.topics import dlq_topic, topic_namespace

Handler = Callable[[Event], Awaitable[None]]

log = logging.getLogger(__name__)


class SegregationError(ValueError):
    """An event was published on, or delivered from, another namespace's topic."""


@dataclass(slots=True)
class GroupStats:
    """Counters for one consumer group; the health registry reads these."""

    group: str
    topics: tuple[str, ...]
    delivered: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    conflated: int = 0
    backlog: int = 0
    last_event_at: float = 0.0  # monotonic seconds; 0 = never


@dataclass(slots=True)
class BusStats:
    published: dict[str, int] = field(default_factory=dict)
    groups: dict[str, GroupStats] = field(default_factory=dict)
    dead_lettered: int = 0
    rejected_segregation: int = 0
    tick_holds: int = 0  # times ticks were held back because other events had piled up
    discarded_ticks: int = 0  # ticks still pending at stop, dropped (market data, not orders)


@dataclass(slots=True)
class Subscription:
    group: str
    topics: tuple[str, ...]
    handler: Handler
    stats: GroupStats
    seen: RecentIds = field(default_factory=RecentIds)  # the redelivery guard


def check_namespace(topic: str, event: Event) -> None:
    """Raise SegregationError if the event does not belong on this topic."""
    expected = topic_namespace(topic)
    if expected is not Namespace.SHARED and event.namespace is not expected:
        raise SegregationError(
            f"{event.namespace.value} event {event.type.value} cannot travel on {topic!r} "
            f"(a {expected.value} topic)"
        )


# a retry waits bus.retry_backoff_ms, then twice that, and so on, never more than this many times it
RETRY_BACKOFF_MAX_STEPS = 8


class Bus(ABC):
    """Publish/subscribe with consumer groups, retries and dead-lettering."""

    def __init__(self, *, max_retries: int = 2, retry_backoff_s: float = 0.01) -> None:
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.stats = BusStats()
        self._subscriptions: dict[str, Subscription] = {}

    # -- interface ----------------------------------------------------------
    @abstractmethod
    async def publish(self, topic: str, event: Event) -> None: ...

    async def publish_many(self, topic: str, events: Sequence[Event]) -> None:
        """Publish events in order; a queued bus overrides it to route a batch at once."""
        for event in events:
            await self.publish(topic, event)

    def subscribe(self, topics: Sequence[str], group: str, handler: Handler) -> None:
        if group in self._subscriptions:
            raise ValueError(f"consumer group {group!r} is already subscribed")
        for topic in topics:
            topic_namespace(topic)  # unknown topic names fail here, at wiring time
        stats = GroupStats(group=group, topics=tuple(topics))
        sub = Subscription(group=group, topics=tuple(topics), handler=handler, stats=stats)
        self._subscriptions[group] = sub
        self.stats.groups[group] = stats
        self._on_subscribe(sub)

    def _on_subscribe(self, sub: Subscription) -> None:  # noqa: B027 - optional hook
        pass

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Deliver what is queued, then stop."""

    def backlog(self) -> int:
        """Events queued and not yet handled, across every group."""
        return 0

    def group_backlog(self, group: str) -> int:
        """Events queued for one consumer group and not yet handled (its lag)."""
        stats = self.stats.groups.get(group)
        return stats.backlog if stats is not None else 0

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued has been handled; True if it was."""
        return True

    def retry_backoff(self) -> Backoff:
        """The delays between one event's (or one send's) attempts."""
        return Backoff(self.retry_backoff_s, cap=self.retry_backoff_s * RETRY_BACKOFF_MAX_STEPS)

    @property
    def ticks_held(self) -> bool:
        """True while the bus holds ticks back so the events already queued can drain."""
        return False

    def event_backlog(self) -> int:
        """Events other than ticks queued and not yet handled, across every group."""
        return 0

    def discard_pending_ticks(self) -> int:
        """Drop ticks queued and not yet handled (at stop); other events stay. Returns how many."""
        return 0

    # -- shared delivery logic ----------------------------------------------
    async def _deliver(self, sub: Subscription, topic: str, event: Event) -> None:
        """Run the handler with redelivery guard, retries and dead-lettering.

        Ticks take the short path (no id memory, no clock read: the queued bus
        stamps `last_event_at` once per batch); everything else is de-duplicated.
        """
        stats = sub.stats
        kind = event.type
        if (
            kind is not EventType.MARKET_TICK
            and kind is not EventType.ENGINE_STATUS
            and sub.seen.seen(event.id)
        ):
            stats.duplicates += 1
            return
        try:
            await sub.handler(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a handler bug must not kill the consumer
            await self._retry(sub, topic, event, exc)
            return
        stats.delivered += 1
        if event.type is not EventType.MARKET_TICK:
            stats.last_event_at = time.monotonic()

    async def _retry(self, sub: Subscription, topic: str, event: Event, exc: Exception) -> None:
        """The handler raised: retry with backoff, then dead-letter and carry on."""
        stats = sub.stats
        attempt = 1
        stats.failed += 1
        backoff = self.retry_backoff()
        while attempt <= self.max_retries:
            stats.retried += 1
            delay = backoff.next_delay()
            if delay:
                await asyncio.sleep(delay)
            try:
                await sub.handler(event)
            except asyncio.CancelledError:
                raise
            except Exception as again:
                attempt += 1
                stats.failed += 1
                exc = again
                continue
            stats.delivered += 1
            stats.last_event_at = time.monotonic()
            return
        await self._dead_letter(sub, topic, event, exc, attempt)

    async def _dead_letter(
        self, sub: Subscription, topic: str, event: Event, exc: BaseException, attempts: int
    ) -> None:
        sub.stats.dead_lettered += 1
        self.stats.dead_lettered += 1
        log.error(
            "dead-lettered %s %s for group %s after %d attempts: %s",
            event.type.value,
            event.id,
            sub.group,
            attempts,
            exc,
        )
        await self.publish_dead_letter(
            topic,
            DeadLetter(
                topic=topic,
                group=sub.group,
                error=f"{type(exc).__name__}: {exc}",
                attempts=attempts,
                original=encode_event(event).decode(),
            ),
            namespace=event.namespace,
            correlation_id=event.correlation_id,
            causation_id=event.id,
        )

    async def publish_dead_letter(
        self,
        topic: str,
        letter: DeadLetter,
        *,
        namespace: Namespace,
        correlation_id: str = "",
        causation_id: str = "",
    ) -> None:
        event = make_event(letter, namespace=namespace, source="bus", key=letter.group)
        if correlation_id:
            event.correlation_id = correlation_id
        event.causation_id = causation_id
        await self.publish(dlq_topic(topic), event)

    def _count_published(self, topic: str) -> None:
        published = self.stats.published
        published[topic] = published.get(topic, 0) + 1

"""The default bus: in-process, one queue and one consumer task per group.

Back-pressure is applied only at the edge of the pipeline: to ticks, never
between stages. A stage publishing a signal, an order or a fill never waits,
so two stages that publish to each other cannot deadlock:

- every non-tick event is appended to its groups' queues at once and never
  dropped (its volume is bounded: non-tick events are caused only by ticks,
  commands and timers);
- a tick is queued only while its group's queue is below `queue_size`;
- when the non-tick backlog across every group passes a high-water mark
  (`queue_size`), the bus holds ticks back until it drains below a low-water
  mark (half of it). Ticks still queued are handled; new ones are held.

A held or overflowing tick is conflated per instrument (CONFLATE: the newest
tick for an instrument replaces a pending one, and the replacement is counted)
or makes the tick publisher, the feed, wait (BLOCK). Only the feed may publish
ticks: in BLOCK mode a consumer that published ticks could wait on itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from enum import StrEnum

from engine.bus.base import Bus, Subscription, check_namespace
from engine.events import Event, EventType, MarketTick, Namespace
from engine.tasks import cancel_and_wait
from engine.topics import topic_namespace


class TickOverflow(StrEnum):
    CONFLATE = "conflate"  # live: keep the newest tick per instrument, count the rest
    BLOCK = "block"  # benchmarks and replays: the feed waits, nothing is conflated


class _GroupQueue:
    __slots__ = ("sub", "items", "overflow", "wakeup", "room", "task", "maxsize", "busy")

    def __init__(self, sub: Subscription, maxsize: int) -> None:
        self.sub = sub
        self.items: deque[tuple[str, Event]] = deque()
        # newest pending tick per (topic, instrument) while ticks cannot be queued
        self.overflow: dict[tuple[str, int], Event] = {}
        self.wakeup = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.task: asyncio.Task[None] | None = None
        self.maxsize = maxsize  # for ticks; other events are always accepted
        self.busy = False  # a handler is running for an item already taken off the queue

    def backlog(self) -> int:
        return len(self.items) + len(self.overflow)


class InProcessBus(Bus):
    def __init__(
        self,
        *,
        queue_size: int = 10_000,
        tick_overflow: TickOverflow = TickOverflow.CONFLATE,
        max_retries: int = 2,
        retry_backoff_s: float = 0.01,
        batch_yield: int = 256,
    ) -> None:
        super().__init__(max_retries=max_retries, retry_backoff_s=retry_backoff_s)
        self.queue_size = queue_size
        self.tick_overflow = tick_overflow
        self.batch_yield = batch_yield
        self.high_water = max(queue_size, 2)
        self.low_water = self.high_water // 2
        self._routes: dict[str, list[_GroupQueue]] = {}
        self._queues: list[_GroupQueue] = []
        self._running = False
        self._pending_events = 0  # non-tick events queued, summed over groups
        self._holding = False  # ticks are held back until the non-tick backlog drains
        self._released = asyncio.Event()  # set while ticks flow (BLOCK publishers wait on it)
        self._released.set()

    def _on_subscribe(self, sub: Subscription) -> None:
        queue = _GroupQueue(sub, self.queue_size)
        self._queues.append(queue)
        for topic in sub.topics:
            self._routes.setdefault(topic, []).append(queue)
        if self._running:
            queue.task = asyncio.create_task(self._consume(queue), name=f"bus:{sub.group}")

    async def start(self) -> None:
        self._running = True
        for queue in self._queues:
            if queue.task is None:
                queue.task = asyncio.create_task(self._consume(queue), name=f"bus:{queue.sub.group}")

    # -- edge back-pressure ---------------------------------------------------
    @property
    def ticks_held(self) -> bool:
        return self._holding

    def event_backlog(self) -> int:
        return self._pending_events

    def _hold_ticks(self) -> None:
        self._holding = True
        self._released.clear()
        self.stats.tick_holds += 1

    def _release_ticks(self) -> None:
        self._holding = False
        self._released.set()
        for queue in self._queues:
            if queue.overflow and not queue.wakeup.is_set():
                queue.wakeup.set()

    # -- publishing -----------------------------------------------------------
    async def publish(self, topic: str, event: Event) -> None:
        try:
            check_namespace(topic, event)
        except Exception:
            self.stats.rejected_segregation += 1
            raise
        self._count_published(topic)
        queues = self._routes.get(topic)
        if not queues:
            return
        if event.type is not EventType.MARKET_TICK:
            for queue in queues:  # never waits, never dropped
                queue.items.append((topic, event))
                if not queue.wakeup.is_set():
                    queue.wakeup.set()
            self._pending_events += len(queues)
            if self._pending_events >= self.high_water and not self._holding:
                self._hold_ticks()
            return
        for queue in queues:
            await self._offer_tick(queue, topic, event)

    async def _offer_tick(self, queue: _GroupQueue, topic: str, event: Event) -> None:
        if not self._holding and not queue.overflow and len(queue.items) < queue.maxsize:
            queue.items.append((topic, event))
        elif self.tick_overflow is TickOverflow.CONFLATE:
            payload = event.payload
            assert isinstance(payload, MarketTick)
            slot = (topic, payload.instrument_token)
            if slot in queue.overflow:
                queue.sub.stats.conflated += 1
            queue.overflow[slot] = event
            if self._holding:
                return  # delivered once the hold is released
        else:
            while self._holding or len(queue.items) >= queue.maxsize:
                if self._holding:
                    await self._released.wait()
                else:
                    queue.room.clear()
                    await queue.room.wait()
            queue.items.append((topic, event))
        if not queue.wakeup.is_set():
            queue.wakeup.set()

    async def publish_many(self, topic: str, events: Sequence[Event]) -> None:
        """A batch of ticks (the feed's) routed once and appended in one go where the queues have room."""
        expected = topic_namespace(topic)
        if expected is not Namespace.SHARED:
            for event in events:
                check_namespace(topic, event)
        queues = self._routes.get(topic, ())
        if (
            not self._holding
            and all(e.type is EventType.MARKET_TICK for e in events)
            and all(not q.overflow and len(q.items) + len(events) <= q.maxsize for q in queues)
        ):
            published = self.stats.published
            published[topic] = published.get(topic, 0) + len(events)
            pairs = [(topic, event) for event in events]
            for queue in queues:
                queue.items.extend(pairs)
                if not queue.wakeup.is_set():
                    queue.wakeup.set()
            return
        for event in events:
            await self.publish(topic, event)

    # -- consuming ------------------------------------------------------------
    async def _consume(self, queue: _GroupQueue) -> None:
        sub = queue.sub
        stats = sub.stats
        items = queue.items
        deliver = self._deliver
        handler = sub.handler
        room = queue.room
        tick_type = EventType.MARKET_TICK
        since_yield = 0
        while True:
            if not items and (not queue.overflow or self._holding):
                room.set()
                stats.backlog = len(queue.overflow)
                queue.wakeup.clear()
                await queue.wakeup.wait()
                continue
            queue.busy = True
            while items:
                topic, event = items.popleft()
                if event.type is tick_type:  # the hot path, inlined
                    try:
                        await handler(event)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        await self._retry(sub, topic, event, exc)
                    else:
                        stats.delivered += 1
                else:
                    self._pending_events -= 1
                    if self._holding and self._pending_events <= self.low_water:
                        self._release_ticks()
                    await deliver(sub, topic, event)
                since_yield += 1
                if since_yield >= self.batch_yield:
                    since_yield = 0
                    room.set()
                    stats.backlog = len(items) + len(queue.overflow)
                    stats.last_event_at = time.monotonic()
                    await asyncio.sleep(0)
            if queue.overflow and not self._holding:
                pending = queue.overflow
                queue.overflow = {}
                for (topic, _token), event in pending.items():
                    await deliver(sub, topic, event)
            if stats.delivered:
                stats.last_event_at = time.monotonic()
            queue.busy = False

    # -- backlog, drain, stop -------------------------------------------------
    def backlog(self) -> int:
        return sum(q.backlog() for q in self._queues)

    def group_backlog(self, group: str) -> int:
        return sum(q.backlog() for q in self._queues if q.sub.group == group)

    def discard_pending_ticks(self) -> int:
        """Drop every tick queued or held (market data, superseded at stop); other events stay."""
        tick_type = EventType.MARKET_TICK
        discarded = 0
        for queue in self._queues:
            kept = [item for item in queue.items if item[1].type is not tick_type]
            discarded += len(queue.items) - len(kept) + len(queue.overflow)
            queue.items.clear()  # in place: the consumer task holds a reference to this deque
            queue.items.extend(kept)
            queue.overflow = {}
            queue.sub.stats.backlog = len(kept)
            queue.room.set()
        self.stats.discarded_ticks += discarded
        return discarded

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queue is empty (or the timeout); True if drained."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.backlog() or any(q.busy for q in self._queues):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.001)
        # one more turn so a handler that just took the last item can finish it
        await asyncio.sleep(0)
        return True

    async def stop(self) -> None:
        await self.drain()
        self._running = False
        for queue in self._queues:
            if queue.task is not None:
                await cancel_and_wait(queue.task)
                queue.task = None

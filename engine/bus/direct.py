"""A bus that runs every handler inline, inside `publish`.

The same services and handlers as the queued bus, with no queue and no task
switch per event: replays and benchmarks drive the pipeline at full speed
and deterministically (depth-first: a tick's signal, risk decision, order and
fill are all handled before `publish` of that tick returns).
"""

from __future__ import annotations

import asyncio

from engine.bus.base import Bus, Subscription, check_namespace
from engine.events import Event, EventType
from engine.topics import MARKET_TICKS


class DirectBus(Bus):
    def __init__(self, *, max_retries: int = 0, retry_backoff_s: float = 0.0) -> None:
        super().__init__(max_retries=max_retries, retry_backoff_s=retry_backoff_s)
        self._routes: dict[str, list[Subscription]] = {}

    def _on_subscribe(self, sub: Subscription) -> None:
        for topic in sub.topics:
            self._routes.setdefault(topic, []).append(sub)

    async def publish(self, topic: str, event: Event) -> None:
        if topic is not MARKET_TICKS:  # ticks are shared: nothing to segregate
            try:
                check_namespace(topic, event)
            except Exception:
                self.stats.rejected_segregation += 1
                raise
        published = self.stats.published
        published[topic] = published.get(topic, 0) + 1
        subs = self._routes.get(topic)
        if not subs:
            return
        if event.type is EventType.MARKET_TICK:
            for sub in subs:  # the hot path, inlined: ticks are not de-duplicated
                try:
                    await sub.handler(event)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._retry(sub, topic, event, exc)
                else:
                    sub.stats.delivered += 1
            return
        for sub in subs:
            await self._deliver(sub, topic, event)

    def backlog(self) -> int:
        return 0

    async def drain(self, timeout: float = 10.0) -> bool:
        return True

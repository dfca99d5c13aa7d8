"""The market feed stage: publishes ticks on MARKET_TICKS.

`FeedService` is what the engine sees of every feed (publication, pause and
resume commands, the tick rate, why it is not streaming); the Zerodha feed
builds on it. `MarketFeedService` pulls ticks from a TickSource. Its paced
mode spends a token bucket filled at `ticks_per_second` by elapsed time,
in small batches every ~15 ms with a real sleep in between, so consumers run
and the rate holds whatever the batch cost. `pump(n)` publishes n ticks now,
unpaced, for replays, benchmarks and tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from engine.bus.base import Bus
from engine.clock import ManualClock
from engine.events import (
    Command,
    CommandAction,
    CommandResult,
    Event,
    MarketTick,
    Namespace,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import TickFileError
from engine.service import Service
from engine.tasks import cancel_and_wait
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS

log = logging.getLogger(__name__)

FEED_GROUP = "feed"
BATCH_INTERVAL_S = 0.015
MAX_CHUNK = 1_000  # ticks pulled and published between yields to the event loop
MAX_BURST_S = 0.25  # after a stall, catch up at most this much time's worth of ticks
RATE_WINDOW_S = 3.0


class TickSource(Protocol):
    """Where ticks come from: the simulator, a tick file, a broker bridge."""

    @property
    def exhausted(self) -> bool:
        """True once the source has no more ticks (a simulator never is, unless limited)."""
        ...

    def next_batch(self, n: int) -> list[MarketTick]:
        """Up to n next ticks; an empty list once exhausted."""
        ...


class FeedService(Service):
    """What the engine sees of any feed: publication on MARKET_TICKS, pause, rate, why it is not streaming.

    Every feed publishes each tick as a `MarketTick` event keyed by its instrument
    token, so strategies, risk, paper fills and recording cannot tell feeds apart.
    """

    name = "feed"

    def __init__(
        self, bus: Bus, *, instruments: InstrumentRegistry | None = None, source_name: str = "simulated"
    ) -> None:
        super().__init__(bus)
        self.source_name = source_name
        self.ticks_published = 0
        self.finished = asyncio.Event()  # set once the source is exhausted (or failed); a live feed never is
        self.error: Exception | None = None  # why the feed stopped early, if it did
        self._keys: dict[int, str] = {inst.instrument_token: inst.key for inst in instruments or ()}
        self._paused = False
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._samples: deque[tuple[float, int]] = deque()

    def wire(self) -> None:
        self.bus.subscribe([CONTROL_COMMANDS], FEED_GROUP, self._on_command)

    @property
    def detail(self) -> str:
        """Why the feed is not streaming (waiting for a login, reconnecting); "" when it is."""
        return ""

    @property
    def message(self) -> str:
        """The broker's latest text message on this feed ("error: ..." / "message: ..."); "" if none."""
        return ""

    async def pump(self, n: int) -> int:
        """Publish up to n ticks now, unpaced; a feed without ticks of its own to hand publishes none."""
        return 0

    # -- control ----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> bool:
        """Stop publication; False if it already was paused."""
        if self._paused:
            return False
        self._paused = True
        self._resumed.clear()
        return True

    def resume(self) -> bool:
        """Resume publication; False if it was not paused."""
        if not self._paused:
            return False
        self._paused = False
        self._resumed.set()
        return True

    async def _on_command(self, event: Event) -> None:
        command = event.payload
        if not isinstance(command, Command):
            return
        if command.action is CommandAction.FEED_PAUSE:
            message = "feed paused" if self.pause() else "feed already paused"
        elif command.action is CommandAction.FEED_RESUME:
            message = "feed resumed" if self.resume() else "feed was not paused"
        else:
            return
        result = CommandResult(
            command_id=event.id, action=command.action, ok=True, message=message, service=self.name
        )
        await self.bus.publish(ENGINE_STATUS, event.child(result, source=self.name, key=FEED_GROUP))

    # -- publication ------------------------------------------------------------
    async def publish_ticks(self, batch: list[MarketTick]) -> None:
        """One batch onto MARKET_TICKS, each tick keyed by its instrument."""
        keys = self._keys
        shared = Namespace.SHARED
        source = self.name
        events = []
        for tick in batch:
            token = tick.instrument_token
            key = keys.get(token)
            if key is None:
                key = keys[token] = str(token)
            events.append(make_event(tick, namespace=shared, source=source, key=key))
        await self.bus.publish_many(MARKET_TICKS, events)
        self.ticks_published += len(events)

    # -- measurement ------------------------------------------------------------
    def _sample(self) -> None:
        now = time.monotonic()
        samples = self._samples
        samples.append((now, self.ticks_published))
        cutoff = now - RATE_WINDOW_S
        while len(samples) > 2 and samples[1][0] <= cutoff:
            samples.popleft()

    def rate(self) -> float:
        """Ticks per second published over the last few seconds."""
        self._sample()
        samples = self._samples
        now = samples[-1][0]
        start, count = samples[0]
        span = now - start
        return (self.ticks_published - count) / span if span > 0 else 0.0


class MarketFeedService(FeedService):
    """A feed that pulls its ticks from a `TickSource` (the simulator, a tick file), paced or pumped."""

    def __init__(
        self,
        bus: Bus,
        source: TickSource,
        *,
        ticks_per_second: float = 50.0,
        instruments: InstrumentRegistry | None = None,
        source_name: str = "simulated",
        paced: bool = True,
        batch_interval_s: float = BATCH_INTERVAL_S,
        replay_clock: ManualClock | None = None,
        on_failure: Callable[[Exception], None] | None = None,
    ) -> None:
        super().__init__(bus, instruments=instruments, source_name=source_name)
        if ticks_per_second <= 0:
            raise ValueError(f"ticks_per_second must be positive, got {ticks_per_second}")
        self.source = source
        self.ticks_per_second = ticks_per_second
        self.paced = paced
        self._on_failure = on_failure  # told why, before `finished` is set
        self._interval = batch_interval_s
        self._replay_clock = replay_clock
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        self._sample()
        if self.paced and self._task is None:
            self._task = asyncio.create_task(self._run_paced(), name="feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    # -- publication ----------------------------------------------------------
    async def pump(self, n: int) -> int:
        """Publish up to n ticks now, unpaced and regardless of pause; returns how many."""
        published = await self._emit(n, respect_pause=False)
        self._sample()
        return published

    async def _run_paced(self) -> None:
        try:
            await self._pace()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bad tick file row, a broken source: stop feeding, say why
            if isinstance(exc, TickFileError):  # names file, line and column: no traceback needed
                log.error("the %s feed stopped: %s", self.source_name, exc)
            else:
                log.exception("the %s feed stopped", self.source_name)
            self.error = exc
            if self._on_failure is not None:
                self._on_failure(exc)
            self.finished.set()

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        credit = 0.0
        last = loop.time()
        while not self.finished.is_set():
            if self._paused:
                await self._resumed.wait()
                credit, last = 0.0, loop.time()  # no burst to make up for the pause
                continue
            now = loop.time()
            rate = self.ticks_per_second
            credit = min(credit + (now - last) * rate, max(1.0, rate * MAX_BURST_S))
            last = now
            due = int(credit)
            if due:
                credit -= due
                await self._emit(due, respect_pause=True)
            self._sample()
            await asyncio.sleep(max(0.0, self._interval - (loop.time() - now)))

    async def _emit(self, n: int, *, respect_pause: bool) -> int:
        done = 0
        source = self.source
        async with self._lock:
            while done < n and not self.finished.is_set():
                if respect_pause and self._paused:
                    break
                batch = source.next_batch(min(MAX_CHUNK, n - done))
                if batch:
                    await self._publish(batch)
                    done += len(batch)
                if not batch or source.exhausted:
                    self.finished.set()
                elif done < n:
                    await asyncio.sleep(0)
        return done

    async def _publish(self, batch: list[MarketTick]) -> None:
        clock = self._replay_clock
        if clock is None:
            await self.publish_ticks(batch)
            return
        publish = self.bus.publish
        keys = self._keys
        shared = Namespace.SHARED
        source = self.name
        for tick in batch:  # a replay clock follows each tick, so publish one by one
            token = tick.instrument_token
            key = keys.get(token)
            if key is None:
                key = keys[token] = str(token)
            clock.set(tick.exchange_ts)
            await publish(MARKET_TICKS, make_event(tick, namespace=shared, source=source, key=key))
            self.ticks_published += 1

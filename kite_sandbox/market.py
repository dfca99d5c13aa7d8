"""The sandbox's market: the simulated NSE feed stepped in real time at a set rate per instrument,
keeping every instrument's latest tick for snapshots and quotes."""

from __future__ import annotations

from engine.clock import Clock, WallClock
from engine.events import MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.simulated import SimulatedFeed


class SandboxMarket:
    def __init__(
        self,
        registry: InstrumentRegistry,
        *,
        seed: int,
        updates_per_instrument_s: float,
        clock: Clock | None = None,
    ) -> None:
        if updates_per_instrument_s <= 0:
            raise ValueError(f"updates_per_instrument_s must be positive (got {updates_per_instrument_s})")
        self.registry = registry
        self._feed = SimulatedFeed(list(registry), clock=clock or WallClock(), seed=seed)
        self._rate = updates_per_instrument_s * len(registry)
        self._carry = 0.0
        self.latest: dict[int, MarketTick] = {}
        self._record(self._feed.next_batch(len(registry)))  # every instrument has a price from the start

    def step(self, elapsed_s: float) -> list[MarketTick]:
        """The ticks of the last `elapsed_s` seconds, round-robin over the instruments."""
        due = self._carry + self._rate * elapsed_s
        count = int(due)
        self._carry = due - count
        if count <= 0:
            return []
        ticks = self._feed.next_batch(count)
        self._record(ticks)
        return ticks

    def _record(self, ticks: list[MarketTick]) -> None:
        latest = self.latest
        for tick in ticks:
            latest[tick.instrument_token] = tick

"""The sandbox's market: the simulated NSE feed stepped in real time at a set rate per instrument
(NFO contracts ticking with their underlying index, kite_sandbox.derivatives), keeping every
instrument's latest tick for snapshots, quotes and the order desk. A test may pin an instrument's
price and book (`set_book`): its ticks then carry exactly that book until unpinned."""

from __future__ import annotations

import time
from collections.abc import Sequence

import msgspec

from engine.clock import Clock, WallClock
from engine.events import DepthLevel, MarketTick
from engine.instruments import InstrumentRegistry
from engine.market.simulated import SimulatedFeed
from kite_sandbox.derivatives import IndexDerivatives, priced_from_index

Level = tuple[float, int]  # (price, quantity)


class PinnedBook(msgspec.Struct, frozen=True):
    last_price: float
    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]


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
        walking = [inst for inst in registry if not priced_from_index(inst, registry)]
        self._derivatives = IndexDerivatives([inst for inst in registry if priced_from_index(inst, registry)])
        self._feed = SimulatedFeed(walking, clock=clock or WallClock(), seed=seed)
        self._rate = updates_per_instrument_s * len(walking)
        self._carry = 0.0
        self._pinned: dict[int, PinnedBook] = {}
        self.latest: dict[int, MarketTick] = {}
        # every instrument has a price from the start
        self._record(self._derivatives.follow(self._feed.next_batch(len(walking))))

    def step(self, elapsed_s: float) -> list[MarketTick]:
        """The ticks of the last `elapsed_s` seconds, round-robin over the instruments."""
        due = self._carry + self._rate * elapsed_s
        count = int(due)
        self._carry = due - count
        if count <= 0:
            return []
        ticks = self._feed.next_batch(count)
        if self._derivatives:
            ticks = self._derivatives.follow(ticks)
        if self._pinned:
            ticks = [self._apply_pin(tick) for tick in ticks]
        self._record(ticks)
        return ticks

    def set_book(
        self, instrument_token: int, last_price: float, bids: Sequence[Level], asks: Sequence[Level]
    ) -> MarketTick:
        """Pin an instrument's last price and depth (best level first); its latest tick changes now.
        For tests and demos: the order desk then fills against exactly this book on every tick."""
        if instrument_token not in self.latest:
            raise KeyError(f"no instrument with token {instrument_token} in the sandbox's market")
        self._pinned[instrument_token] = PinnedBook(
            last_price,
            tuple(DepthLevel(price, quantity, 1) for price, quantity in bids),
            tuple(DepthLevel(price, quantity, 1) for price, quantity in asks),
        )
        tick = self._apply_pin(self.latest[instrument_token])
        self.latest[instrument_token] = tick
        return tick

    def pinned_tick(self, instrument_token: int) -> MarketTick:
        """A new tick of a pinned instrument now (fresh depth), recorded as its latest."""
        if instrument_token not in self._pinned:
            raise KeyError(f"instrument {instrument_token} is not pinned: set_book() first")
        latest = self.latest[instrument_token]
        tick = msgspec.structs.replace(latest, exchange_ts=max(time.time(), latest.exchange_ts + 1e-6))
        self.latest[instrument_token] = tick
        return tick

    def unpin(self, instrument_token: int) -> None:
        """Let the instrument's price walk again."""
        self._pinned.pop(instrument_token, None)

    def _apply_pin(self, tick: MarketTick) -> MarketTick:
        pin = self._pinned.get(tick.instrument_token)
        if pin is None:
            return tick
        price = pin.last_price
        return msgspec.structs.replace(
            tick,
            last_price=price,
            high=max(tick.high, price),
            low=min(tick.low, price) if tick.low else price,
            change=(price - tick.close) * 100.0 / tick.close if tick.close else 0.0,
            bids=pin.bids,
            asks=pin.asks,
        )

    def _record(self, ticks: list[MarketTick]) -> None:
        latest = self.latest
        for tick in ticks:
            latest[tick.instrument_token] = tick

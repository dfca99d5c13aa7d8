"""The tick pane's model: the latest quote of every instrument, and the recent ticks by event id."""

from __future__ import annotations

from collections.abc import Callable

from engine.events import Event, MarketTick
from engine.instruments import InstrumentRegistry
from viewmodels.rows import SPARK_INTERVAL_S, TickRow

RECENT_TICKS = 4_096  # ticks remembered by event id, to show a signal's causing tick


class TickPane:
    """One row per instrument, in the instrument registry's order, mutated in place on every tick."""

    def __init__(self, instruments: InstrumentRegistry, symbol: Callable[[int], str]) -> None:
        self._symbol = symbol
        self._display_order: dict[int, int] = {i.instrument_token: n for n, i in enumerate(instruments)}
        self.by_token: dict[int, TickRow] = {}
        self.rows: list[TickRow] = []
        self.seen = 0  # ticks folded in
        self._recent: dict[str, Event] = {}
        self._recent_ring: list[str | None] = [None] * RECENT_TICKS
        self._recent_pos = 0

    @property
    def revision(self) -> int:
        # every tick changes the pane, so the count of ticks is its revision: no second counter per tick
        return self.seen

    def apply(self, event: Event, tick: MarketTick) -> None:
        self.seen += 1
        token = tick.instrument_token
        row = self.by_token.get(token)
        if row is None:
            row = self._add_row(token)
        price = tick.last_price
        previous = row.last_price
        row.direction = (1 if price > previous else -1 if price < previous else 0) if previous else 0
        row.last_price = price
        row.change_pct = tick.change
        row.volume = tick.volume
        bids = tick.bids
        asks = tick.asks
        row.bid = bids[0].price if bids else 0.0
        row.ask = asks[0].price if asks else 0.0
        ts = tick.exchange_ts
        row.exchange_ts = ts
        if ts - row.spark_ts >= SPARK_INTERVAL_S:
            row.spark.append(price)
            row.spark_ts = ts
        row.version += 1
        # remember the tick by id in a fixed ring, so a signal can show what caused it
        ring = self._recent_ring
        pos = self._recent_pos
        old = ring[pos]
        recent = self._recent
        if old is not None:
            recent.pop(old, None)
        ring[pos] = event.id
        recent[event.id] = event
        self._recent_pos = (pos + 1) % RECENT_TICKS

    def _add_row(self, token: int) -> TickRow:
        row = TickRow(token, self._symbol(token))
        self.by_token[token] = row
        self.rows.append(row)
        last = len(self._display_order)
        self.rows.sort(key=lambda r: (self._display_order.get(r.token, last), r.token))
        return row

    def recent(self, event_id: str) -> Event | None:
        """A tick seen lately, by its event id (None once it left the window of RECENT_TICKS)."""
        return self._recent.get(event_id)

    def recent_count(self) -> int:
        return len(self._recent)

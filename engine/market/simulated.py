"""A seeded, reproducible simulated NSE feed with Kite-style full-mode ticks.

Each instrument's price is a mean-reverting random walk in whole ticks around
its seed price (`Instrument.last_price`, which is also the previous close), so
the day's range looks like a real session and never wanders into the
circuit band however long the simulation runs. The tick carries what Kite's
full mode carries: last trade price and quantity, cumulative volume, VWAP,
total buy/sell quantity, day OHLC, change versus the previous close and five
levels of depth (indices, as on Kite, carry price fields only).

The generator is plain synchronous code on the hot path: prices are integers
counted in ticks and turned into rupees by one division (exact for tick sizes
such as 0.05), order-book quantities come from a precomputed seeded pool, and
the clock is read once per batch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from engine.clock import Clock
from engine.events import DepthLevel, MarketTick
from engine.instruments import Instrument
from engine.market.calendar import IST, MarketCalendar

TICK_SPACING_S = 1e-6  # exchange-time step between consecutive simulated ticks
DEFAULT_TICK_SIZE = 0.05  # used when an instrument has none (the index rows of the instruments dump)
DEPTH_LEVELS = 5

# Per-tick volatility of the walk, in basis points of the price, and the pull back
# towards the seed price per tick: together a stationary spread of about 3%.
VOLATILITY_BPS = 2.0
MEAN_REVERSION = 2e-5
SPREAD_BPS = 0.5  # quoted spread, at least one tick
TRADE_VALUE = 200_000.0  # rupees; the largest single trade is about this big
BOOK_POOL_SIZE = 1024

# The triangular draw u1 + u2 - 1 has standard deviation 1/sqrt(6).
_TRIANGULAR_SCALE = 6**0.5
# int(x + _ROUND_OFFSET) - _ROUND_BIAS rounds half up for any step this walk can take,
# without the cost of round().
_ROUND_BIAS = 1 << 20
_ROUND_OFFSET = _ROUND_BIAS + 0.5


class _Book:
    """One instrument's session state; prices in whole ticks."""

    __slots__ = (
        "anchor",
        "buy_quantity",
        "change_factor",
        "close",
        "close_level",
        "high",
        "is_index",
        "last_price",
        "level",
        "low",
        "max_buy_sell",
        "min_buy_sell",
        "open",
        "orders_pool",
        "per_rupee",
        "qty_pool",
        "sell_quantity",
        "sigma",
        "spread",
        "token",
        "trade_max",
        "turnover",
        "volume",
        "walk_step",
    )

    def __init__(self, instrument: Instrument, rng: random.Random) -> None:
        tick = instrument.tick_size if instrument.tick_size > 0 else DEFAULT_TICK_SIZE
        self.token = instrument.instrument_token
        self.per_rupee = 1.0 / tick
        self.is_index = not instrument.tradable
        seed_price = instrument.last_price if instrument.last_price > 0 else 100.0
        self.level = max(1, round(seed_price * self.per_rupee))
        self.anchor = self.level
        self.close_level = self.level
        self.close = self.level / self.per_rupee
        self.change_factor = 100.0 / self.close
        self.last_price = self.close
        self.sigma = self.level * VOLATILITY_BPS * 1e-4 * _TRIANGULAR_SCALE
        self.spread = max(1, round(self.level * SPREAD_BPS * 1e-4))
        self.trade_max = max(1, int(TRADE_VALUE / self.close))
        self.walk_step = self.trade_max * 20
        self.min_buy_sell = self.trade_max * 50
        self.max_buy_sell = self.trade_max * 5000
        self.buy_quantity = self.trade_max * 1000 + rng.randrange(self.trade_max * 500)
        self.sell_quantity = self.trade_max * 1000 + rng.randrange(self.trade_max * 500)
        # order-book quantities and order counts, read at a random offset per tick
        depth_max = self.trade_max * 8
        self.qty_pool = [1 + int(rng.random() ** 2 * depth_max) for _ in range(BOOK_POOL_SIZE)]
        self.orders_pool = [1 + min(q // max(1, self.trade_max // 4), 40) for q in self.qty_pool]
        self.new_session()

    def new_session(self) -> None:
        """Start a trading day: yesterday's last price becomes the close."""
        self.close_level = self.level
        self.close = self.level / self.per_rupee
        self.change_factor = 100.0 / self.close
        self.open = 0.0  # set by the day's first tick
        self.high = 0.0
        self.low = 0.0
        self.volume = 0
        self.turnover = 0.0


class SimulatedFeed:
    """A `TickSource` that never runs dry: round-robin ticks over the instruments."""

    exhausted = False

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        clock: Clock,
        seed: int = 42,
        depth: bool = True,
    ) -> None:
        if not instruments:
            raise ValueError("the simulated feed needs at least one instrument")
        self._clock = clock
        self._rng = random.Random(seed)
        self._books = [_Book(inst, self._rng) for inst in instruments]
        self._depth = depth
        self._cursor = 0
        self._last_ts = 0.0
        self._day_end = 0.0  # epoch seconds of the midnight (IST) that ends the current day

    @property
    def instruments(self) -> list[int]:
        return [book.token for book in self._books]

    def next_batch(self, n: int) -> list[MarketTick]:
        # exchange time strictly increases tick by tick, even on a frozen clock:
        # "the next tick" (paper fills) is then always a later tick
        ts = self._clock.now()
        if ts <= self._last_ts:
            ts = self._last_ts + TICK_SPACING_S
        if ts >= self._day_end:
            self._start_day(ts)
        ts -= TICK_SPACING_S
        spacing = TICK_SPACING_S
        books = self._books
        count = len(books)
        cursor = self._cursor
        rnd = self._rng.random
        depth = self._depth
        tick_cls = MarketTick
        level_cls = DepthLevel
        out: list[MarketTick] = []
        append = out.append
        for _ in range(n):
            ts += spacing
            book = books[cursor]
            cursor += 1
            if cursor == count:
                cursor = 0
            previous = book.level
            step = (rnd() + rnd() - 1.0) * book.sigma - (previous - book.anchor) * MEAN_REVERSION
            level = previous + int(step + _ROUND_OFFSET) - _ROUND_BIAS
            if level < 1:
                level = 1
            book.level = level
            per = book.per_rupee
            price = level / per
            book.last_price = price
            if book.open == 0.0:
                book.open = book.high = book.low = price
            elif price > book.high:
                book.high = price
            elif price < book.low:
                book.low = price
            change = (price - book.close) * book.change_factor
            if book.is_index:
                append(
                    tick_cls(
                        book.token,
                        price,
                        ts,
                        0,
                        0.0,
                        0,
                        0,
                        0,
                        book.open,
                        book.high,
                        book.low,
                        book.close,
                        change,
                    )
                )
                continue
            u = rnd()
            quantity = 1 + int(u * u * u * book.trade_max)
            volume = book.volume + quantity
            book.volume = volume
            turnover = book.turnover + price * quantity
            book.turnover = turnover
            average = int(turnover * 100.0 / volume + 0.5) / 100.0
            w = rnd() - 0.5
            shift = int(w * book.walk_step)
            buy = book.buy_quantity + shift
            sell = book.sell_quantity - shift
            if buy < book.min_buy_sell or buy > book.max_buy_sell:
                buy = book.buy_quantity
            if sell < book.min_buy_sell or sell > book.max_buy_sell:
                sell = book.sell_quantity
            book.buy_quantity = buy
            book.sell_quantity = sell
            if not depth:
                append(
                    tick_cls(
                        book.token,
                        price,
                        ts,
                        quantity,
                        average,
                        volume,
                        buy,
                        sell,
                        book.open,
                        book.high,
                        book.low,
                        book.close,
                        change,
                    )
                )
                continue
            # a buyer lifting the offer trades at the ask, a seller hitting the bid at the bid
            if level > previous or (level == previous and w > 0.0):
                best_ask = level
                best_bid = level - book.spread
            else:
                best_bid = level
                best_ask = level + book.spread
            if best_bid < 1:
                best_bid = 1
                best_ask = 1 + book.spread
            off = int(u * (BOOK_POOL_SIZE - 2 * DEPTH_LEVELS))
            q = book.qty_pool
            o = book.orders_pool
            bids = (
                level_cls(best_bid / per, q[off], o[off]),
                level_cls((best_bid - 1) / per, q[off + 1], o[off + 1]),
                level_cls((best_bid - 2) / per, q[off + 2], o[off + 2]),
                level_cls((best_bid - 3) / per, q[off + 3], o[off + 3]),
                level_cls((best_bid - 4) / per, q[off + 4], o[off + 4]),
            )
            asks = (
                level_cls(best_ask / per, q[off + 5], o[off + 5]),
                level_cls((best_ask + 1) / per, q[off + 6], o[off + 6]),
                level_cls((best_ask + 2) / per, q[off + 7], o[off + 7]),
                level_cls((best_ask + 3) / per, q[off + 8], o[off + 8]),
                level_cls((best_ask + 4) / per, q[off + 9], o[off + 9]),
            )
            append(
                tick_cls(
                    book.token,
                    price,
                    ts,
                    quantity,
                    average,
                    volume,
                    buy,
                    sell,
                    book.open,
                    book.high,
                    book.low,
                    book.close,
                    change,
                    bids,
                    asks,
                )
            )
        self._cursor = cursor
        self._last_ts = ts
        return out

    def _start_day(self, ts: float) -> None:
        """A new IST calendar day: reset each instrument's day statistics."""
        if self._day_end:
            for book in self._books:
                book.new_session()
        day = MarketCalendar.ist(ts).date()
        self._day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), IST).timestamp()

"""One tick's book, taken once: best price first, never beyond a limit, shared by the orders."""

from __future__ import annotations

from engine.events import DepthLevel, MarketTick
from kite_sandbox.matching.liquidity import UNLIMITED, Liquidity


def tick(bids: list[tuple[float, int]], asks: list[tuple[float, int]], last: float = 100.0) -> MarketTick:
    return MarketTick(
        1,
        last,
        0.0,
        bids=tuple(DepthLevel(p, q, 1) for p, q in bids),
        asks=tuple(DepthLevel(p, q, 1) for p, q in asks),
    )


def test_a_buy_walks_up_the_asks_until_its_limit() -> None:
    book = Liquidity(tick([(99.95, 10)], [(100.05, 10), (100.10, 10), (100.50, 10)]))
    assert book.take(True, 25, limit=100.10) == [(100.05, 10), (100.10, 10)]
    assert book.take(True, 25, limit=None) == [(100.50, 10)]  # what the first left


def test_a_sell_walks_down_the_bids() -> None:
    book = Liquidity(tick([(99.95, 10), (99.90, 10)], [(100.05, 10)]))
    assert book.take(False, 15, limit=99.90) == [(99.95, 10), (99.90, 5)]
    assert book.take(False, 15, limit=99.95) == []  # only 99.90 is left, below the limit


def test_a_tick_without_depth_offers_its_last_price_without_limit() -> None:
    book = Liquidity(tick([], [], last=250.0))
    assert book.take(True, 1_000_000, limit=None) == [(250.0, 1_000_000)]
    assert book.asks[0].quantity == UNLIMITED - 1_000_000

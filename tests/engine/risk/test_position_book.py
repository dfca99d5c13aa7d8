from __future__ import annotations

from engine.events import Charges, OrderFilled, Product, Side
from engine.risk.positions import PositionBook


def fill(n: int, side: Side) -> OrderFilled:
    return OrderFilled(
        order_id=f"P-x-{n}",
        trade_id=f"P-x-{n}-1",
        strategy_id="sma",
        instrument_token=738561,
        side=side,
        quantity=1,
        price=100.0,
        product=Product.MIS,
        charges=Charges(),
    )


def test_the_trade_ids_a_book_remembers_stay_bounded_and_the_newest_still_count_once() -> None:
    book = PositionBook()
    capacity = book._trades.capacity
    for n in range(capacity * 2 + 1):
        assert book.apply(fill(n, Side.BUY if n % 2 == 0 else Side.SELL))
    assert book.quantity("sma", 738561) == 1
    assert len(book._trades) == capacity
    assert not book.apply(fill(capacity * 2, Side.BUY))  # a redelivery of the newest fill
    assert book.quantity("sma", 738561) == 1

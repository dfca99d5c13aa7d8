from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.events import Charges, Namespace, OrderFilled, Product, Side
from engine.portfolio import Portfolio, portfolio_id_for

TOKEN = 738561
OTHER = 2953217
_trades = itertools.count(1)


def fill(
    side: Side,
    quantity: int,
    price: float,
    *,
    token: int = TOKEN,
    charges: float = 0.0,
    strategy: str = "sma",
) -> OrderFilled:
    return OrderFilled(
        order_id="P-test-1",
        trade_id=f"P-test-1-{next(_trades)}",
        strategy_id=strategy,
        instrument_token=token,
        side=side,
        quantity=quantity,
        price=price,
        product=Product.MIS,
        charges=Charges(brokerage=charges),
    )


def book(cash: float = 100_000.0) -> Portfolio:
    return Portfolio.for_strategy(Namespace.PAPER, "sma", cash)


def assert_identities(p: Portfolio, fills: list[OrderFilled]) -> None:
    for token in {f.instrument_token for f in fills}:
        signed = sum(f.side.sign * f.quantity for f in fills if f.instrument_token == token)
        assert p.positions[token].quantity == signed
    market = sum(pos.quantity * pos.last_price for pos in p.positions.values())
    assert p.equity == pytest.approx(p.cash + market, abs=1e-6)
    assert p.realized_pnl + p.unrealized_pnl - p.charges == pytest.approx(
        p.equity - p.starting_cash, abs=1e-6
    )
    buys = sum(f.quantity * f.price for f in fills if f.side is Side.BUY)
    sells = sum(f.quantity * f.price for f in fills if f.side is Side.SELL)
    charges = sum(f.charges.total for f in fills)
    assert p.cash == pytest.approx(p.starting_cash - buys + sells - charges, abs=1e-6)
    assert p.charges == pytest.approx(charges, abs=1e-6)


def test_portfolio_id_is_namespace_and_strategy() -> None:
    assert portfolio_id_for(Namespace.ZERODHA, "rsi") == "zerodha:rsi"
    assert book().portfolio_id == "paper:sma"
    with pytest.raises(ValueError, match="paper:sma"):
        Portfolio("unknown_sma", Namespace.PAPER, "sma", 1.0)


def test_a_fill_for_another_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="other"):
        book().apply_fill(fill(Side.BUY, 1, 100.0, strategy="other"))


def test_long_position_averages_in_and_realizes_on_a_partial_close() -> None:
    p = book()
    fills = [fill(Side.BUY, 10, 100.0, charges=5.0), fill(Side.BUY, 10, 110.0, charges=5.0)]
    for f in fills:
        p.apply_fill(f)
    pos = p.positions[TOKEN]
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (20, 105.0, 0.0)
    closing = fill(Side.SELL, 5, 120.0, charges=2.0)
    p.apply_fill(closing)
    fills.append(closing)
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (15, 105.0, 75.0)  # 5 x (120 - 105)
    assert p.mark(TOKEN, 130.0)
    assert pos.unrealized_pnl == 375.0  # 15 x (130 - 105)
    assert p.charges == 12.0
    assert p.cash == 100_000.0 - 1_000.0 - 1_100.0 + 600.0 - 12.0
    assert p.equity == p.cash + 15 * 130.0
    assert_identities(p, fills)


def test_short_position_realizes_when_bought_back() -> None:
    p = book()
    fills = [fill(Side.SELL, 10, 100.0), fill(Side.BUY, 4, 90.0, charges=1.0)]
    for f in fills:
        p.apply_fill(f)
    pos = p.positions[TOKEN]
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (-6, 100.0, 40.0)  # 4 x (100 - 90)
    p.mark(TOKEN, 95.0)
    assert pos.unrealized_pnl == 30.0  # -6 x (95 - 100)
    assert p.cash == 100_000.0 + 1_000.0 - 360.0 - 1.0
    assert_identities(p, fills)


def test_flip_through_zero_closes_then_opens_at_the_fill_price() -> None:
    p = book()
    fills = [fill(Side.BUY, 10, 100.0), fill(Side.SELL, 15, 110.0)]
    for f in fills:
        p.apply_fill(f)
    pos = p.positions[TOKEN]
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (-5, 110.0, 100.0)
    flip_back = fill(Side.BUY, 8, 105.0)
    p.apply_fill(flip_back)
    fills.append(flip_back)
    assert (pos.quantity, pos.average_price, pos.realized_pnl) == (3, 105.0, 125.0)  # +5 x (110 - 105)
    assert_identities(p, fills)


def test_closing_to_flat_leaves_only_realized_pnl() -> None:
    p = book()
    fills = [fill(Side.BUY, 10, 100.0, charges=3.0), fill(Side.SELL, 10, 97.5, charges=3.0)]
    for f in fills:
        p.apply_fill(f)
    pos = p.positions[TOKEN]
    assert (pos.quantity, pos.average_price, pos.realized_pnl, pos.unrealized_pnl) == (0, 0.0, -25.0, 0.0)
    assert p.equity == p.cash == 100_000.0 - 25.0 - 6.0
    assert not p.mark(TOKEN, 120.0)  # nothing held, nothing to mark
    assert p.open_positions == 0
    assert_identities(p, fills)


def test_snapshot_reports_the_book_and_extends_the_equity_curve() -> None:
    p = book()
    p.apply_fill(fill(Side.BUY, 10, 100.0, charges=1.0))
    p.apply_fill(fill(Side.SELL, 5, 50.0, token=OTHER))
    p.mark(TOKEN, 102.0)
    snap = p.snapshot(1_000.0)
    assert (snap.portfolio_id, snap.strategy_id, snap.snapshot_ts) == ("paper:sma", "sma", 1_000.0)
    assert snap.unrealized_pnl == 20.0
    assert snap.charges == 1.0
    assert snap.equity == p.equity == 100_000.0 - 1_000.0 - 1.0 + 250.0 + 1_020.0 - 250.0
    assert {(v.instrument_token, v.quantity) for v in snap.positions} == {(TOKEN, 10), (OTHER, -5)}
    assert list(p.equity_curve) == [(1_000.0, snap.equity)]


def test_equity_curve_is_bounded() -> None:
    p = Portfolio("paper:sma", Namespace.PAPER, "sma", 1.0, curve_points=3)
    for ts in range(5):
        p.snapshot(float(ts))
    assert [ts for ts, _ in p.equity_curve] == [2.0, 3.0, 4.0]


steps = st.lists(
    st.tuples(
        st.sampled_from([TOKEN, OTHER]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=500),
        st.floats(min_value=1.0, max_value=5_000.0, allow_nan=False).map(lambda x: round(x, 2)),
        st.floats(min_value=0.0, max_value=40.0, allow_nan=False).map(lambda x: round(x, 2)),
        st.one_of(st.none(), st.floats(min_value=1.0, max_value=5_000.0).map(lambda x: round(x, 2))),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_identities_hold_over_any_fill_sequence(
    sequence: list[tuple[int, Side, int, float, float, float | None]],
) -> None:
    p = book(1_000_000.0)
    fills: list[OrderFilled] = []
    for token, side, quantity, price, charges, mark in sequence:
        f = fill(side, quantity, price, token=token, charges=charges)
        p.apply_fill(f)
        fills.append(f)
        if mark is not None:
            p.mark(token, mark)
        assert_identities(p, fills)

from __future__ import annotations

import pytest

from engine.events import OrderType, Product
from engine.instruments import InstrumentRegistry
from engine.settings import DEFAULT_FREEZE_QUANTITIES
from engine.zerodha.order_checks import OrderRefused, check_order, on_tick_grid, slices
from tests.kite_sandbox.matching.helpers import NIFTY_FUT

INFY = InstrumentRegistry.sample().get(408065)
assert INFY is not None


def test_prices_on_the_tick_grid_pass_and_off_it_do_not() -> None:
    assert on_tick_grid(1500.05, 0.05) and on_tick_grid(26000.1, 0.1) and on_tick_grid(0.05, 0.05)
    assert not on_tick_grid(1500.03, 0.05) and not on_tick_grid(26000.15, 0.1)


@pytest.mark.parametrize(
    ("quantity", "order_type", "product", "limit", "trigger", "reason"),
    [
        (76, OrderType.MARKET, Product.NRML, None, None, "not a multiple of its lot size 75"),
        (75, OrderType.MARKET, Product.CNC, None, None, "CNC is for equity delivery"),
        (75, OrderType.LIMIT, Product.NRML, 26000.15, None, "not a multiple of its tick size 0.1"),
        (75, OrderType.SL_M, Product.NRML, None, 26000.05, "trigger price 26000.05"),
        (75, OrderType.LIMIT, Product.NRML, None, None, "needs a positive limit price"),
    ],
)
def test_what_kite_would_refuse_is_refused_in_words(
    quantity: int,
    order_type: OrderType,
    product: Product,
    limit: float | None,
    trigger: float | None,
    reason: str,
) -> None:
    with pytest.raises(OrderRefused, match=reason):
        check_order(NIFTY_FUT, quantity, order_type, product, limit, trigger)


def test_equity_cannot_be_nrml() -> None:
    assert INFY is not None
    with pytest.raises(OrderRefused, match="NRML is for derivatives"):
        check_order(INFY, 1, OrderType.MARKET, Product.NRML, None, None)
    check_order(INFY, 1, OrderType.SL, Product.MIS, 1500.0, 1499.95)


def test_an_order_above_the_freeze_quantity_is_sliced_into_whole_lots_or_refused() -> None:
    freeze = DEFAULT_FREEZE_QUANTITIES  # NIFTY: 1800, 24 lots of 75
    assert slices(NIFTY_FUT, 1800, freeze, allow=True) == [1800]
    assert slices(NIFTY_FUT, 4500, freeze, allow=True) == [1800, 1800, 900]
    assert slices(NIFTY_FUT, 4500, {"NIFTY": 1850}, allow=True) == [1800, 1800, 900]
    with pytest.raises(OrderRefused, match=r"above the freeze quantity 1800.*slice_above_freeze is off"):
        slices(NIFTY_FUT, 1875, freeze, allow=False)
    assert INFY is not None
    assert slices(INFY, 100_000, {"INFY": 10}, allow=False) == [100_000]  # equity has no freeze limit

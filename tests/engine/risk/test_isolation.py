"""Paper risk state never touches zerodha's: positions, latches and order rates are per namespace."""

from __future__ import annotations

from engine.events import Charges, OrderFilled, Product, Side
from tests.engine.risk.conftest import PAPER, RELIANCE, TCS, ZERODHA, RiskRig


async def test_positions_and_open_position_counts_are_per_namespace(rig: RiskRig) -> None:
    paper = await rig.add_manager(PAPER, max_open_positions=1)
    zerodha = await rig.add_manager(ZERODHA, max_open_positions=1)
    await rig.tick(RELIANCE, 1400.0, 1400.0)
    await rig.tick(TCS, 3100.0, 3100.0)
    await rig.fill(PAPER, token=RELIANCE, quantity=10)
    assert paper.position("s1", RELIANCE) == 10
    assert zerodha.position("s1", RELIANCE) == 0

    assert (await rig.rejected(PAPER, instrument_token=TCS, reference_price=3100.0)).rule == (
        "max_open_positions"
    )
    await rig.validated(ZERODHA, instrument_token=TCS, reference_price=3100.0)


async def test_a_paper_loss_latch_leaves_zerodha_trading(rig: RiskRig) -> None:
    paper = await rig.add_manager(PAPER, max_daily_loss_per_strategy=1_000.0)
    zerodha = await rig.add_manager(ZERODHA, max_daily_loss_per_strategy=1_000.0)
    await rig.tick()
    await rig.fill(PAPER, quantity=10)
    await rig.fill(ZERODHA, quantity=3)
    await rig.pnl("s1", 0.0, namespace=PAPER)
    cause = await rig.pnl("s1", -2_000.0, namespace=PAPER)

    assert set(paper.latches) == {"s1"}
    assert dict(zerodha.latches) == {}
    (closing,) = rig.flattens(cause)
    assert (closing.side, closing.quantity) == (Side.SELL, 10)
    assert all(e.namespace is PAPER for e in rig.children(cause))

    assert (await rig.rejected(PAPER)).rule == "loss_limit"
    await rig.validated(ZERODHA)
    assert await rig.store.get_state("risk:zerodha:latch") is None


async def test_order_rates_are_per_namespace(rig: RiskRig) -> None:
    await rig.add_manager(PAPER, max_orders_per_minute=1)
    await rig.add_manager(ZERODHA, max_orders_per_minute=1)
    await rig.tick()
    await rig.validated(PAPER)
    assert (await rig.rejected(PAPER)).rule == "max_orders_per_minute"
    await rig.validated(ZERODHA)


async def test_a_redelivered_fill_is_counted_once(rig: RiskRig) -> None:
    paper = await rig.add_manager(PAPER)
    await rig.fill(PAPER, quantity=10)
    fills = [
        OrderFilled(
            order_id="o1",
            trade_id="t1",  # the trade the rig already sent
            strategy_id="s1",
            instrument_token=RELIANCE,
            side=Side.BUY,
            quantity=10,
            price=1400.0,
            product=Product.MIS,
            charges=Charges(),
        ),
        OrderFilled(
            order_id="o2",
            trade_id="t99",
            strategy_id="s1",
            instrument_token=RELIANCE,
            side=Side.SELL,
            quantity=4,
            price=1400.0,
            product=Product.MIS,
            charges=Charges(),
        ),
    ]
    await paper.restore(fills)
    assert paper.position("s1", RELIANCE) == 6

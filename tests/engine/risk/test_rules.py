"""Each rule rejects with its own name and a reason naming the numbers; a good signal passes them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from engine.events import CommandAction, Namespace, OrderType, Side, SignalRejected
from engine.instruments import Instrument, InstrumentRegistry
from engine.market.calendar import IST
from engine.risk.manager import RiskManager
from engine.settings import RiskSettings
from tests.engine.risk.conftest import INFY, NIFTY, RELIANCE, TCS, RiskRig, new_rig

ALL_RULES = (
    "kill_switch",
    "position_mismatch",
    "loss_limit",
    "market_hours",
    "instrument",
    "stale_feed",
    "lot_size",
    "tick_size",
    "max_quantity",
    "price_band",
    "circuit_limit",
    "max_order_value",
    "max_position_value",
    "max_open_positions",
    "max_orders_per_minute",
)


async def test_a_good_signal_passes_every_rule(rig: RiskRig) -> None:
    manager = await rig.add_manager()
    await rig.tick()
    passed = await rig.validated(quantity=10)
    assert passed.quantity == 10
    assert passed.rules_passed == ALL_RULES == manager.rule_names
    assert passed.signal.strategy_id == "s1"
    assert (manager.validated, manager.rejected) == (1, 0)


async def test_a_rejection_is_a_child_on_the_namespace_rejected_topic(rig: RiskRig) -> None:
    manager = await rig.add_manager()
    event = await rig.signal()  # no tick yet
    (child,) = rig.children(event)
    assert isinstance(child.payload, SignalRejected)
    assert child.payload.rule == "stale_feed"
    assert child.correlation_id == event.correlation_id
    assert child.namespace is Namespace.PAPER
    assert rig.bus.stats.published["paper.signals.rejected"] == 1
    assert manager.rejected == 1
    assert dict(manager.rejections_by_rule) == {"stale_feed": 1}


async def test_kill_switch(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.tick()
    await rig.command(CommandAction.HALT, reason="fat finger upstream")
    rejected = await rig.rejected()
    assert rejected.rule == "kill_switch"
    assert rejected.reason == "trading halted by the kill switch: fat finger upstream"


async def test_market_hours_after_the_close(rig: RiskRig) -> None:
    await rig.add_manager()
    rig.clock.set(datetime(2026, 1, 5, 16, 5, tzinfo=IST).timestamp())
    await rig.tick()
    rejected = await rig.rejected()
    assert rejected.rule == "market_hours"
    assert rejected.reason == (
        "market is not open at Mon 05 Jan 16:05 IST (closed; next open Tue 06 Jan 09:15 IST)"
    )


async def test_market_hours_on_a_weekend_and_when_not_enforced(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.add_manager(Namespace.ZERODHA, enforce_market_hours=False)
    rig.clock.set(datetime(2026, 1, 10, 11, 0, tzinfo=IST).timestamp())  # Saturday
    await rig.tick()
    rejected = await rig.rejected()
    assert rejected.rule == "market_hours"
    assert "Sat 10 Jan 11:00 IST (weekend" in rejected.reason
    await rig.validated(Namespace.ZERODHA)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (999, "unknown instrument token 999"),
        (NIFTY, "NIFTY 50 is not tradable (segment INDICES)"),
    ],
)
async def test_instrument(rig: RiskRig, token: int, reason: str) -> None:
    await rig.add_manager()
    await rig.tick(token)
    rejected = await rig.rejected(instrument_token=token)
    assert (rejected.rule, rejected.reason) == ("instrument", reason)


async def test_stale_feed_without_any_tick(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.tick(TCS, 3100.0, 3100.0)
    rejected = await rig.rejected()
    assert (rejected.rule, rejected.reason) == ("stale_feed", "no tick received for RELIANCE")


async def test_stale_feed_when_the_last_tick_is_too_old(rig: RiskRig) -> None:
    await rig.add_manager(max_tick_age_s=5.0)
    await rig.tick()
    rig.clock.advance(5.0)
    await rig.validated()  # exactly at the limit is still fresh
    rig.clock.advance(2.0)
    rejected = await rig.rejected()
    assert rejected.rule == "stale_feed"
    assert rejected.reason == "last tick for RELIANCE is 7.0 s old (max_tick_age_s 5.0)"
    await rig.tick()
    await rig.validated()


async def test_lot_size_needs_a_positive_quantity(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.tick()
    rejected = await rig.rejected(quantity=0)
    assert (rejected.rule, rejected.reason) == (
        "lot_size",
        "quantity 0 is not a positive multiple of lot size 1",
    )


async def test_lot_size_needs_whole_lots() -> None:
    future = Instrument(
        instrument_token=12345,
        exchange_token=48,
        tradingsymbol="NIFTY26JANFUT",
        name="NIFTY",
        last_price=25900.0,
        tick_size=0.1,
        lot_size=75,
        instrument_type="FUT",
        segment="NFO-FUT",
        exchange="NFO",
    )
    rig = new_rig(instruments=InstrumentRegistry([future]))
    await rig.add_manager(max_order_value=1e9, max_position_value=1e9)
    await rig.tick(12345, 25900.0, 25900.0)
    rejected = await rig.rejected(instrument_token=12345, quantity=100, reference_price=25900.0)
    assert (rejected.rule, rejected.reason) == (
        "lot_size",
        "quantity 100 is not a positive multiple of lot size 75",
    )
    await rig.validated(instrument_token=12345, quantity=150, reference_price=25900.0)


async def test_tick_size(rig: RiskRig) -> None:
    await rig.add_manager()
    await rig.tick()
    limit: dict[str, Any] = {"order_type": OrderType.LIMIT}
    rejected = await rig.rejected(limit_price=1400.03, **limit)
    assert rejected.rule == "tick_size"
    assert rejected.reason == "limit 1400.03 is not a multiple of tick size 0.05"
    missing = await rig.rejected(**limit)
    assert (missing.rule, missing.reason) == ("tick_size", "limit order has no limit price")
    # 1400.05 / 0.05 is not a whole number in floating point; it is on the grid all the same
    await rig.validated(limit_price=1400.05, **limit)
    await rig.validated(limit_price=1399.95, **limit)


async def test_max_quantity(rig: RiskRig) -> None:
    await rig.add_manager(max_quantity=1000)
    await rig.tick()
    rejected = await rig.rejected(quantity=5000)
    assert (rejected.rule, rejected.reason) == ("max_quantity", "quantity 5000 exceeds max_quantity 1000")
    await rig.validated(quantity=100)


async def test_price_band_on_a_limit_price(rig: RiskRig) -> None:
    await rig.add_manager(price_band_pct=2.0)
    await rig.tick(price=1400.0)
    rejected = await rig.rejected(order_type=OrderType.LIMIT, limit_price=1510.0)
    assert rejected.rule == "price_band"
    assert rejected.reason == "limit 1510.00 is 7.9% from last price 1400.00 (band 2.0%)"


async def test_price_band_on_a_market_reference_price(rig: RiskRig) -> None:
    await rig.add_manager(price_band_pct=2.0)
    await rig.tick(price=1400.0)
    rejected = await rig.rejected(side=Side.SELL, reference_price=1350.0)
    assert rejected.rule == "price_band"
    assert rejected.reason == "reference 1350.00 is 3.6% from last price 1400.00 (band 2.0%)"
    await rig.validated(side=Side.SELL, reference_price=1380.0)


async def test_circuit_limit(rig: RiskRig) -> None:
    await rig.add_manager(circuit_limit_pct=20.0)
    await rig.tick(price=1700.0, close=1400.0)
    rejected = await rig.rejected(order_type=OrderType.LIMIT, limit_price=1700.0, quantity=1)
    assert rejected.rule == "circuit_limit"
    assert rejected.reason == "limit 1700.00 is 21.4% from previous close 1400.00 (circuit 20.0%)"
    await rig.validated(order_type=OrderType.LIMIT, limit_price=1680.0, quantity=1)


async def test_max_order_value(rig: RiskRig) -> None:
    await rig.add_manager(max_order_value=100_000.0)
    await rig.tick()
    rejected = await rig.rejected(quantity=100)
    assert rejected.rule == "max_order_value"
    assert rejected.reason == "order value 140000.00 (100 x 1400.00) exceeds max_order_value 100000.00"
    await rig.validated(quantity=70)


async def test_max_position_value_counts_the_existing_position(rig: RiskRig) -> None:
    manager = await rig.add_manager(max_position_value=200_000.0)
    await rig.tick()
    await rig.fill(quantity=100)
    assert manager.position("s1", RELIANCE) == 100
    rejected = await rig.rejected(quantity=50)
    assert rejected.rule == "max_position_value"
    assert rejected.reason == (
        "resulting position 150 x 1400.00 = 210000.00 exceeds max_position_value 200000.00"
    )
    await rig.validated(quantity=40)  # 140 x 1400 = 196000
    await rig.validated(side=Side.SELL, quantity=50)  # reducing always fits
    await rig.validated(strategy_id="s2", quantity=100)  # another strategy's position is its own


async def test_max_position_value_lets_a_reducing_order_through_when_already_over(rig: RiskRig) -> None:
    await rig.add_manager(max_position_value=100_000.0, max_order_value=1_000_000.0)
    await rig.tick()
    await rig.fill(quantity=200)  # 280000, over the limit (e.g. the limit was lowered)
    await rig.validated(side=Side.SELL, quantity=50)
    rejected = await rig.rejected(side=Side.SELL, quantity=500)  # flips to -300: bigger than 200
    assert rejected.rule == "max_position_value"
    assert rejected.reason.startswith("resulting position -300 x 1400.00 = 420000.00")


async def test_max_open_positions_only_for_a_new_position(rig: RiskRig) -> None:
    await rig.add_manager(max_open_positions=2)
    for token, price in ((RELIANCE, 1400.0), (TCS, 3100.0), (INFY, 1500.0)):
        await rig.tick(token, price, price)
    await rig.fill(token=RELIANCE, quantity=10)
    await rig.fill(token=TCS, side=Side.SELL, quantity=5, price=3100.0)
    rejected = await rig.rejected(instrument_token=INFY, reference_price=1500.0)
    assert rejected.rule == "max_open_positions"
    assert rejected.reason == "strategy s1 already has 2 open positions (max_open_positions 2)"
    await rig.validated(instrument_token=RELIANCE)  # adds to an open position
    await rig.validated(instrument_token=INFY, reference_price=1500.0, strategy_id="s2")
    await rig.fill(token=TCS, side=Side.BUY, quantity=5, price=3100.0)  # TCS closed
    await rig.validated(instrument_token=INFY, reference_price=1500.0)


async def test_max_orders_per_minute_is_a_sliding_window(rig: RiskRig) -> None:
    await rig.add_manager(max_orders_per_minute=3)
    start = rig.clock.now()
    for offset in (0.0, 10.0, 20.0):
        rig.clock.set(start + offset)
        await rig.tick()
        await rig.validated()
    rig.clock.set(start + 30.0)
    await rig.tick()
    rejected = await rig.rejected()
    assert rejected.rule == "max_orders_per_minute"
    assert rejected.reason == "strategy s1 sent 3 orders in the last 60 s (max_orders_per_minute 3)"
    await rig.validated(strategy_id="s2")  # per strategy
    rig.clock.set(start + 60.5)  # the first order has left the window
    await rig.tick()
    await rig.validated()
    await rig.rejected()


async def test_rejected_signals_do_not_count_towards_the_order_rate(rig: RiskRig) -> None:
    await rig.add_manager(max_orders_per_minute=2)
    await rig.tick()
    for _ in range(5):
        await rig.rejected(quantity=0)
    await rig.validated()
    await rig.validated()
    assert (await rig.rejected()).rule == "max_orders_per_minute"


async def test_rules_run_in_order_and_the_first_failure_is_reported(rig: RiskRig) -> None:
    await rig.add_manager(max_quantity=10)
    # unknown instrument, no tick, bad quantity: the instrument rule comes first
    rejected = await rig.rejected(instrument_token=999, quantity=0)
    assert rejected.rule == "instrument"


def test_a_risk_manager_needs_a_broker_namespace() -> None:
    rig = new_rig()
    with pytest.raises(ValueError, match="broker namespace"):
        RiskManager(
            rig.bus, Namespace.SHARED, RiskSettings(), rig.instruments, rig.calendar, rig.clock, rig.store
        )

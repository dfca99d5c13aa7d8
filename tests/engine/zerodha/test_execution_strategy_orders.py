"""A live strategy's order settings from the strategies TOML reach Kite as configured: product, order
type, limit and trigger prices, through the real kiteconnect client to the sandbox."""

from __future__ import annotations

import time
from pathlib import Path

from engine.events import (
    MarketTick,
    Namespace,
    OrderPlaced,
    OrderType,
    Product,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.settings import StrategySettings, load_settings
from engine.strategies.base import Strategy
from engine.strategies.loader import load_strategies
from engine.zerodha.order_store import LiveState
from tests.engine.zerodha.live_harness import ZERODHA, Live, live_desk
from tests.kite_sandbox.matching.helpers import INFY, pin

STRATEGIES = """
[[strategy]]
name = "delivery_dip"
kind = "sma_crossover"
instruments = ["INFY"]
namespaces = ["zerodha"]
product = "CNC"
order_type = "LIMIT"
limit_offset_ticks = -4

[[strategy]]
name = "stop_out"
kind = "sma_crossover"
instruments = ["INFY"]
namespaces = ["zerodha"]
order_type = "SL"
trigger_offset_bps = 20
limit_offset_ticks = 1
"""


def strategies(tmp_path: Path) -> list[Strategy]:
    path = tmp_path / "strategies.toml"
    path.write_text(STRATEGIES, encoding="utf-8")
    settings = load_settings(strategies=StrategySettings(file=path))
    loaded, _ = load_strategies(settings, InstrumentRegistry.sample(), live=True)
    return loaded


async def send(live: Live, signal: TradingSignal) -> None:
    event = make_event(
        SignalValidated(signal=signal, quantity=signal.quantity),
        namespace=Namespace.ZERODHA,
        source="t",
        key=signal.strategy_id,
    )
    await live.bus.publish(ZERODHA.signals_validated, event)


async def test_a_live_strategys_configured_product_order_type_and_prices_reach_kite(tmp_path: Path) -> None:
    delivery, stop = strategies(tmp_path)
    at_1500 = MarketTick(instrument_token=INFY, last_price=1500.0, exchange_ts=time.time())
    async with live_desk(tmp_path) as live:
        pin(live.sandbox, last=1500.0)
        await send(live, delivery.buy(at_1500, 5, "dip"))
        await send(live, stop.sell(at_1500, 3, "stop"))
        placed = await live.until(lambda: len(live.of(OrderPlaced)) == 2 and live.of(OrderPlaced))
        stored = [await live.stored_when(order.order_id, LiveState.OPEN) for order in placed]
        posts = [e.form for e in live.sandbox.requests.order_calls() if e.method == "POST"]
        kite = {o.strategy_id: live.kite_orders(o.order_id) for o in placed}
    assert [s.state if s else None for s in stored] == [LiveState.OPEN, LiveState.OPEN]
    by_strategy = {o.strategy_id: o for o in placed}
    cnc, sl = by_strategy["delivery_dip"], by_strategy["stop_out"]
    assert (cnc.product, cnc.order_type, cnc.limit_price, cnc.trigger_price) == (
        Product.CNC,
        OrderType.LIMIT,
        1499.8,
        None,
    )
    assert (sl.product, sl.order_type, sl.limit_price, sl.trigger_price) == (
        Product.MIS,
        OrderType.SL,
        1496.95,
        1497.0,
    )
    sent = {form["tag"]: form for form in posts}
    assert len(posts) == 2
    cnc_form, sl_form = sent[cnc.order_id], sent[sl.order_id]
    assert (cnc_form["product"], cnc_form["order_type"], float(cnc_form["price"])) == ("CNC", "LIMIT", 1499.8)
    assert "trigger_price" not in cnc_form
    assert (sl_form["product"], sl_form["order_type"], sl_form["transaction_type"]) == ("MIS", "SL", "SELL")
    assert (float(sl_form["price"]), float(sl_form["trigger_price"])) == (1496.95, 1497.0)
    [cnc_row], [sl_row] = kite["delivery_dip"], kite["stop_out"]
    assert (cnc_row["product"], cnc_row["order_type"], cnc_row["status"]) == ("CNC", "LIMIT", "OPEN")
    assert (sl_row["product"], sl_row["order_type"], sl_row["status"]) == ("MIS", "SL", "TRIGGER PENDING")

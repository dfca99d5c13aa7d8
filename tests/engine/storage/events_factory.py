"""Small builders for the order lineage events the storage tests publish."""

from __future__ import annotations

from engine.events import (
    Charges,
    Event,
    Namespace,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Product,
    Side,
    SignalRejected,
    SignalValidated,
    TradingSignal,
    make_event,
)

NS = Namespace.PAPER
TOKEN = 738561  # RELIANCE


def signal(strategy: str = "sma", quantity: int = 10) -> Event:
    payload = TradingSignal(strategy, TOKEN, Side.BUY, quantity, 2500.0, reason="cross")
    return make_event(payload, namespace=NS, source="strategy_runner", key=strategy)


def validated(sig: Event) -> Event:
    assert isinstance(sig.payload, TradingSignal)
    return sig.child(
        SignalValidated(sig.payload, sig.payload.quantity, ("max_quantity",)), source="risk", key="k"
    )


def rejected(sig: Event, rule: str = "max_order_value", reason: str = "too big") -> Event:
    assert isinstance(sig.payload, TradingSignal)
    return sig.child(SignalRejected(sig.payload, rule, reason), source="risk", key="k")


def placed(parent: Event, order_id: str, quantity: int = 10, placed_ts: float = 100.0) -> Event:
    payload = OrderPlaced(
        order_id, "sma", TOKEN, Side.BUY, quantity, OrderType.MARKET, Product.MIS, placed_ts=placed_ts
    )
    return parent.child(payload, source="paper", key="sma")


def filled(
    parent: Event,
    order_id: str,
    trade_id: str,
    quantity: int,
    remaining: int,
    fill_ts: float,
    price: float = 2500.5,
) -> Event:
    charges = Charges(brokerage=6.0, stt=0.0, exchange=0.74, sebi=0.03, gst=1.21, stamp_duty=0.75)
    payload = OrderFilled(
        order_id,
        trade_id,
        "sma",
        TOKEN,
        Side.BUY,
        quantity,
        price,
        Product.MIS,
        charges,
        remaining_quantity=remaining,
        fill_ts=fill_ts,
    )
    return parent.child(payload, source="paper", key="sma")

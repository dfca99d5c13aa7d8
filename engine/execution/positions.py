"""Each strategy's net position per instrument and product, as a broker client books its fills."""

from __future__ import annotations

from engine.events import OrderFilled, OrderPlaced, OrderType, Product, Side

PositionKey = tuple[str, int, Product]  # (strategy_id, instrument_token, product)


def book_fill(positions: dict[PositionKey, int], fill: OrderFilled) -> None:
    """Move the fill's position by its signed quantity; a flat position leaves the map."""
    key = (fill.strategy_id, fill.instrument_token, fill.product)
    net = positions.get(key, 0) + fill.side.sign * fill.quantity
    if net:
        positions[key] = net
    else:
        positions.pop(key, None)


def closing_order(order_id: str, key: PositionKey, net: int, ts: float) -> OrderPlaced:
    """The MARKET order that takes a position of `net` (signed) back to flat: what flatten sends."""
    strategy_id, instrument_token, product = key
    return OrderPlaced(
        order_id=order_id,
        strategy_id=strategy_id,
        instrument_token=instrument_token,
        side=Side.SELL if net > 0 else Side.BUY,
        quantity=abs(net),
        order_type=OrderType.MARKET,
        product=product,
        placed_ts=ts,
    )

"""Each strategy's net position per instrument and product, as a broker client books its fills."""

from __future__ import annotations

from engine.events import OrderFilled, Product

PositionKey = tuple[str, int, Product]  # (strategy_id, instrument_token, product)


def book_fill(positions: dict[PositionKey, int], fill: OrderFilled) -> None:
    """Move the fill's position by its signed quantity; a flat position leaves the map."""
    key = (fill.strategy_id, fill.instrument_token, fill.product)
    net = positions.get(key, 0) + fill.side.sign * fill.quantity
    if net:
        positions[key] = net
    else:
        positions.pop(key, None)

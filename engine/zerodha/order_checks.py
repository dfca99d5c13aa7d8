"""What is checked before a live order is sent: what Kite would refuse at the call is refused
here, in plain words, without spending an order call; an F&O order above its freeze quantity
is cut into slices the exchange accepts, or refused."""

from __future__ import annotations

from collections.abc import Mapping

from engine.events import OrderType, Product
from engine.instruments import Instrument

DERIVATIVE_EXCHANGES = frozenset({"NFO", "BFO", "MCX", "CDS", "BCD"})
_PRICE_EPSILON = 1e-6


class OrderRefused(ValueError):
    """An order that must not be sent, and why."""


def on_tick_grid(price: float, tick_size: float) -> bool:
    if tick_size <= 0:
        return True
    steps = price / tick_size
    return abs(steps - round(steps)) < _PRICE_EPSILON * max(1.0, abs(steps))


def check_order(
    instrument: Instrument,
    quantity: int,
    order_type: OrderType,
    product: Product,
    limit_price: float | None,
    trigger_price: float | None,
) -> None:
    """Raise `OrderRefused` for an order Kite would refuse at the call."""
    symbol = instrument.tradingsymbol
    if not instrument.tradable:
        raise OrderRefused(f"{symbol} is an index and cannot be traded")
    if quantity <= 0:
        raise OrderRefused(f"quantity must be positive, got {quantity}")
    lot = max(instrument.lot_size, 1)
    if quantity % lot:
        raise OrderRefused(f"quantity {quantity} of {symbol} is not a multiple of its lot size {lot}")
    derivative = instrument.exchange in DERIVATIVE_EXCHANGES
    if product is Product.NRML and not derivative:
        raise OrderRefused(f"NRML is for derivatives; {symbol} trades MIS or CNC")
    if product is Product.CNC and derivative:
        raise OrderRefused(f"CNC is for equity delivery; {symbol} trades MIS or NRML")
    if order_type in (OrderType.LIMIT, OrderType.SL):
        if limit_price is None or limit_price <= 0:
            raise OrderRefused(f"a {order_type.value} order needs a positive limit price")
        if not on_tick_grid(limit_price, instrument.tick_size):
            raise OrderRefused(
                f"limit price {limit_price} of {symbol} is not a multiple of its tick size "
                f"{instrument.tick_size}"
            )
    if order_type in (OrderType.SL, OrderType.SL_M):
        if trigger_price is None or trigger_price <= 0:
            raise OrderRefused(f"a {order_type.value} order needs a positive trigger price")
        if not on_tick_grid(trigger_price, instrument.tick_size):
            raise OrderRefused(
                f"trigger price {trigger_price} of {symbol} is not a multiple of its tick size "
                f"{instrument.tick_size}"
            )


def freeze_quantity(instrument: Instrument, freeze_quantities: Mapping[str, int]) -> int | None:
    """The most one order may carry (None: no freeze limit applies)."""
    if instrument.exchange not in DERIVATIVE_EXCHANGES:
        return None
    return freeze_quantities.get(instrument.name.upper())


def slices(
    instrument: Instrument, quantity: int, freeze_quantities: Mapping[str, int], *, allow: bool
) -> list[int]:
    """The quantities to send: one order, or slices of at most the freeze quantity (whole lots)."""
    limit = freeze_quantity(instrument, freeze_quantities)
    if limit is None or quantity <= limit:
        return [quantity]
    lot = max(instrument.lot_size, 1)
    largest = (limit // lot) * lot
    if not allow or largest <= 0:
        raise OrderRefused(
            f"quantity {quantity} of {instrument.tradingsymbol} is above the freeze quantity {limit} "
            + ("(zerodha.slice_above_freeze is off)" if not allow else f"and its lot size {lot} exceeds it")
        )
    full, rest = divmod(quantity, largest)
    return [largest] * full + ([rest] if rest else [])

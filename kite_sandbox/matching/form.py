"""Reading a place or modify request's form fields: each field checked on its own and against the
instrument (lot size, tick size), answering Kite's InputException for anything wrong. Checks that
need the market or the account (price band, margin) come later, and reject the placed order."""

from __future__ import annotations

import math
import re
from dataclasses import replace

from engine.instruments import Instrument, InstrumentRegistry, UnknownInstrument
from kite_sandbox.errors import ErrorType, KiteError
from kite_sandbox.matching.order import OrderRequest

VARIETIES_NOT_EMULATED = ("co", "bo", "iceberg", "auction")
TRANSACTION_TYPES = ("BUY", "SELL")
PRODUCTS = ("CNC", "MIS", "NRML")
ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
VALIDITIES = ("DAY", "IOC")
MAX_TAG_LENGTH = 20
TAG = re.compile(r"[A-Za-z0-9]{1,20}")
AUTO_PROTECTION = -1.0
EQUITY_SEGMENTS = frozenset({"NSE", "BSE"})


def input_error(message: str) -> KiteError:
    return KiteError(400, message, ErrorType.INPUT)


def check_variety(variety: str) -> None:
    if variety == "regular":
        return
    if variety == "amo":
        raise input_error(
            "AMO orders are not accepted: the sandbox's market is open at every hour, place a regular order."
        )
    if variety in VARIETIES_NOT_EMULATED:
        raise input_error(f"Variety `{variety}` is not emulated by the sandbox: use regular.")
    raise input_error(f"Invalid `variety` ({variety}): use regular.")


def read_place(variety: str, form: dict[str, str], registry: InstrumentRegistry) -> OrderRequest:
    check_variety(variety)
    instrument = _instrument(_required(form, "exchange"), _required(form, "tradingsymbol"), registry)
    request = OrderRequest(
        variety=variety,
        instrument=instrument,
        transaction_type=_choice(form, "transaction_type", TRANSACTION_TYPES),
        quantity=_quantity(_required(form, "quantity")),
        product=_choice(form, "product", PRODUCTS),
        order_type=_choice(form, "order_type", ORDER_TYPES),
        validity=_choice(form, "validity", VALIDITIES, default="DAY"),
        price=_number(form, "price"),
        trigger_price=_number(form, "trigger_price"),
        market_protection=_number(form, "market_protection"),
        disclosed_quantity=int(_number(form, "disclosed_quantity")),
        tag=_tag(form.get("tag")),
    )
    return checked(request)


def read_modify(current: OrderRequest, form: dict[str, str]) -> OrderRequest:
    """The order as a modify would leave it: the fields sent replace the current ones."""
    order_type = _choice(form, "order_type", ORDER_TYPES, default=current.order_type)
    request = replace(
        current,
        quantity=_quantity(form["quantity"]) if form.get("quantity") else current.quantity,
        order_type=order_type,
        validity=_choice(form, "validity", VALIDITIES, default=current.validity),
        price=_number(form, "price", current.price),
        trigger_price=_number(form, "trigger_price", current.trigger_price),
        market_protection=_number(form, "market_protection", current.market_protection),
        disclosed_quantity=int(_number(form, "disclosed_quantity", current.disclosed_quantity)),
    )
    if order_type in ("MARKET", "SL-M"):
        request = replace(request, price=0.0)
    if order_type in ("MARKET", "LIMIT"):
        request = replace(request, trigger_price=0.0)
    if order_type in ("LIMIT", "SL"):
        request = replace(request, market_protection=0.0)
    return checked(request)


def checked(request: OrderRequest) -> OrderRequest:
    """The request, if its fields fit each other and the instrument."""
    inst = request.instrument
    name = inst.exchange_symbol
    if inst.lot_size > 1 and request.quantity % inst.lot_size:
        raise input_error(
            f"Quantity {request.quantity} is not a multiple of the lot size ({inst.lot_size}) of {name}."
        )
    segment_is_equity = inst.segment in EQUITY_SEGMENTS
    if request.product == "NRML" and segment_is_equity:
        raise input_error(f"Product NRML is for futures and options; {name} is equity: use CNC or MIS.")
    if request.product == "CNC" and not segment_is_equity:
        raise input_error(f"Product CNC is for equity delivery; {name} is a derivative: use NRML or MIS.")
    order_type = request.order_type
    if order_type in ("LIMIT", "SL"):
        if request.price <= 0:
            raise input_error(f"A {order_type} order needs a positive `price`.")
        _on_tick_grid(request.price, inst, "Price")
    elif request.price:
        raise input_error(f"A {order_type} order takes no `price` (got {request.price:g}).")
    if order_type in ("SL", "SL-M"):
        if request.trigger_price <= 0:
            raise input_error(f"A {order_type} order needs a positive `trigger_price`.")
        _on_tick_grid(request.trigger_price, inst, "Trigger price")
    elif request.trigger_price:
        raise input_error(f"A {order_type} order takes no `trigger_price` (got {request.trigger_price:g}).")
    if order_type == "SL":
        if request.is_buy and request.price < request.trigger_price:
            raise input_error("Trigger price for a stoploss buy order must not be above its price.")
        if not request.is_buy and request.price > request.trigger_price:
            raise input_error("Trigger price for a stoploss sell order must not be below its price.")
    if order_type in ("MARKET", "SL-M"):
        protection = request.market_protection
        if protection == 0:
            raise input_error(
                "Market orders without market protection are not allowed via API (SL-M included): set "
                "`market_protection` (a percentage above 0 up to 100, or -1 for automatic) "
                "or use a LIMIT order."
            )
        if protection != AUTO_PROTECTION and not 0 < protection <= 100:
            raise input_error(
                f"Invalid `market_protection` ({protection:g}): "
                "a percentage above 0 up to 100, or -1 for automatic."
            )
    if request.disclosed_quantity < 0 or request.disclosed_quantity > request.quantity:
        raise input_error("`disclosed_quantity` must be between 0 and the order's quantity.")
    return request


def _instrument(exchange: str, symbol: str, registry: InstrumentRegistry) -> Instrument:
    try:
        inst = registry.by_symbol(f"{exchange.upper()}:{symbol}")
    except UnknownInstrument:
        inst = None
    if inst is None or inst.exchange != exchange.upper():
        raise input_error(f"Invalid `tradingsymbol`: no instrument {exchange}:{symbol}.")
    if not inst.tradable:
        raise input_error(f"{inst.exchange_symbol} is an index: it cannot be traded.")
    return inst


def _required(form: dict[str, str], key: str) -> str:
    value = form.get(key, "").strip()
    if not value:
        raise input_error(f"Missing `{key}`.")
    return value


def _choice(form: dict[str, str], key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = form.get(key, "").strip()
    if not value and default is not None:
        return default
    if value not in allowed:
        shown = value or "missing"
        raise input_error(f"Invalid `{key}` ({shown}): use one of {', '.join(allowed)}.")
    return value


def _quantity(text: str) -> int:
    try:
        quantity = int(text)
    except ValueError:
        raise input_error(f"Invalid `quantity` ({text}): a whole number of shares or units.") from None
    if quantity <= 0:
        raise input_error(f"Invalid `quantity` ({quantity}): it must be positive.")
    return quantity


def _number(form: dict[str, str], key: str, default: float = 0.0) -> float:
    text = form.get(key, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise input_error(f"Invalid `{key}` ({text}): expected a number.") from None
    if not math.isfinite(value):
        raise input_error(f"Invalid `{key}` ({text}): expected a finite number.")
    return value


def _tag(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not TAG.fullmatch(value):
        raise input_error(f"Invalid `tag` ({value!r}): alphanumeric, at most {MAX_TAG_LENGTH} characters.")
    return value


def _on_tick_grid(price: float, inst: Instrument, what: str) -> None:
    tick = inst.tick_size or 0.05
    steps = price / tick
    if abs(steps - round(steps)) > 1e-6:
        raise input_error(
            f"{what} {price:g} is not a multiple of the tick size ({tick:g}) of {inst.exchange_symbol}."
        )

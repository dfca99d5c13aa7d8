"""The broker's risk checks on an order about to go to the exchange: the price band, a stoploss
trigger the market has already passed, CNC sells beyond the shares owned, and margin."""

from __future__ import annotations

from kite_sandbox.circuit import circuit_limits
from kite_sandbox.market import SandboxMarket
from kite_sandbox.matching.margins import Exposure, exposures, requirement, segment_margins, segment_of
from kite_sandbox.matching.order import OrderRequest, SandboxOrder
from kite_sandbox.matching.positions import PositionBook
from kite_sandbox.matching.protection import protected_price


class RiskChecks:
    def __init__(
        self, market: SandboxMarket, positions: PositionBook, *, funds: float, holdings: dict[int, int]
    ) -> None:
        self._market = market
        self._positions = positions
        self._funds = funds
        self._holdings = holdings

    def refusal(
        self,
        request: OrderRequest,
        open_orders: list[SandboxOrder],
        filled: int = 0,
        check_trigger: bool = True,
    ) -> str | None:
        """Why the order is refused, or None. `open_orders` are the account's other working orders;
        `filled` is what a modified order has already filled."""
        inst = request.instrument
        tick = self._market.latest[inst.instrument_token]
        lower, upper = circuit_limits(tick.close, inst.tick_size)
        for value, what in ((request.price, "price"), (request.trigger_price, "trigger price")):
            if value and value > upper:
                return (
                    f"Your order {what} {value:g} is higher than the current upper circuit limit of "
                    f"{upper:.2f}. Place an order within the daily range."
                )
            if value and value < lower:
                return (
                    f"Your order {what} {value:g} is lower than the current lower circuit limit of "
                    f"{lower:.2f}. Place an order within the daily range."
                )
        if check_trigger and request.order_type in ("SL", "SL-M") and triggers(request, tick.last_price):
            side = "higher" if request.is_buy else "lower"
            kind = "buy" if request.is_buy else "sell"
            instead = "LIMIT" if request.order_type == "SL" else "MARKET"
            return (
                f"Trigger price for stoploss {kind} orders should be {side} than the last traded price "
                f"({tick.last_price:g}). Use a {instead} order."
            )
        if request.product == "CNC" and not request.is_buy:
            sellable = self._sellable(inst.instrument_token, open_orders)
            if request.quantity - filled > sellable:
                return (
                    f"Insufficient holdings: {sellable} {inst.tradingsymbol} can be sold (CNC), "
                    f"the order sells {request.quantity - filled}."
                )
        required, available = self._margin(request, open_orders, filled)
        if required > available + 1e-9:
            return (
                f"Insufficient funds. Required margin is {required:.2f} but available margin is "
                f"{available:.2f}. Check the orderbook for open orders."
            )
        return None

    def _sellable(self, token: int, open_orders: list[SandboxOrder]) -> int:
        """Demat shares plus today's CNC buys, less what open CNC sells already offer."""
        position = self._positions.get(token, "CNC")
        owned = self._holdings.get(token, 0) + (position.quantity if position is not None else 0)
        selling = sum(
            o.pending_quantity
            for o in open_orders
            if o.request.instrument.instrument_token == token
            and o.request.product == "CNC"
            and not o.request.is_buy
        )
        return max(0, owned - selling)

    def _margin(
        self, request: OrderRequest, open_orders: list[SandboxOrder], filled: int
    ) -> tuple[float, float]:
        """(margin the order adds, margin available in its segment)."""
        inst = request.instrument
        latest = self._market.latest
        tick = latest[inst.instrument_token]
        if request.order_type == "MARKET":
            price = protected_price(
                inst, request.is_buy, tick.last_price, tick.close, request.market_protection
            )
        else:
            price = request.price or request.trigger_price  # SL-M: blocked at its trigger
        value = (request.quantity - filled) * price
        current = exposures(self._positions, open_orders, latest).get(
            (inst.instrument_token, request.product)
        )
        before = current[1] if current is not None else Exposure()
        after = Exposure(before.long_value, before.short_value)
        if request.is_buy:
            after.long_value += value
        else:
            after.short_value += value
        added = requirement(inst, request.product, after)[1] - requirement(inst, request.product, before)[1]
        account = segment_margins(segment_of(inst), self._funds, list(self._positions), open_orders, latest)
        return max(0.0, added), float(account["net"])


def triggers(request: OrderRequest, last_price: float) -> bool:
    """Whether `last_price` sets off the stoploss order."""
    trigger = request.trigger_price
    return last_price >= trigger if request.is_buy else last_price <= trigger

"""`MatchingDesk`: the sandbox account's order desk. Orders are checked, go through Kite's statuses
(interim ones included) and fill against the book of the simulated market's ticks: MARKET orders at
once within their market protection, LIMIT orders when the book crosses their price, SL and SL-M
orders once the last price reaches their trigger. Every status change and every fill is one entry
in the order's history and one order update; each fill is one trade and moves the positions and
margins."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from engine.events import MarketTick
from engine.market.calendar import IST
from kite_sandbox.errors import ErrorType, KiteError
from kite_sandbox.kite_time import kite_time
from kite_sandbox.market import SandboxMarket
from kite_sandbox.matching.form import check_variety, read_modify, read_place
from kite_sandbox.matching.freeze import check_freeze
from kite_sandbox.matching.liquidity import Liquidity
from kite_sandbox.matching.margins import segment_margins
from kite_sandbox.matching.order import WORKING, SandboxOrder, Status
from kite_sandbox.matching.positions import PositionBook
from kite_sandbox.matching.protection import protected_price, protection_percent
from kite_sandbox.matching.risk import RiskChecks, triggers

Row = dict[str, Any]
MAX_MODIFICATIONS = 25


class MatchingDesk:
    def __init__(
        self,
        market: SandboxMarket,
        *,
        user_id: str,
        funds: float,
        holdings: dict[int, int] | None = None,
        freeze_quantities: Mapping[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._market = market
        self._freeze = dict(freeze_quantities or {})
        self._user_id = user_id
        self._funds = funds
        self._clock = clock
        self._orders: dict[str, SandboxOrder] = {}
        self._history: dict[str, list[Row]] = {}
        self._trades: list[Row] = []
        self._working: dict[int, list[SandboxOrder]] = {}  # by instrument token, in time priority
        self._liquidity: dict[int, Liquidity] = {}
        self._positions = PositionBook()
        self._risk = RiskChecks(market, self._positions, funds=funds, holdings=dict(holdings or {}))
        day = datetime.now(IST).strftime("%y%m%d")
        self._order_numbers = (f"{day}{n:09d}" for n in itertools.count(1))
        self._exchange_numbers = (f"13000000{n:08d}" for n in itertools.count(1))
        self._trade_numbers = (str(n) for n in itertools.count(10_000_001))
        self.on_update: Callable[[Row], None] = lambda row: None

    # -- reading -----------------------------------------------------------------------------------

    def orders(self) -> list[Row]:
        return [order.row() for order in self._orders.values()]

    def order_history(self, order_id: str) -> list[Row]:
        return list(self._history[self._order(order_id).order_id])

    def trades(self) -> list[Row]:
        return list(self._trades)

    def order_trades(self, order_id: str) -> list[Row]:
        order = self._order(order_id)
        return [trade for trade in self._trades if trade["order_id"] == order.order_id]

    def positions(self) -> dict[str, list[Row]]:
        latest = self._market.latest
        rows = [p.row(latest.get(p.instrument.instrument_token)) for p in self._positions]
        return {"net": rows, "day": [dict(row) for row in rows]}

    def margins(self, segment: str) -> Row:
        return segment_margins(
            segment, self._funds, list(self._positions), self._open_orders(), self._market.latest
        )

    # -- placing, modifying, cancelling --------------------------------------------------------------

    def place(self, variety: str, form: dict[str, str]) -> str:
        request = read_place(variety, form, self._market.registry)
        check_freeze(request, self._freeze, autoslice=form.get("autoslice", "").lower() == "true")
        now = kite_time(self._clock())
        order = SandboxOrder(next(self._order_numbers), request, self._user_id, now)
        self._orders[order.order_id] = order
        self._history[order.order_id] = []
        self._record(order)
        self._set(order, Status.VALIDATION_PENDING)
        reason = self._risk.refusal(request, self._open_orders())
        if reason is not None:
            order.status_message = reason
            self._set(order, Status.REJECTED)
            return order.order_id
        self._set(order, Status.OPEN_PENDING)
        order.exchange_order_id = next(self._exchange_numbers)
        order.exchange_timestamp = order.exchange_update_timestamp = now
        if request.order_type == "MARKET":
            self._protect(order)
        self._open(order)
        return order.order_id

    def modify(self, variety: str, order_id: str, form: dict[str, str]) -> str:
        check_variety(variety)
        order = self._order(order_id)
        if order.status not in WORKING:
            raise KiteError(400, f"Order cannot be modified: it is {order.status.value}.", ErrorType.ORDER)
        if order.modifications >= MAX_MODIFICATIONS:
            raise KiteError(400, "Maximum allowed order modifications exceeded.", ErrorType.ORDER)
        # a protected MARKET order is, as shown, a LIMIT order at its protection price
        shown = replace(order.request, order_type=order.order_type, price=order.price)
        request = read_modify(shown, form)
        check_freeze(request, self._freeze, autoslice=False)
        if request.quantity <= order.filled_quantity:
            raise KiteError(
                400,
                f"Quantity {request.quantity} must be more than the {order.filled_quantity} already filled.",
                ErrorType.INPUT,
            )
        others = [o for o in self._open_orders() if o is not order]
        # a triggered stoploss order stays triggered when only its price or quantity changes
        triggered = order.triggered and request.order_type == order.request.order_type
        reason = self._risk.refusal(
            request, others, filled=order.filled_quantity, check_trigger=not triggered
        )
        if reason is not None:
            raise KiteError(400, reason, ErrorType.ORDER)
        self._unwork(order)
        now = kite_time(self._clock())
        order.order_timestamp = now
        order.modifications += 1
        self._set(order, Status.MODIFY_VALIDATION_PENDING)
        self._set(order, Status.MODIFY_PENDING)
        order.request = request
        order.order_type, order.price = request.order_type, request.price
        if not triggered:
            order.protection_price = 0.0
        order.tags = [request.tag] if request.tag else []
        order.triggered = triggered
        order.modified = True
        order.exchange_update_timestamp = now
        if request.order_type == "MARKET":
            self._protect(order)
        self._set(order, Status.MODIFIED)
        self._open(order)
        return order.order_id

    def cancel(self, variety: str, order_id: str) -> str:
        check_variety(variety)
        order = self._order(order_id)
        if order.status not in WORKING:
            raise KiteError(400, f"Order cannot be cancelled: it is {order.status.value}.", ErrorType.ORDER)
        self._unwork(order)
        self._set(order, Status.CANCEL_PENDING)
        self._cancel_rest(order)
        return order.order_id

    # -- the market --------------------------------------------------------------------------------

    def on_ticks(self, ticks: Sequence[MarketTick]) -> None:
        """Match the working orders of each ticked instrument against that tick's book."""
        working = self._working
        if not working:
            return
        for tick in ticks:
            orders = working.get(tick.instrument_token)
            if orders:
                liquidity = Liquidity(tick)
                self._liquidity[tick.instrument_token] = liquidity
                for order in list(orders):
                    self._work(order, liquidity)

    # -- the lifecycle -----------------------------------------------------------------------------

    def _open(self, order: SandboxOrder) -> None:
        """An accepted order (new or modified) goes to the exchange: it waits for its trigger, or
        takes what the current book offers and then rests (or, IOC, is cancelled)."""
        token = order.request.instrument.instrument_token
        if order.request.order_type in ("SL", "SL-M") and not order.triggered:
            self._set(order, Status.TRIGGER_PENDING)
        else:
            self._set(order, Status.OPEN)
        self._working.setdefault(token, []).append(order)
        self._work(order, self._current_liquidity(token))

    def _work(self, order: SandboxOrder, liquidity: Liquidity) -> None:
        if order.status == Status.TRIGGER_PENDING:
            if not triggers(order.request, liquidity.tick.last_price):
                return
            order.triggered = True
            if order.request.order_type == "SL-M":
                self._protect(order, liquidity.tick.last_price)
            self._set(order, Status.OPEN)
        req = order.request
        for price, quantity in liquidity.take(req.is_buy, order.pending_quantity, order.limit):
            self._fill(order, price, quantity)
        if order.status == Status.OPEN and req.validity == "IOC":
            self._unwork(order)
            self._cancel_rest(order)

    def _fill(self, order: SandboxOrder, price: float, quantity: int) -> None:
        req = order.request
        inst = req.instrument
        now = self._clock()
        stamp = kite_time(now)
        order.filled_quantity += quantity
        order.filled_value += price * quantity
        order.exchange_update_timestamp = stamp
        self._positions.apply(inst, req.product, req.is_buy, price, quantity)
        self._trades.append(
            {
                "trade_id": next(self._trade_numbers),
                "order_id": order.order_id,
                "exchange": inst.exchange,
                "tradingsymbol": inst.tradingsymbol,
                "instrument_token": inst.instrument_token,
                "product": req.product,
                "average_price": price,
                "quantity": quantity,
                "exchange_order_id": order.exchange_order_id,
                "transaction_type": req.transaction_type,
                "fill_timestamp": stamp,
                "order_timestamp": stamp[11:],
                "exchange_timestamp": stamp,
                "tag": req.tag,
            }
        )
        if order.filled_quantity >= req.quantity:
            self._unwork(order)
            self._set(order, Status.COMPLETE)
        else:
            self._record(order)  # a partial fill: still OPEN, more filled

    def _cancel_rest(self, order: SandboxOrder) -> None:
        order.cancelled_quantity = order.request.quantity - order.filled_quantity
        order.exchange_update_timestamp = kite_time(self._clock())
        self._set(order, Status.CANCELLED)

    def _protect(self, order: SandboxOrder, last_price: float | None = None) -> None:
        """A market order becomes a limit order at its market protection's price (shown as Kite shows
        it: LIMIT, with the tags mktp and mktp:<percent>); a triggered SL-M order keeps its type."""
        req = order.request
        tick = self._market.latest[req.instrument.instrument_token]
        ltp = tick.last_price if last_price is None else last_price
        order.protection_price = protected_price(
            req.instrument, req.is_buy, ltp, tick.close, req.market_protection
        )
        if req.order_type == "MARKET":
            order.order_type = "LIMIT"
            order.price = order.protection_price
            percent = protection_percent(req.market_protection)
            order.tags = [*([req.tag] if req.tag else []), "mktp", f"mktp:{percent:.2f}"]

    def _set(self, order: SandboxOrder, status: Status) -> None:
        order.status = status
        self._record(order)

    def _record(self, order: SandboxOrder) -> None:
        row = order.row()
        self._history[order.order_id].append(row)
        self.on_update(row)

    def _unwork(self, order: SandboxOrder) -> None:
        orders = self._working.get(order.request.instrument.instrument_token)
        if orders is not None and order in orders:
            orders.remove(order)
            if not orders:
                del self._working[order.request.instrument.instrument_token]

    def _current_liquidity(self, token: int) -> Liquidity:
        """The latest tick's book, less what orders already took from it."""
        tick = self._market.latest[token]
        liquidity = self._liquidity.get(token)
        if liquidity is None or liquidity.tick is not tick:
            liquidity = self._liquidity[token] = Liquidity(tick)
        return liquidity

    def _open_orders(self) -> list[SandboxOrder]:
        return [order for orders in self._working.values() for order in orders]

    def _order(self, order_id: str) -> SandboxOrder:
        order = self._orders.get(order_id)
        if order is None:
            raise KiteError(400, f"Couldn't find that `order_id` ({order_id}).", ErrorType.INPUT)
        return order

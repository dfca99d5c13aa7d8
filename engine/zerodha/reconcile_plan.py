"""What reconciliation must do, decided from Kite's book and ours without touching either.

Kite's book is the truth about what happened at the broker; ours is what the database
holds for the zerodha namespace. The plan lists:
- Kite orders that are not ours (no tag, or a tag we never issued): to adopt;
- Kite trades whose trade id we never booked: fills to book, on the order they belong to;
- orders we hold as working that Kite cancelled or rejected: their end events;
- orders we hold as working that Kite does not know at all (expired, or lost);
- (instrument, product) pairs where today's position after those fills still differs from
  Kite's day position: mismatches, with the strategies that trade there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from engine.events import OrderType, Product
from engine.storage.models import OrderStatus
from engine.zerodha.broker_book import BrokerBook, BrokerOrder, BrokerTrade

PositionKey = tuple[int, str]  # (instrument token, Kite product)
ADOPTED_STRATEGY = "adopted"  # the strategy an order placed outside this engine is booked under
ADOPTED_PREFIX = "K"  # an adopted order's id: K + Kite's order id (as the live execution adopts)


@dataclass(frozen=True, slots=True)
class OurOrder:
    order_id: str  # == the Kite tag, or Kite's order id for an adopted order
    strategy_id: str
    instrument_token: int
    quantity: int
    product: str
    status: OrderStatus
    filled_quantity: int  # the sum of its stored fills
    correlation_id: str

    @property
    def working(self) -> bool:
        return self.status in (OrderStatus.PLACED, OrderStatus.PARTIAL)


@dataclass(slots=True)
class OurBook:
    orders: dict[str, OurOrder] = field(default_factory=dict)
    broker_ids: dict[str, str] = field(default_factory=dict)  # Kite order id -> our order id
    live_ids: set[str] = field(default_factory=set)  # ids in the live order store (Kite tags)
    trade_ids: set[str] = field(default_factory=set)
    day_positions: dict[PositionKey, int] = field(default_factory=dict)  # today's fills, signed
    day_strategies: dict[PositionKey, set[str]] = field(default_factory=dict)  # who filled there today

    def our_id(self, order: BrokerOrder) -> str | None:
        """Our id for a Kite order: by its tag, by its Kite id (adopted), or by the id we stored.
        An id found only in the live order store is an order on its way: its OrderPlaced is not
        stored yet."""
        if order.tag and order.tag in self.orders:
            return order.tag
        if adopted_id(order) in self.orders:
            return adopted_id(order)
        if order.order_id in self.broker_ids:
            return self.broker_ids[order.order_id]
        return order.tag if order.tag and order.tag in self.live_ids else None


@dataclass(frozen=True, slots=True)
class FillToBook:
    trade: BrokerTrade
    order_id: str  # ours
    remaining_quantity: int  # of the order, after this fill


@dataclass(frozen=True, slots=True)
class OrderEnd:
    order: OurOrder
    broker: BrokerOrder  # CANCELLED or REJECTED at Kite


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    instrument_token: int
    product: str
    tradingsymbol: str
    ours: int
    broker: int
    strategies: tuple[str, ...]  # ours that trade there: their live trading stops

    def describe(self) -> str:
        name = self.tradingsymbol or str(self.instrument_token)
        return f"{name} {self.product}: Kite holds {self.broker:+d}, our fills make {self.ours:+d}"


@dataclass(slots=True)
class ReconcilePlan:
    adopt: list[BrokerOrder] = field(default_factory=list)
    fills: list[FillToBook] = field(default_factory=list)
    ends: list[OrderEnd] = field(default_factory=list)
    missing: list[OurOrder] = field(default_factory=list)
    mismatches: list[PositionMismatch] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # Kite rows this engine cannot book, in words
    deferred: list[str] = field(default_factory=list)  # trade ids left to the live execution

    @property
    def empty(self) -> bool:
        return not (
            self.adopt or self.fills or self.ends or self.missing or self.mismatches or self.unreadable
        )


def adopted_id(order: BrokerOrder) -> str:
    return f"{ADOPTED_PREFIX}{order.order_id}"


def bookable(order: BrokerOrder) -> str | None:
    """Why a Kite order cannot be carried by our events, or None when it can."""
    if order.product not in Product.__members__:
        return f"Kite order {order.order_id}: product {order.product} is not one this engine books"
    return None


def order_type_of(order: BrokerOrder) -> OrderType:
    """Our order type for a Kite one: what our events can name, else LIMIT (it had a price)."""
    try:
        return OrderType(order.order_type)
    except ValueError:
        return OrderType.LIMIT


def plan_reconciliation(
    book: BrokerBook,
    ours: OurBook,
    *,
    day_start_ts: float,
    on_the_way: Collection[str] = (),
    live_working: Collection[str] = (),
    strategies_trading: Mapping[int, Collection[str]] | None = None,
    symbol: Callable[[int], str] = str,
) -> ReconcilePlan:
    """The plan for one reconciliation.

    `on_the_way`: trade ids already published but maybe not stored yet (not booked again, but
    counted in the positions). `live_working`: our orders the live execution is working: their
    trades are its to book (`deferred`), their ends its to publish. `strategies_trading` names,
    per instrument, the live strategies configured on it (they stop too when it mismatches)."""
    plan = ReconcilePlan()
    by_kite_id = book.orders_by_id()
    known: dict[str, OurOrder] = dict(ours.orders)  # ours, plus what this plan adopts
    kite_to_ours: dict[str, str] = {}
    for order in book.orders:
        our_id = ours.our_id(order)
        if our_id is None:
            reason = bookable(order)
            if reason is not None:
                plan.unreadable.append(reason)
                continue
            plan.adopt.append(order)
            our_id = adopted_id(order)
            known[our_id] = OurOrder(
                order_id=our_id,
                strategy_id=ADOPTED_STRATEGY,
                instrument_token=order.instrument_token,
                quantity=order.quantity,
                product=order.product,
                status=OrderStatus.PLACED,
                filled_quantity=0,
                correlation_id="",
            )
        kite_to_ours[order.order_id] = our_id

    filled = {order_id: order.filled_quantity for order_id, order in known.items()}
    positions = dict(ours.day_positions)
    for trade in sorted(book.trades, key=lambda t: (t.fill_ts, t.trade_id)):
        if trade.trade_id in ours.trade_ids:
            continue  # stored: in the positions already
        if trade.fill_ts >= day_start_ts:
            key = (trade.instrument_token, trade.product)
            positions[key] = positions.get(key, 0) + trade.side.sign * trade.quantity
        our_id = kite_to_ours.get(trade.order_id)
        if our_id is None and trade.order_id not in by_kite_id:
            plan.unreadable.append(f"Kite trade {trade.trade_id} of order {trade.order_id} has no order")
        if our_id is None or our_id not in known:
            continue  # an order that cannot be booked (listed), or one on its way: booked next time
        filled[our_id] += trade.quantity
        if trade.trade_id in on_the_way:
            continue
        if our_id in live_working:
            plan.deferred.append(trade.trade_id)
            continue
        # Kite's quantity: a modification there may have changed the one we stored
        remaining = max(by_kite_id[trade.order_id].quantity - filled[our_id], 0)
        plan.fills.append(FillToBook(trade, our_id, remaining))

    seen_at_kite = set(kite_to_ours.values())
    plan.missing = [
        o
        for o in ours.orders.values()
        if o.working and o.order_id not in seen_at_kite and o.order_id not in live_working
    ]
    for kite_order in book.orders:
        mine = ours.orders.get(kite_to_ours.get(kite_order.order_id, ""))
        if mine is None or not mine.working or mine.order_id in live_working:
            continue  # the live execution ends the orders it works
        if kite_order.status in ("CANCELLED", "REJECTED"):
            plan.ends.append(OrderEnd(mine, kite_order))

    plan.mismatches = _mismatches(book, ours, positions, strategies_trading or {}, symbol)
    return plan


def _mismatches(
    book: BrokerBook,
    ours: OurBook,
    positions: Mapping[PositionKey, int],
    strategies_trading: Mapping[int, Collection[str]],
    symbol: Callable[[int], str],
) -> list[PositionMismatch]:
    broker = {(p.instrument_token, p.product): p for p in book.positions}
    symbols = {(o.instrument_token, o.product): o.tradingsymbol for o in book.orders}
    out: list[PositionMismatch] = []
    for key in sorted(set(broker) | set(positions)):
        ours_qty = positions.get(key, 0)
        held = broker.get(key)
        broker_qty = held.quantity if held is not None else 0
        if ours_qty == broker_qty:
            continue
        token, product = key
        names = set(ours.day_strategies.get(key, ())) | set(strategies_trading.get(token, ()))
        names.discard(ADOPTED_STRATEGY)
        name = held.tradingsymbol if held is not None else symbols.get(key) or symbol(token)
        out.append(PositionMismatch(token, product, name, ours_qty, broker_qty, tuple(sorted(names))))
    return out

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from engine.bus import DirectBus
from engine.clock import ManualClock
from engine.events import (
    Charges,
    Command,
    CommandAction,
    CommandResult,
    DepthLevel,
    Event,
    EventType,
    MarketTick,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.execution import SQUARE_OFF_REASON, ChargeCalculator, PaperExecution
from engine.execution.base import ExecutionClient
from engine.execution.order_ids import OrderIds, base36
from engine.execution.paper import ORDER_ID_PREFIX, RESTART_REASON, STOP_REASON
from engine.execution.working import UnresolvedOrder
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST, MarketCalendar
from engine.settings import ChargesSettings, FillPrice, PaperSettings, StrategySettings, load_settings
from engine.strategies.loader import load_strategies
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, SHARED_TOPICS, TopicMap

PAPER = TopicMap(Namespace.PAPER)
ZERODHA = TopicMap(Namespace.ZERODHA)
RELIANCE = 738561
TCS = 2953217
NIFTY = 256265
T0 = datetime(2026, 2, 2, 10, 0, tzinfo=IST).timestamp()  # a Monday, mid-session


def at(hour: int, minute: int, second: int = 0, day: int = 2) -> float:
    return datetime(2026, 2, day, hour, minute, second, tzinfo=IST).timestamp()


class Harness:
    """Paper execution on a real DirectBus, with a recorder on every order topic."""

    def __init__(self, charges: bool = False, order_ids: OrderIds | None = None, **paper: Any) -> None:
        paper.setdefault("slippage_bps", 0.0)
        self.bus = DirectBus()
        self.clock = ManualClock(T0)
        self.calc = ChargeCalculator(ChargesSettings(enabled=charges))
        self.execution = PaperExecution(
            self.bus,
            PaperSettings(**paper),
            self.calc,
            InstrumentRegistry.sample(),
            self.clock,
            MarketCalendar(),
            order_ids=order_ids,
        )
        self.execution.wire()
        self.events: list[Event] = []
        self.foreign: list[Event] = []
        self.bus.subscribe([*PAPER.order_topics(), ENGINE_STATUS], "recorder", self._record)
        self.bus.subscribe(list(ZERODHA.namespaced_topics()), "zerodha-recorder", self._record_foreign)

    async def _record(self, event: Event) -> None:
        self.events.append(event)

    async def _record_foreign(self, event: Event) -> None:
        self.foreign.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e.payload for e in self.events if isinstance(e.payload, kind)]

    @property
    def fills(self) -> list[OrderFilled]:
        return self.of(OrderFilled)

    async def signal(
        self,
        side: Side = Side.BUY,
        quantity: int = 10,
        *,
        token: int = RELIANCE,
        ts: float = T0,
        price: float = 100.0,
        order_type: OrderType = OrderType.MARKET,
        limit: float | None = None,
        product: Product = Product.MIS,
        strategy: str = "sma",
    ) -> Event:
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            reference_price=price,
            order_type=order_type,
            limit_price=limit,
            product=product,
            signal_ts=ts,
        )
        event = make_event(
            SignalValidated(signal=signal, quantity=quantity),
            namespace=Namespace.PAPER,
            source="t",
            key=strategy,
        )
        await self.bus.publish(PAPER.signals_validated, event)
        return event

    async def tick(
        self,
        price: float,
        ts: float,
        *,
        token: int = RELIANCE,
        bids: tuple[tuple[float, int], ...] = (),
        asks: tuple[tuple[float, int], ...] = (),
    ) -> Event:
        self.clock.set(max(self.clock.now(), ts))
        tick = MarketTick(
            instrument_token=token,
            last_price=price,
            exchange_ts=ts,
            bids=tuple(DepthLevel(p, q, 1) for p, q in bids),
            asks=tuple(DepthLevel(p, q, 1) for p, q in asks),
        )
        event = make_event(tick, namespace=Namespace.SHARED, source="feed", key=str(token))
        await self.bus.publish(MARKET_TICKS, event)
        return event

    async def command(self, action: CommandAction, target: str) -> Event:
        event = make_event(
            Command(action=action, target=target), namespace=Namespace.SHARED, source="t", key="c"
        )
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event


# -- fill timing ---------------------------------------------------------------------


async def test_market_order_fills_on_the_next_tick_not_the_tick_that_made_the_signal() -> None:
    h = Harness()
    # on the DirectBus the signal made from tick T reaches execution before T does
    await h.signal(Side.BUY, 10, ts=T0)
    placed = h.of(OrderPlaced)
    assert len(placed) == 1 and placed[0].order_id.startswith("P-")
    await h.tick(100.0, T0)
    assert h.fills == []
    await h.tick(101.0, T0 + 1)
    [fill] = h.fills
    assert (fill.quantity, fill.price, fill.remaining_quantity, fill.fill_ts) == (10, 101.0, 0, T0 + 1)
    assert fill.trade_id == f"{placed[0].order_id}-1"
    assert h.execution.open_orders() == {}
    await h.tick(102.0, T0 + 2)
    assert len(h.fills) == 1


async def test_only_ticks_of_the_order_instrument_fill_it() -> None:
    h = Harness()
    await h.signal(Side.BUY, 10, ts=T0, token=RELIANCE)
    await h.tick(3000.0, T0 + 1, token=TCS)
    assert h.fills == []
    await h.tick(100.0, T0 + 2, token=RELIANCE)
    assert [f.instrument_token for f in h.fills] == [RELIANCE]


async def test_latency_holds_the_order_until_enough_feed_time_has_passed() -> None:
    h = Harness(latency_ms=500)
    await h.signal(Side.BUY, 10, ts=T0)
    await h.tick(100.0, T0 + 0.2)
    await h.tick(100.1, T0 + 0.4)
    assert h.fills == []
    await h.tick(100.2, T0 + 0.5)
    assert [f.price for f in h.fills] == [100.2]


async def test_stale_quote_fills_nothing_and_a_fresh_one_does() -> None:
    h = Harness(stale_quote_s=5.0)
    await h.signal(Side.BUY, 10, ts=T0)
    h.clock.set(T0 + 30)  # the quote below is 29 s old when it arrives
    await h.tick(100.0, T0 + 1)
    assert h.fills == []
    await h.tick(100.5, T0 + 28)  # 2 s old: fresh enough
    assert [f.price for f in h.fills] == [100.5]


# -- prices ----------------------------------------------------------------------------


async def test_slippage_moves_buys_up_from_the_ask_and_sells_down_from_the_bid() -> None:
    h = Harness(slippage_bps=10)  # 0.1%
    await h.signal(Side.BUY, 10, ts=T0)
    await h.signal(Side.SELL, 10, ts=T0, strategy="other")
    await h.tick(100.0, T0 + 1, bids=((99.9, 500),), asks=((100.1, 500),))
    buy, sell = sorted(h.fills, key=lambda f: f.side)
    assert buy.side is Side.BUY and buy.price == pytest.approx(100.1 * 1.001)  # 100.2001
    assert sell.side is Side.SELL and sell.price == pytest.approx(99.9 * 0.999)  # 99.8001


async def test_without_depth_market_orders_fill_at_the_last_price_plus_slippage() -> None:
    h = Harness(slippage_bps=20)
    await h.signal(Side.SELL, 7, ts=T0)
    await h.tick(200.0, T0 + 1)
    [fill] = h.fills
    assert fill.quantity == 7
    assert fill.price == pytest.approx(200.0 * 0.998)


async def test_partial_fills_take_only_visible_depth_and_finish_on_later_ticks() -> None:
    h = Harness()
    await h.signal(Side.BUY, 500, ts=T0)
    await h.tick(100.0, T0 + 1, asks=((100.0, 100), (100.05, 150)))
    assert [(f.quantity, f.price, f.remaining_quantity) for f in h.fills] == [
        (100, 100.0, 400),
        (150, 100.05, 250),
    ]
    [order_id] = h.execution.open_orders()
    assert h.execution.open_orders() == {order_id: 250}
    await h.tick(100.1, T0 + 2, asks=((100.1, 400),))
    assert [(f.quantity, f.price, f.remaining_quantity) for f in h.fills[2:]] == [(250, 100.1, 0)]
    assert [f.trade_id for f in h.fills] == [f"{order_id}-1", f"{order_id}-2", f"{order_id}-3"]
    assert len({f.trade_id for f in h.fills}) == 3
    assert h.execution.open_orders() == {}


async def test_two_orders_on_one_tick_do_not_take_the_same_depth_twice() -> None:
    h = Harness()
    await h.signal(Side.BUY, 80, ts=T0, strategy="a")
    await h.signal(Side.BUY, 80, ts=T0, strategy="b")
    await h.tick(100.0, T0 + 1, asks=((100.0, 100), (100.5, 30)))
    taken = [(f.strategy_id, f.quantity, f.price) for f in h.fills]
    assert taken == [("a", 80, 100.0), ("b", 20, 100.0), ("b", 30, 100.5)]
    assert sorted(h.execution.open_orders().values()) == [30]


async def test_with_partial_fills_off_the_whole_order_fills_at_the_touch() -> None:
    h = Harness(partial_fills=False)
    await h.signal(Side.SELL, 500, ts=T0)
    await h.tick(100.0, T0 + 1, bids=((99.95, 10), (99.9, 10)))
    assert [(f.quantity, f.price) for f in h.fills] == [(500, 99.95)]


async def test_depth_with_nobody_on_the_touch_side_fills_nothing() -> None:
    h = Harness()
    await h.signal(Side.BUY, 10, ts=T0)
    await h.tick(100.0, T0 + 1, bids=((99.9, 50),), asks=((0.0, 0),))
    assert h.fills == []
    await h.tick(100.0, T0 + 2, asks=((100.0, 50),))
    assert len(h.fills) == 1


async def test_limit_buy_rests_until_the_ask_crosses_and_never_pays_above_its_limit() -> None:
    h = Harness(slippage_bps=10)
    await h.signal(Side.BUY, 100, ts=T0, order_type=OrderType.LIMIT, limit=99.5)
    await h.tick(100.0, T0 + 1, asks=((100.0, 500),))
    await h.tick(99.8, T0 + 2, asks=((99.6, 500),))
    assert h.fills == []
    # 99.45 x 1.001 = 99.549 would be above the limit: the fill is capped at 99.5;
    # the next level 99.6 is above the limit and is not taken
    await h.tick(99.5, T0 + 3, asks=((99.45, 40), (99.6, 500)))
    assert [(f.quantity, f.price) for f in h.fills] == [(40, 99.5)]
    await h.tick(99.0, T0 + 4, asks=((99.0, 500),))
    [last] = h.fills[1:]
    assert last.quantity == 60
    assert last.price == pytest.approx(99.0 * 1.001)


async def test_limit_sell_rests_until_the_bid_crosses() -> None:
    h = Harness()
    await h.signal(Side.SELL, 10, ts=T0, order_type=OrderType.LIMIT, limit=105.0)
    await h.tick(104.0, T0 + 1, bids=((104.9, 100),))
    assert h.fills == []
    await h.tick(106.0, T0 + 2, bids=((106.0, 100),))
    assert [(f.quantity, f.price) for f in h.fills] == [(10, 106.0)]


async def test_limit_order_without_depth_uses_the_last_price() -> None:
    h = Harness()
    await h.signal(Side.BUY, 10, ts=T0, order_type=OrderType.LIMIT, limit=99.0)
    await h.tick(99.5, T0 + 1)
    assert h.fills == []
    await h.tick(98.0, T0 + 2)
    assert [f.price for f in h.fills] == [98.0]


async def test_signal_tick_mode_fills_at_once_at_the_reference_price() -> None:
    h = Harness(fill_price=FillPrice.SIGNAL_TICK, slippage_bps=10)
    await h.signal(Side.BUY, 10, ts=T0, price=250.0)
    [fill] = h.fills
    assert fill.price == pytest.approx(250.0 * 1.001)
    assert fill.fill_ts == T0
    assert h.execution.open_orders() == {}


async def test_signal_tick_mode_limit_not_crossed_rests_for_later_ticks() -> None:
    h = Harness(fill_price=FillPrice.SIGNAL_TICK)
    await h.signal(Side.BUY, 10, ts=T0, price=250.0, order_type=OrderType.LIMIT, limit=249.0)
    assert h.fills == []
    await h.tick(248.5, T0 + 1)
    assert [f.price for f in h.fills] == [248.5]


async def test_every_fill_carries_its_charges() -> None:
    h = Harness(charges=True)
    await h.signal(Side.BUY, 100, ts=T0)
    await h.tick(1000.0, T0 + 1, asks=((1000.0, 50), (1000.0, 50)))
    first, second = h.fills
    # 0.03% of 50,000 = 15 on the first fill; the order's cap of 20 leaves 5 for the second
    assert first.charges == h.calc.compute(Side.BUY, Product.MIS, 50, 1000.0)
    assert (first.charges.brokerage, second.charges.brokerage) == (15.0, 5.0)
    assert second.charges.stamp_duty == 1.5


async def test_charges_switched_off_give_zero_charges() -> None:
    h = Harness(charges=False)
    await h.signal(Side.BUY, 100, ts=T0)
    await h.tick(1000.0, T0 + 1)
    assert h.fills[0].charges == Charges()


# -- lineage and failures ------------------------------------------------------------


async def test_order_and_fill_chain_the_signal_correlation_id() -> None:
    h = Harness()
    signal_event = await h.signal(Side.BUY, 10, ts=T0)
    await h.tick(100.0, T0 + 1)
    placed = next(e for e in h.events if e.type is EventType.ORDER_PLACED)
    filled = next(e for e in h.events if e.type is EventType.ORDER_FILLED)
    assert placed.correlation_id == signal_event.correlation_id
    assert placed.causation_id == signal_event.id
    assert filled.correlation_id == signal_event.correlation_id
    assert filled.causation_id == placed.id
    assert filled.namespace is Namespace.PAPER and filled.key == "sma"


@pytest.mark.parametrize(
    ("token", "quantity", "order_type", "limit", "reason"),
    [
        (999, 10, OrderType.MARKET, None, "unknown instrument 999"),
        (NIFTY, 10, OrderType.MARKET, None, "NIFTY 50 is an index and cannot be traded"),
        (RELIANCE, 0, OrderType.MARKET, None, "quantity must be positive, got 0"),
        (RELIANCE, 10, OrderType.LIMIT, None, "a limit order needs a positive limit price"),
    ],
)
async def test_orders_the_exchange_would_reject_fail_with_a_plain_reason(
    token: int, quantity: int, order_type: OrderType, limit: float | None, reason: str
) -> None:
    h = Harness()
    signal_event = await h.signal(Side.BUY, quantity, token=token, order_type=order_type, limit=limit)
    [failed] = h.of(OrderFailed)
    assert failed.reason == reason
    assert h.of(OrderPlaced) == []
    failed_event = next(e for e in h.events if e.type is EventType.ORDER_FAILED)
    assert failed_event.correlation_id == signal_event.correlation_id
    await h.tick(100.0, T0 + 1, token=token)
    assert h.fills == []


async def test_delivery_cannot_sell_more_than_it_holds_and_has_not_already_offered() -> None:
    h = Harness()
    await h.signal(Side.SELL, 1, product=Product.CNC)
    [failed] = h.of(OrderFailed)
    assert failed.reason == "delivery (CNC) cannot sell short: 0 held and not already on sale"
    await h.signal(Side.BUY, 10, ts=T0, product=Product.CNC)
    await h.tick(100.0, T0 + 1)
    await h.signal(Side.SELL, 6, ts=T0 + 1, product=Product.CNC, order_type=OrderType.LIMIT, limit=120.0)
    await h.signal(Side.SELL, 5, ts=T0 + 1, product=Product.CNC)
    assert h.of(OrderFailed)[-1].reason == "delivery (CNC) cannot sell short: 4 held and not already on sale"
    await h.signal(Side.SELL, 4, ts=T0 + 1, product=Product.CNC)
    assert len(h.of(OrderFailed)) == 2
    await h.signal(Side.SELL, 3, ts=T0 + 1, product=Product.MIS)  # intraday may go short
    assert len(h.of(OrderFailed)) == 2


# -- cancel ----------------------------------------------------------------------------


async def test_cancel_command_cancels_a_resting_order_with_its_unfilled_quantity() -> None:
    h = Harness()
    await h.signal(Side.BUY, 100, ts=T0, order_type=OrderType.LIMIT, limit=99.0)
    await h.tick(99.0, T0 + 1, asks=((99.0, 30),))
    [order_id] = h.execution.open_orders()
    command = await h.command(CommandAction.CANCEL_ORDER, order_id)
    [cancelled] = h.of(OrderCancelled)
    assert (cancelled.order_id, cancelled.unfilled_quantity) == (order_id, 70)
    [result] = h.of(CommandResult)
    assert result.ok and result.command_id == command.id
    assert h.execution.open_orders() == {}
    await h.tick(98.0, T0 + 2, asks=((98.0, 500),))
    assert sum(f.quantity for f in h.fills) == 30


async def test_cancel_of_an_unknown_paper_order_answers_not_ok_and_other_ids_are_ignored() -> None:
    h = Harness()
    await h.command(CommandAction.CANCEL_ORDER, "P-zzz-9")
    [result] = h.of(CommandResult)
    assert not result.ok and "P-zzz-9" in result.message
    await h.command(CommandAction.CANCEL_ORDER, "250101000000001")  # a Zerodha order id
    assert len(h.of(CommandResult)) == 1
    assert h.of(OrderCancelled) == []


# -- MIS square-off ----------------------------------------------------------------------


async def test_square_off_at_1520_cancels_resting_mis_orders_and_closes_mis_positions() -> None:
    h = Harness()
    h.clock.set(at(15, 0))
    await h.signal(Side.BUY, 10, ts=at(15, 0), strategy="long")
    await h.signal(Side.SELL, 4, ts=at(15, 0), strategy="short")
    await h.signal(Side.BUY, 5, ts=at(15, 0), strategy="long", product=Product.CNC)
    await h.tick(100.0, at(15, 1))
    await h.signal(Side.BUY, 3, ts=at(15, 2), strategy="long", order_type=OrderType.LIMIT, limit=90.0)
    await h.signal(
        Side.BUY,
        2,
        ts=at(15, 2),
        strategy="long",
        order_type=OrderType.LIMIT,
        limit=90.0,
        product=Product.CNC,
    )
    assert h.execution.positions() == {
        ("long", RELIANCE, Product.MIS): 10,
        ("short", RELIANCE, Product.MIS): -4,
        ("long", RELIANCE, Product.CNC): 5,
    }
    await h.tick(100.0, at(15, 19, 59))
    assert h.of(OrderCancelled) == []

    trigger = await h.tick(101.0, at(15, 20, 0))
    [cancelled] = h.of(OrderCancelled)
    assert (cancelled.unfilled_quantity, cancelled.reason) == (3, SQUARE_OFF_REASON)
    closing = [p for p in h.of(OrderPlaced) if p.placed_ts >= at(15, 20)]
    assert {(p.strategy_id, p.side, p.quantity, p.product, p.order_type) for p in closing} == {
        ("long", Side.SELL, 10, Product.MIS, OrderType.MARKET),
        ("short", Side.BUY, 4, Product.MIS, OrderType.MARKET),
    }
    closing_events = [e for e in h.events if isinstance(e.payload, OrderPlaced) and e.payload in closing]
    assert all(e.causation_id == trigger.id and e.namespace is Namespace.PAPER for e in closing_events)

    await h.tick(101.5, at(15, 20, 1))
    assert h.execution.positions() == {("long", RELIANCE, Product.CNC): 5}
    assert len(h.execution.open_orders()) == 1  # the CNC limit order keeps resting

    # once per day: a later open MIS order is refused rather than left open overnight
    await h.signal(Side.BUY, 1, ts=at(15, 25), strategy="late")
    [failed] = h.of(OrderFailed)
    assert "square-off" in failed.reason
    await h.tick(101.0, at(15, 26))
    assert len(h.of(OrderCancelled)) == 1


async def test_square_off_happens_again_the_next_day() -> None:
    h = Harness()
    h.clock.set(at(15, 25))
    await h.tick(100.0, at(15, 25))  # day 1 cut-off passes with nothing open
    h.clock.set(at(10, 0, day=3))
    await h.signal(Side.BUY, 10, ts=at(10, 0, day=3))
    await h.tick(100.0, at(10, 0, 1, day=3))
    assert h.execution.positions() == {("sma", RELIANCE, Product.MIS): 10}
    await h.tick(100.0, at(15, 20, 5, day=3))
    await h.tick(100.0, at(15, 20, 6, day=3))
    assert h.execution.positions() == {}


async def test_restore_rebuilds_positions_that_square_off_closes() -> None:
    live = Harness()
    await live.signal(Side.BUY, 10, ts=T0)
    await live.signal(Side.BUY, 3, ts=T0, product=Product.CNC, strategy="other")
    await live.tick(100.0, T0 + 1, asks=((100.0, 4),))
    await live.tick(100.0, T0 + 2, asks=((100.0, 50),))

    restored = Harness()
    await restored.execution.restore(live.fills)
    assert restored.execution.positions() == live.execution.positions()
    assert restored.execution.positions() == {
        ("sma", RELIANCE, Product.MIS): 10,
        ("other", RELIANCE, Product.CNC): 3,
    }
    restored.clock.set(at(15, 21))
    await restored.tick(100.0, at(15, 21))
    await restored.tick(100.0, at(15, 21, 1))
    assert restored.execution.positions() == {("other", RELIANCE, Product.CNC): 3}


async def test_order_ids_of_a_restarted_run_do_not_repeat() -> None:
    first, second = Harness(), Harness()
    await first.signal()
    await second.signal()
    assert first.of(OrderPlaced)[0].order_id != second.of(OrderPlaced)[0].order_id


# -- the wall ------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", [Namespace.ZERODHA, Namespace.SHARED])
def test_paper_execution_refuses_any_namespace_but_paper(namespace: Namespace) -> None:
    with pytest.raises(ValueError, match="paper"):
        PaperExecution(
            DirectBus(),
            PaperSettings(),
            ChargeCalculator(ChargesSettings()),
            InstrumentRegistry.sample(),
            ManualClock(T0),
            MarketCalendar(),
            namespace=namespace,
        )


async def test_paper_execution_publishes_only_on_paper_topics() -> None:
    h = Harness(charges=True)
    h.clock.set(at(15, 0))
    await h.signal(Side.BUY, 10, ts=at(15, 0))
    await h.signal(Side.BUY, 10, ts=at(15, 0), token=999)
    await h.signal(Side.SELL, 5, ts=at(15, 0), order_type=OrderType.LIMIT, limit=200.0)
    await h.tick(100.0, at(15, 1))
    await h.command(CommandAction.CANCEL_ORDER, "P-none-1")
    await h.tick(100.0, at(15, 20))
    await h.tick(100.0, at(15, 21))
    assert {type(p) for p in (e.payload for e in h.events)} == {
        OrderPlaced,
        OrderFilled,
        OrderFailed,
        OrderCancelled,
        CommandResult,
    }
    assert h.foreign == []
    assert all(e.namespace is Namespace.PAPER for e in h.events if e.type is not EventType.COMMAND_RESULT)
    allowed = set(PAPER.namespaced_topics()) | set(SHARED_TOPICS)
    assert set(h.bus.stats.published) <= allowed
    assert not any(topic.startswith(Namespace.ZERODHA.value) for topic in h.bus.stats.published)


def test_base36() -> None:
    assert [base36(0), base36(35), base36(36), base36(1_770_006_600_000)] == ["0", "z", "10", "ml4o89c0"]


async def test_injected_order_ids_make_a_run_repeatable() -> None:
    placed: list[str] = []
    for _ in range(2):
        h = Harness(order_ids=OrderIds(ORDER_ID_PREFIX, run="ml4o89c0"))
        await h.signal()
        await h.signal()
        placed.append(",".join(p.order_id for p in h.of(OrderPlaced)))
    assert placed == ["P-ml4o89c0-1,P-ml4o89c0-2"] * 2


# -- engine stop and restart -------------------------------------------------------------


async def test_close_cancels_every_working_order_and_refuses_new_ones() -> None:
    h = Harness()
    await h.signal(Side.BUY, 100, ts=T0, order_type=OrderType.LIMIT, limit=99.0)
    await h.tick(99.0, T0 + 1, asks=((99.0, 30),))  # part-filled: 70 still working
    await h.signal(Side.SELL, 10, token=TCS, ts=T0 + 1)  # not filled at all
    assert await h.execution.close() == 2
    cancelled = {c.order_id: c for c in h.of(OrderCancelled)}
    assert sorted((c.side, c.unfilled_quantity, c.reason) for c in cancelled.values()) == [
        (Side.BUY, 70, STOP_REASON),
        (Side.SELL, 10, STOP_REASON),
    ]
    assert h.execution.open_orders() == {}
    await h.signal(Side.BUY, 5, ts=T0 + 2)
    [failed] = h.of(OrderFailed)
    assert failed.reason == STOP_REASON
    await h.tick(98.0, T0 + 3, asks=((98.0, 500),))
    assert sum(f.quantity for f in h.fills) == 30  # nothing filled after the close


async def test_cancel_unresolved_cancels_stored_paper_orders_in_their_own_lineage() -> None:
    h = Harness()
    placed = OrderPlaced("P-old-7", "sma", RELIANCE, Side.BUY, 10, OrderType.MARKET, Product.MIS)
    foreign = OrderPlaced("250101000000001", "sma", RELIANCE, Side.SELL, 5, OrderType.MARKET, Product.MIS)
    stored = [UnresolvedOrder(placed, 4, "corr-7"), UnresolvedOrder(foreign, 0, "corr-z")]
    assert await h.execution.cancel_unresolved(stored) == 1
    [event] = [e for e in h.events if isinstance(e.payload, OrderCancelled)]
    assert event.payload == OrderCancelled("P-old-7", "sma", RELIANCE, 6, RESTART_REASON, side=Side.BUY)
    assert (event.namespace, event.correlation_id, event.type) == (
        Namespace.PAPER,
        "corr-7",
        EventType.ORDER_CANCELLED,
    )


# -- the execution interface -------------------------------------------------------------


def test_paper_execution_is_an_execution_client() -> None:
    assert isinstance(Harness().execution, ExecutionClient)


async def test_cancel_and_cancel_all_cancel_working_orders_and_keep_accepting_new_ones() -> None:
    h = Harness()
    await h.signal(Side.BUY, 10, ts=T0, order_type=OrderType.LIMIT, limit=90.0)
    await h.signal(Side.SELL, 5, token=TCS, ts=T0, order_type=OrderType.LIMIT, limit=200.0)
    await h.signal(Side.BUY, 7, token=TCS, ts=T0, order_type=OrderType.LIMIT, limit=100.0)
    first = next(iter(h.execution.open_orders()))
    assert await h.execution.cancel(first, "by hand")
    assert not await h.execution.cancel(first, "again")
    assert await h.execution.cancel_all("kill switch") == 2
    assert sorted(c.reason for c in h.of(OrderCancelled)) == ["by hand", "kill switch", "kill switch"]
    assert h.execution.open_orders() == {}
    await h.signal(Side.BUY, 3, ts=T0 + 1)
    await h.tick(100.0, T0 + 2)
    assert [f.quantity for f in h.fills] == [3]


async def test_flatten_closes_positions_in_scope_with_market_orders_once() -> None:
    h = Harness()
    await h.signal(Side.BUY, 10, ts=T0, strategy="long")
    await h.signal(Side.SELL, 4, ts=T0, strategy="short")
    await h.signal(Side.BUY, 5, token=TCS, ts=T0, strategy="long", product=Product.CNC)
    await h.tick(100.0, T0 + 1)
    await h.tick(300.0, T0 + 1, token=TCS)
    await h.signal(Side.BUY, 3, ts=T0 + 1, strategy="long", order_type=OrderType.LIMIT, limit=90.0)
    assert await h.execution.flatten("flatten long", strategy_id="long", instrument_token=RELIANCE) == 1
    # the working order in scope is cancelled; pressing flatten again replaces, never doubles
    assert [c.unfilled_quantity for c in h.of(OrderCancelled)] == [3]
    assert await h.execution.flatten("flatten long", strategy_id="long", instrument_token=RELIANCE) == 1
    await h.tick(101.0, T0 + 2)
    assert h.execution.positions() == {
        ("short", RELIANCE, Product.MIS): -4,
        ("long", TCS, Product.CNC): 5,
    }
    assert await h.execution.flatten("flatten all") == 2
    await h.tick(101.0, T0 + 3)
    await h.tick(301.0, T0 + 3, token=TCS)
    assert h.execution.positions() == {}
    closing = [p for p in h.of(OrderPlaced) if p.order_type is OrderType.MARKET and p.placed_ts > T0]
    assert {(p.strategy_id, p.side, p.quantity, p.product) for p in closing} == {
        ("long", Side.SELL, 10, Product.MIS),
        ("short", Side.BUY, 4, Product.MIS),
        ("long", Side.SELL, 5, Product.CNC),
    }
    assert h.foreign == []


# -- a strategy's order settings -------------------------------------------------------

CNC_LIMIT_STRATEGY = """
[[strategy]]
name = "delivery"
kind = "sma_crossover"
instruments = ["RELIANCE"]
product = "CNC"
order_type = "LIMIT"
limit_offset_ticks = -2
[strategy.params]
fast = 2
slow = 3
quantity = 4
"""


async def test_a_strategy_configured_cnc_limit_trades_cnc_limit_orders_at_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "strategies.toml"
    path.write_text(CNC_LIMIT_STRATEGY, encoding="utf-8")
    settings = load_settings(strategies=StrategySettings(file=path))
    [strategy], _ = load_strategies(settings, InstrumentRegistry.sample())
    h = Harness()
    made: list[TradingSignal] = []
    for i, price in enumerate([100.0, 100.0, 100.0, 103.0, 103.5, 102.9, 95.0, 95.0, 95.2]):
        ts = T0 + i
        await h.tick(price, ts)
        signal = strategy.on_tick(MarketTick(instrument_token=RELIANCE, last_price=price, exchange_ts=ts))
        if signal is not None:
            made.append(signal)
            validated = SignalValidated(signal=signal, quantity=signal.quantity)
            event = make_event(validated, namespace=Namespace.PAPER, source="t", key=strategy.name)
            await h.bus.publish(PAPER.signals_validated, event)
    assert [(s.side, s.product, s.order_type, s.reference_price, s.limit_price) for s in made] == [
        (Side.BUY, Product.CNC, OrderType.LIMIT, 103.0, 102.9),
        (Side.SELL, Product.CNC, OrderType.LIMIT, 95.0, 95.1),
        (Side.BUY, Product.CNC, OrderType.LIMIT, 95.2, 95.1),  # the rise to 95.2 crosses up again
    ]
    placed = h.of(OrderPlaced)
    assert [(p.side, p.product, p.order_type, p.limit_price) for p in placed] == [
        (Side.BUY, Product.CNC, OrderType.LIMIT, 102.9),
        (Side.SELL, Product.CNC, OrderType.LIMIT, 95.1),
        (Side.BUY, Product.CNC, OrderType.LIMIT, 95.1),
    ]
    # each rests until the market reaches its limit: the buy at 102.9, the sell at 95.2 (not 95.0);
    # the last buy, two ticks under 95.2, still rests
    assert [(f.side, f.product, f.quantity, f.price) for f in h.fills] == [
        (Side.BUY, Product.CNC, 4, 102.9),
        (Side.SELL, Product.CNC, 4, 95.2),
    ]
    assert h.of(OrderFailed) == []

from __future__ import annotations

from datetime import datetime

import pytest

from engine.bus import DirectBus
from engine.clock import ManualClock
from engine.events import (
    Charges,
    Event,
    MarketTick,
    Namespace,
    OrderFilled,
    PnlSnapshot,
    Product,
    Side,
    SignalValidated,
    TradingSignal,
    make_event,
)
from engine.execution import ChargeCalculator, PaperExecution
from engine.instruments import InstrumentRegistry
from engine.market.calendar import IST, MarketCalendar
from engine.portfolio import Portfolio, PortfolioManager
from engine.settings import ChargesSettings, PaperSettings
from engine.topics import MARKET_TICKS, TopicMap

PAPER = TopicMap(Namespace.PAPER)
RELIANCE = 738561
TCS = 2953217
INFY = 408065
T0 = datetime(2026, 2, 2, 10, 0, tzinfo=IST).timestamp()


class Harness:
    def __init__(self, interval: float = 1.0) -> None:
        self.bus = DirectBus()
        self.clock = ManualClock(T0)
        self.manager = PortfolioManager(
            self.bus, Namespace.PAPER, 100_000.0, self.clock, snapshot_interval_s=interval
        )
        self.manager.wire()
        self.snapshots: list[Event] = []
        self.bus.subscribe([PAPER.pnl_snapshots], "recorder", self._record)
        self._trades = 0

    async def _record(self, event: Event) -> None:
        self.snapshots.append(event)

    def payloads(self) -> list[PnlSnapshot]:
        return [e.payload for e in self.snapshots if isinstance(e.payload, PnlSnapshot)]

    async def fill(
        self,
        side: Side,
        quantity: int,
        price: float,
        *,
        token: int = RELIANCE,
        strategy: str = "sma",
        ts: float = T0,
        trade_id: str = "",
    ) -> Event:
        self._trades += 1
        payload = OrderFilled(
            order_id="P-x-1",
            trade_id=trade_id or f"P-x-1-{self._trades}",
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            price=price,
            product=Product.MIS,
            charges=Charges(brokerage=1.0),
            fill_ts=ts,
        )
        event = make_event(payload, namespace=Namespace.PAPER, source="t", key=strategy)
        await self.bus.publish(PAPER.orders_filled, event)
        return event

    async def tick(self, price: float, ts: float, token: int = RELIANCE) -> None:
        event = make_event(
            MarketTick(instrument_token=token, last_price=price, exchange_ts=ts),
            namespace=Namespace.SHARED,
            source="feed",
            key=str(token),
        )
        await self.bus.publish(MARKET_TICKS, event)


def state(p: Portfolio) -> tuple[object, ...]:
    positions = tuple(
        sorted((t, x.quantity, x.average_price, x.realized_pnl) for t, x in p.positions.items())
    )
    return (p.portfolio_id, p.cash, p.charges, p.fills, positions)


async def test_every_fill_publishes_a_snapshot_caused_by_the_fill() -> None:
    h = Harness()
    fill_event = await h.fill(Side.BUY, 10, 100.0)
    [snap_event] = h.snapshots
    assert snap_event.causation_id == fill_event.id
    assert snap_event.correlation_id == fill_event.correlation_id
    assert snap_event.key == "paper:sma" and snap_event.namespace is Namespace.PAPER
    [snap] = h.payloads()
    assert (snap.portfolio_id, snap.strategy_id, snap.snapshot_ts) == ("paper:sma", "sma", T0)
    assert snap.cash == 100_000.0 - 1_000.0 - 1.0
    assert snap.charges == 1.0


async def test_strategies_get_separate_portfolios() -> None:
    h = Harness()
    await h.fill(Side.BUY, 10, 100.0, strategy="a")
    await h.fill(Side.SELL, 4, 100.0, strategy="b")
    assert set(h.manager.portfolios) == {"paper:a", "paper:b"}
    assert h.manager.portfolios["paper:b"].positions[RELIANCE].quantity == -4


async def test_a_redelivered_trade_id_is_counted_once() -> None:
    h = Harness()
    await h.fill(Side.BUY, 10, 100.0, trade_id="P-x-1-1")
    await h.fill(Side.BUY, 10, 100.0, trade_id="P-x-1-1")  # a new event id, the same trade
    p = h.manager.portfolios["paper:sma"]
    assert p.positions[RELIANCE].quantity == 10
    assert p.fills == 1
    assert len(h.snapshots) == 1


async def test_ticks_mark_held_instruments_and_snapshot_at_most_once_per_interval() -> None:
    h = Harness(interval=1.0)
    await h.fill(Side.BUY, 10, 100.0, ts=T0)
    h.snapshots.clear()
    await h.tick(3000.0, T0 + 0.1, token=TCS)  # not held: nothing to do
    assert h.snapshots == []
    await h.tick(101.0, T0 + 0.2)
    await h.tick(102.0, T0 + 0.7)
    await h.tick(102.0, T0 + 1.0)
    await h.tick(103.0, T0 + 1.5)
    await h.tick(104.0, T0 + 2.3)  # marked, but within 1 s of the last snapshot
    await h.tick(104.0, T0 + 2.6)  # no move, and the earlier mark is now due
    await h.tick(104.0, T0 + 4.0)  # nothing moved since: nothing to send
    assert [(s.snapshot_ts, s.unrealized_pnl) for s in h.payloads()] == [
        (T0 + 0.2, 10.0),
        (T0 + 1.5, 30.0),
        (T0 + 2.6, 40.0),
    ]
    assert all(not e.causation_id and e.correlation_id == e.id for e in h.snapshots)  # root events
    assert all(e.key == "paper:sma" for e in h.snapshots)


async def test_only_strategies_whose_marks_moved_get_a_tick_snapshot() -> None:
    h = Harness(interval=0.5)
    await h.fill(Side.BUY, 10, 100.0, strategy="a", token=RELIANCE)
    await h.fill(Side.BUY, 10, 1500.0, strategy="b", token=INFY)
    h.snapshots.clear()
    await h.tick(101.0, T0 + 1, token=RELIANCE)
    assert [s.strategy_id for s in h.payloads()] == ["a"]


async def test_a_closed_position_is_no_longer_marked() -> None:
    h = Harness(interval=0.0)
    await h.fill(Side.BUY, 10, 100.0)
    await h.fill(Side.SELL, 10, 101.0)
    h.snapshots.clear()
    await h.tick(120.0, T0 + 1)
    assert h.snapshots == []
    assert h.manager.portfolios["paper:sma"].positions[RELIANCE].last_price == 101.0


async def test_totals_sum_every_portfolio() -> None:
    h = Harness()
    await h.fill(Side.BUY, 10, 100.0, strategy="a")
    await h.fill(Side.SELL, 5, 100.0, strategy="b")
    await h.tick(110.0, T0 + 1)
    totals = h.manager.totals()
    assert totals.portfolios == 2
    assert totals.starting_cash == 200_000.0
    assert totals.unrealized_pnl == 100.0 - 50.0
    assert totals.charges == 2.0
    assert totals.open_positions == 2
    assert totals.equity == pytest.approx(200_000.0 + 50.0 - 2.0)
    assert totals.net_pnl == pytest.approx(totals.realized_pnl + totals.unrealized_pnl - totals.charges)


def test_portfolio_manager_needs_a_broker_namespace() -> None:
    with pytest.raises(ValueError):
        PortfolioManager(DirectBus(), Namespace.SHARED, 1.0, ManualClock(T0))


async def test_paper_pipeline_restore_from_fills_rebuilds_the_live_state() -> None:
    """Execution and portfolio on one DirectBus; a fresh pair restored from the fills matches."""
    bus = DirectBus()
    clock = ManualClock(T0)
    execution = PaperExecution(
        bus,
        PaperSettings(slippage_bps=3),
        ChargeCalculator(ChargesSettings()),
        InstrumentRegistry.sample(),
        clock,
        MarketCalendar(),
    )
    live = PortfolioManager(bus, Namespace.PAPER, 100_000.0, clock)
    execution.wire()
    live.wire()
    fills: list[OrderFilled] = []

    async def keep(event: Event) -> None:
        if isinstance(event.payload, OrderFilled):
            fills.append(event.payload)

    bus.subscribe([PAPER.orders_filled], "store", keep)

    plan = [
        ("a", Side.BUY, 30, RELIANCE),
        ("a", Side.SELL, 50, RELIANCE),  # flips short
        ("b", Side.BUY, 12, TCS),
        ("a", Side.BUY, 5, RELIANCE),
        ("b", Side.SELL, 4, TCS),
    ]
    ts = T0
    for i, (strategy, side, quantity, token) in enumerate(plan):
        ts += 1
        clock.set(ts)
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            reference_price=100.0,
            signal_ts=ts,
        )
        await bus.publish(
            PAPER.signals_validated,
            make_event(
                SignalValidated(signal=signal, quantity=quantity),
                namespace=Namespace.PAPER,
                source="t",
                key=strategy,
            ),
        )
        ts += 1
        clock.set(ts)
        price = 100.0 + 3 * i if token == RELIANCE else 3000.0 - 7 * i
        await bus.publish(
            MARKET_TICKS,
            make_event(
                MarketTick(instrument_token=token, last_price=price, exchange_ts=ts),
                namespace=Namespace.SHARED,
                source="feed",
                key=str(token),
            ),
        )
    assert len(fills) == len(plan)
    assert all(f.charges.total > 0 for f in fills)

    restored = PortfolioManager(DirectBus(), Namespace.PAPER, 100_000.0, clock)
    await restored.restore(fills)
    assert {k: state(p) for k, p in restored.portfolios.items()} == {
        k: state(p) for k, p in live.portfolios.items()
    }
    a = live.portfolios["paper:a"].positions[RELIANCE]
    assert a.quantity == 30 - 50 + 5

    restored_execution = PaperExecution(
        DirectBus(),
        PaperSettings(),
        ChargeCalculator(ChargesSettings()),
        InstrumentRegistry.sample(),
        clock,
        MarketCalendar(),
    )
    await restored_execution.restore(fills)
    assert (
        restored_execution.positions()
        == execution.positions()
        == {
            ("a", RELIANCE, Product.MIS): -15,
            ("b", TCS, Product.MIS): 8,
        }
    )
    for book in live.portfolios.values():
        net = {t: pos.quantity for t, pos in book.positions.items() if pos.quantity}
        assert net == {t: q for (s, t, _), q in execution.positions().items() if s == book.strategy_id}
        assert book.realized_pnl + book.unrealized_pnl - book.charges == pytest.approx(
            book.equity - book.starting_cash, abs=1e-6
        )


async def test_tracked_trade_and_event_ids_stay_bounded_after_many_fills() -> None:
    h = Harness()
    capacity = h.manager._trade_ids.capacity
    fills = capacity * 2 + 500
    for n in range(fills):
        await h.fill(Side.BUY if n % 2 == 0 else Side.SELL, 1, 100.0, ts=T0 + n)
    assert h.manager.portfolios["paper:sma"].fills == fills
    assert len(h.manager._trade_ids) == capacity
    redelivery_guard = h.bus._subscriptions[h.manager.group].seen
    assert len(redelivery_guard) == capacity
    # the newest trade is still remembered: its redelivery changes nothing
    await h.fill(Side.BUY, 1, 100.0, trade_id=f"P-x-1-{fills}")
    assert h.manager.portfolios["paper:sma"].fills == fills


async def test_a_change_no_tick_carried_out_is_published_once_it_has_waited_an_interval() -> None:
    """The feed pauses right after a fill and a move: the console must not keep the old P&L."""
    h = Harness(interval=1.0)
    await h.fill(Side.BUY, 10, 100.0, ts=T0)  # published at once
    await h.tick(101.0, T0 + 0.1)  # a move: published, the next tick snapshot due at T0 + 1.1
    await h.fill(Side.BUY, 10, 102.0, ts=T0 + 0.3)  # within the interval: waits for a tick
    await h.tick(105.0, T0 + 0.5)  # moves the mark, still within the interval; then no more ticks
    assert [s.snapshot_ts for s in h.payloads()] == [T0, T0 + 0.1]
    h.snapshots.clear()
    h.clock.set(T0 + 0.8)
    assert await h.manager.publish_pending() == 0  # not yet an interval since the last snapshot
    h.clock.set(T0 + 1.2)
    assert await h.manager.publish_pending() == 1
    [latest] = h.payloads()
    assert latest.snapshot_ts == T0 + 1.2
    assert latest.unrealized_pnl == pytest.approx(20 * 105.0 - (10 * 100.0 + 10 * 102.0))
    assert await h.manager.publish_pending() == 0  # nothing changed since

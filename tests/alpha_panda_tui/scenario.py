"""A deterministic trading session published on a real bus: the exact events the engine publishes.

Every timestamp comes from a frozen clock and every price from a seeded
generator, so screens built from it are identical run to run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgspec

from engine.bus.base import Bus
from engine.clock import ManualClock
from engine.events import (
    Charges,
    Command,
    CommandAction,
    CommandResult,
    DepthLevel,
    EngineState,
    EngineStatus,
    Event,
    HealthCheckView,
    MarketTick,
    Namespace,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Payload,
    PnlSnapshot,
    PositionView,
    Product,
    Side,
    SignalRejected,
    SignalValidated,
    StrategyStatus,
    TradingMode,
    TradingSignal,
    make_event,
)
from engine.instruments import InstrumentRegistry
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap, topic_namespace

# Wed 10 Dec 2025 10:05:00 IST, a trading day
SESSION_START = 1_765_341_300.0
PAPER = TopicMap(Namespace.PAPER)

STRATEGIES = (
    StrategyStatus(
        name="sma_fast",
        kind="sma_crossover",
        enabled=True,
        instruments=(738561, 2953217),
        namespaces=(Namespace.PAPER,),
        signals=2,
        params=(("fast", "5"), ("slow", "20"), ("quantity", "10"), ("allow_short", "False")),
        orders=(("order", "CNC LIMIT"), ("limit", "ref +2 ticks")),
    ),
    StrategyStatus(
        name="rsi_revert",
        kind="rsi",
        enabled=True,
        instruments=(341249, 408065),
        namespaces=(Namespace.PAPER,),
        signals=1,
        params=(("period", "14"), ("oversold", "30"), ("overbought", "70"), ("quantity", "5")),
    ),
    StrategyStatus(
        name="momentum_nifty",
        kind="momentum",
        enabled=False,
        instruments=(1270529,),
        namespaces=(Namespace.PAPER,),
        signals=0,
    ),
)

HEALTH = (
    HealthCheckView("config", "ok", "settings valid", True),
    HealthCheckView("database", "ok", "sqlite reachable in 0.4 ms", True),
    HealthCheckView("disk", "ok", "41.2 GB free in the data dir", False),
    HealthCheckView("pipeline", "warn", "risk (paper): backlog 12", True),
    HealthCheckView("market", "ok", "open", False),
    HealthCheckView("broker", "skipped", "zerodha disabled", False),
)


@dataclass
class Scenario:
    bus: Bus
    instruments: InstrumentRegistry
    clock: ManualClock = field(default_factory=lambda: ManualClock(SESSION_START))
    seed: int = 7
    prices: dict[int, float] = field(default_factory=dict)
    volumes: dict[int, int] = field(default_factory=dict)
    last_tick: dict[int, Event] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        for inst in self.instruments:
            self.prices[inst.instrument_token] = inst.last_price
            self.volumes[inst.instrument_token] = 100_000

    def _stamp(self, event: Event) -> Event:
        return msgspec.structs.replace(event, ts=self.clock.now())

    async def _publish(self, topic: str, event: Event) -> Event:
        event = self._stamp(event)
        await self.bus.publish(topic, event)
        return event

    async def root(self, topic: str, payload: Payload, namespace: Namespace = Namespace.SHARED) -> Event:
        return await self._publish(topic, make_event(payload, namespace=namespace, source="test", key="k"))

    async def child(self, topic: str, parent: Event, payload: Payload) -> Event:
        namespace = topic_namespace(topic)
        if namespace is Namespace.SHARED:
            namespace = parent.namespace
        return await self._publish(topic, parent.child(payload, source="test", key="k", namespace=namespace))

    # -- market ---------------------------------------------------------------
    async def tick(self, token: int, move: float | None = None) -> Event:
        inst = self.instruments.by_token(token)
        step = move if move is not None else self._random.uniform(-0.004, 0.004)
        price = round(self.prices[token] * (1 + step), 2)
        self.prices[token] = price
        self.volumes[token] += self._random.randint(10, 900)
        self.clock.advance(0.25)
        tick = MarketTick(
            instrument_token=token,
            last_price=price,
            exchange_ts=self.clock.now(),
            volume=self.volumes[token],
            close=inst.last_price,
            change=(price - inst.last_price) / inst.last_price * 100 if inst.last_price else 0.0,
            bids=(DepthLevel(round(price - 0.05, 2), 120, 3),),
            asks=(DepthLevel(round(price + 0.05, 2), 95, 2),),
        )
        event = await self.root(MARKET_TICKS, tick)
        self.last_tick[token] = event
        return event

    async def ticks(self, rounds: int) -> None:
        for _ in range(rounds):
            for inst in self.instruments:
                await self.tick(inst.instrument_token)

    # -- engine status --------------------------------------------------------
    async def status(
        self,
        *,
        state: EngineState = EngineState.RUNNING,
        halted_reason: str = "",
        feed_paused: bool = False,
        strategies: tuple[StrategyStatus, ...] = STRATEGIES,
        mode: TradingMode = TradingMode.PAPER,
        loss_latches: tuple[str, ...] = (),
        broker_session: str = "",
        live: bool = False,
        live_confirmed: bool = False,
        live_detail: str = "",
        live_open_orders: int = 0,
        live_orders_queued: int = 0,
    ) -> Event:
        status = EngineStatus(
            state=state,
            mode=mode,
            halted_reason=halted_reason,
            feed_paused=feed_paused,
            feed_source="simulated",
            tick_rate=48.0,
            market_status="open",
            session_ts=self.clock.now(),
            ticks=1_234,
            signals=3,
            orders=2,
            fills=2,
            rejections=1,
            strategies=strategies,
            health=HEALTH,
            loss_latches=loss_latches,
            broker_session=broker_session,
            live=live,
            live_confirmed=live_confirmed,
            live_detail=live_detail,
            live_open_orders=live_open_orders,
            live_orders_queued=live_orders_queued,
            status_ts=self.clock.now(),
        )
        return await self.root(ENGINE_STATUS, status)

    # -- one order's life -------------------------------------------------------
    async def filled_order(
        self, token: int, strategy: str, side: Side, quantity: int, order_id: str, *, partial: bool = True
    ) -> str:
        tick = await self.tick(token)
        price = self.prices[token]
        self.clock.advance(0.0004)
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            reference_price=price,
            reason="fast SMA crossed above slow",
            signal_ts=self.clock.now(),
        )
        signal_event = await self.child(PAPER.signals_raw, tick, signal)
        self.clock.advance(0.0002)
        validated = SignalValidated(
            signal=signal, quantity=quantity, rules_passed=("max_quantity", "price_band")
        )
        validated_event = await self.child(PAPER.signals_validated, signal_event, validated)
        self.clock.advance(0.0003)
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id=strategy,
            instrument_token=token,
            side=side,
            quantity=quantity,
            order_type=OrderType.MARKET,
            product=Product.MIS,
            placed_ts=self.clock.now(),
        )
        order_event = await self.child(PAPER.orders_placed, validated_event, placed)
        parts = (quantity // 2, quantity - quantity // 2) if partial and quantity > 1 else (quantity,)
        remaining = quantity
        for n, part in enumerate(parts, start=1):
            self.clock.advance(0.25)
            remaining -= part
            fill = OrderFilled(
                order_id=order_id,
                trade_id=f"{order_id}-T{n}",
                strategy_id=strategy,
                instrument_token=token,
                side=side,
                quantity=part,
                price=round(price * 1.0002, 2),
                product=Product.MIS,
                charges=Charges(brokerage=2.5, stt=0.0, exchange=0.42, sebi=0.01, gst=0.53, stamp_duty=0.04),
                remaining_quantity=remaining,
                fill_ts=self.clock.now(),
            )
            await self.child(PAPER.orders_filled, order_event, fill)
        return order_id

    async def open_order(self, token: int, strategy: str, order_id: str) -> None:
        """A limit order that rests: placed, not filled."""
        tick = await self.tick(token)
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=Side.BUY,
            quantity=2,
            reference_price=self.prices[token],
            order_type=OrderType.LIMIT,
            limit_price=round(self.prices[token] * 0.99, 2),
            signal_ts=self.clock.now(),
        )
        signal_event = await self.child(PAPER.signals_raw, tick, signal)
        validated = await self.child(PAPER.signals_validated, signal_event, SignalValidated(signal, 2))
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id=strategy,
            instrument_token=token,
            side=Side.BUY,
            quantity=2,
            order_type=OrderType.LIMIT,
            product=Product.MIS,
            limit_price=signal.limit_price,
            placed_ts=self.clock.now(),
        )
        await self.child(PAPER.orders_placed, validated, placed)

    async def rejected_signal(self, token: int, strategy: str) -> None:
        tick = await self.tick(token)
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=Side.BUY,
            quantity=5_000,
            reference_price=self.prices[token],
            reason="RSI below 30",
            signal_ts=self.clock.now(),
        )
        signal_event = await self.child(PAPER.signals_raw, tick, signal)
        rejected = SignalRejected(signal=signal, rule="max_quantity", reason="5000 > limit 1000")
        await self.child(PAPER.signals_rejected, signal_event, rejected)

    async def failed_order(self, token: int, strategy: str, order_id: str) -> None:
        tick = await self.tick(token)
        signal = TradingSignal(
            strategy_id=strategy,
            instrument_token=token,
            side=Side.SELL,
            quantity=3,
            reference_price=self.prices[token],
            reason="RSI above 70",
            signal_ts=self.clock.now(),
        )
        signal_event = await self.child(PAPER.signals_raw, tick, signal)
        validated_event = await self.child(
            PAPER.signals_validated, signal_event, SignalValidated(signal=signal, quantity=3)
        )
        placed = OrderPlaced(
            order_id=order_id,
            strategy_id=strategy,
            instrument_token=token,
            side=Side.SELL,
            quantity=3,
            order_type=OrderType.LIMIT,
            product=Product.MIS,
            limit_price=round(self.prices[token] * 1.01, 2),
            placed_ts=self.clock.now(),
        )
        order_event = await self.child(PAPER.orders_placed, validated_event, placed)
        failed = OrderFailed(
            order_id=order_id,
            strategy_id=strategy,
            instrument_token=token,
            side=Side.SELL,
            quantity=3,
            reason="stale quote: no tick for 6.0 s",
        )
        await self.child(PAPER.orders_failed, order_event, failed)

    async def pnl(self, strategy: str, token: int, quantity: int, average: float, realized: float) -> None:
        last = self.prices[token]
        unrealized = round((last - average) * quantity, 2)
        snapshot = PnlSnapshot(
            portfolio_id=f"paper:{strategy}",
            strategy_id=strategy,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            charges=7.0,
            cash=1_000_000.0 - average * quantity + realized,
            equity=1_000_000.0 + realized + unrealized - 7.0,
            positions=(PositionView(token, quantity, average, last, realized, unrealized),),
            snapshot_ts=self.clock.now(),
        )
        await self.root(PAPER.pnl_snapshots, snapshot, Namespace.PAPER)

    async def command_result(self, action: CommandAction, message: str, ok: bool = True) -> None:
        command = await self.root(CONTROL_COMMANDS, Command(action=action, issued_by="cli"))
        result = CommandResult(command_id=command.id, action=action, ok=ok, message=message)
        await self.child(ENGINE_STATUS, command, result)

    # -- a whole session ------------------------------------------------------------
    async def session(self) -> None:
        """Quotes for every instrument, a filled and a failed order, a rejection, P&L, status."""
        await self.ticks(12)
        await self.status()
        await self.filled_order(738561, "sma_fast", Side.BUY, 10, "PAPER-000001")
        for n in range(8):
            await self.ticks(1)
            await self.pnl("sma_fast", 738561, 10, self.prices[738561] * 0.999, 12.5 * n)
        await self.rejected_signal(341249, "rsi_revert")
        await self.failed_order(408065, "rsi_revert", "PAPER-000002")
        await self.filled_order(2953217, "sma_fast", Side.BUY, 4, "PAPER-000003", partial=False)
        await self.command_result(CommandAction.STRATEGY_DISABLE, "momentum_nifty disabled")
        await self.ticks(2)
        await self.status()

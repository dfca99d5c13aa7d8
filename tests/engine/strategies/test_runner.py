"""StrategyRunner on a real DirectBus: ticks in, signals out, commands, persistence, segregation."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from engine.bus import DirectBus, Handler
from engine.events import (
    Charges,
    Command,
    CommandAction,
    CommandResult,
    Event,
    MarketTick,
    Namespace,
    OrderCancelled,
    OrderFailed,
    OrderFilled,
    OrderPlaced,
    OrderType,
    Product,
    Side,
    SignalRejected,
    TradingSignal,
    make_event,
)
from engine.execution.working import UnresolvedOrder
from engine.state import MemoryStateStore
from engine.strategies.base import Strategy
from engine.strategies.runner import StrategyRunner, UnknownStrategy
from engine.strategies.sma_crossover import SmaCrossover
from engine.topics import CONTROL_COMMANDS, ENGINE_STATUS, MARKET_TICKS, TopicMap
from tests.engine.strategies.helpers import INFY, RELIANCE, T0, tick

PAPER, ZERODHA = Namespace.PAPER, Namespace.ZERODHA
# SMA(2)/SMA(4) on these prices: BUY at tick 4, SELL at 7, BUY at 9 (see test_builtins)
SMA_PRICES = [10, 10, 10, 10, 11, 12, 9, 8, 8, 12]


class Rig:
    """A DirectBus, a runner, and a collector of everything the runner can publish."""

    def __init__(
        self,
        strategies: Sequence[Strategy],
        *,
        enabled: dict[str, bool] | None = None,
        active: tuple[Namespace, ...] = (PAPER,),
        store: MemoryStateStore | None = None,
    ) -> None:
        self.bus = DirectBus()
        self.store = store or MemoryStateStore()
        self.runner = StrategyRunner(self.bus, strategies, enabled or {}, self.store, active)
        self.runner.wire()
        self.received: list[tuple[str, Event]] = []
        for topic in (TopicMap(PAPER).signals_raw, TopicMap(ZERODHA).signals_raw, ENGINE_STATUS):
            self.bus.subscribe([topic], f"test.{topic}", self._collector(topic))

    def _collector(self, topic: str) -> Handler:
        async def collect(event: Event) -> None:
            self.received.append((topic, event))

        return collect

    async def start(self) -> None:
        await self.bus.start()
        await self.runner.start()

    async def tick(self, price: float, token: int = RELIANCE, i: int = 0) -> Event:
        payload = tick(price, token, T0 + i)
        event = make_event(payload, namespace=Namespace.SHARED, source="test", key=str(token))
        await self.bus.publish(MARKET_TICKS, event)
        return event

    async def ticks(self, prices: Sequence[float], token: int = RELIANCE, start: int = 0) -> list[Event]:
        return [await self.tick(p, token, start + i) for i, p in enumerate(prices)]

    async def command(self, action: CommandAction, target: str) -> Event:
        event = make_event(
            Command(action=action, target=target, issued_by="test"),
            namespace=Namespace.SHARED,
            source="test",
            key=target,
        )
        await self.bus.publish(CONTROL_COMMANDS, event)
        return event

    def on(self, topic: str) -> list[Event]:
        return [e for t, e in self.received if t == topic]

    def signals(self, topic: str) -> list[TradingSignal]:
        return [e.payload for e in self.on(topic) if isinstance(e.payload, TradingSignal)]

    def signal_sides(self, topic: str) -> list[Side]:
        return [s.side for s in self.signals(topic)]

    def results(self) -> list[CommandResult]:
        return [e.payload for e in self.on(ENGINE_STATUS) if isinstance(e.payload, CommandResult)]


def sma(name: str = "sma", namespaces: tuple[Namespace, ...] = (PAPER,)) -> SmaCrossover:
    return SmaCrossover(name, (RELIANCE,), namespaces, {"fast": 2, "slow": 4, "quantity": 10})


PAPER_RAW = TopicMap(PAPER).signals_raw
ZERODHA_RAW = TopicMap(ZERODHA).signals_raw


async def test_ticks_in_signals_out_with_the_tick_as_cause() -> None:
    rig = Rig([sma()])
    await rig.start()
    tick_events = await rig.ticks(SMA_PRICES)
    out = rig.on(PAPER_RAW)
    assert rig.signal_sides(PAPER_RAW) == [Side.BUY, Side.SELL, Side.BUY]
    causes = (tick_events[4], tick_events[7], tick_events[9])
    for event, signal, cause in zip(out, rig.signals(PAPER_RAW), causes, strict=True):
        assert isinstance(cause.payload, MarketTick)
        assert event.correlation_id == cause.id
        assert event.causation_id == cause.id
        assert event.namespace is PAPER
        assert event.key == "sma"
        assert event.source == "strategy_runner"
        assert signal.strategy_id == "sma"
        assert signal.reference_price == cause.payload.last_price
    assert rig.runner.statuses()[0].signals == 3


async def test_ticks_of_other_instruments_are_not_seen() -> None:
    strategy = sma()
    rig = Rig([strategy])
    await rig.start()
    await rig.ticks(SMA_PRICES, token=INFY)
    assert rig.on(PAPER_RAW) == []
    assert strategy.position(INFY) == 0


async def test_disable_command_stops_signals_and_persists() -> None:
    rig = Rig([sma()])
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])  # BUY at tick 4
    command = await rig.command(CommandAction.STRATEGY_DISABLE, "sma")
    await rig.ticks(SMA_PRICES[5:], start=5)  # would SELL at 7 and BUY at 9

    assert rig.signal_sides(PAPER_RAW) == [Side.BUY]
    (result_event,) = rig.on(ENGINE_STATUS)
    result = result_event.payload
    assert isinstance(result, CommandResult)
    assert (result.ok, result.action, result.command_id) == (True, CommandAction.STRATEGY_DISABLE, command.id)
    assert result.message == "strategy sma disabled"
    assert result_event.correlation_id == command.id
    assert result_event.namespace is Namespace.SHARED
    assert await rig.store.get_state("strategy:sma") == {"enabled": False}
    assert rig.runner.statuses()[0].enabled is False

    # a new runner on the same store starts disabled, though the file says enabled
    again = Rig([sma()], enabled={"sma": True}, store=rig.store)
    await again.start()
    assert again.runner.is_enabled("sma") is False
    await again.ticks(SMA_PRICES)
    assert again.on(PAPER_RAW) == []

    await again.command(CommandAction.STRATEGY_ENABLE, "sma")
    await again.ticks(SMA_PRICES, start=len(SMA_PRICES))
    assert again.signal_sides(PAPER_RAW) == [Side.BUY, Side.SELL, Side.BUY]
    assert await rig.store.get_state("strategy:sma") == {"enabled": True}


async def test_file_flag_applies_when_nothing_is_persisted() -> None:
    rig = Rig([sma()], enabled={"sma": False})
    await rig.start()
    await rig.ticks(SMA_PRICES)
    assert rig.on(PAPER_RAW) == []
    store = MemoryStateStore()
    await store.put_state("strategy:sma", {"enabled": True})
    rig = Rig([sma()], enabled={"sma": False}, store=store)
    await rig.start()
    assert rig.runner.is_enabled("sma") is True


async def test_command_for_an_unknown_strategy_fails_clearly() -> None:
    rig = Rig([sma("alpha"), sma("beta")])
    await rig.start()
    await rig.command(CommandAction.STRATEGY_ENABLE, "gamma")
    (result,) = rig.results()
    assert result.ok is False
    assert result.message == "no strategy named 'gamma'; known strategies: alpha, beta"
    assert await rig.store.get_state("strategy:gamma") is None
    with pytest.raises(UnknownStrategy):
        await rig.runner.set_enabled("gamma", True)


async def test_other_commands_are_left_to_other_services() -> None:
    rig = Rig([sma()])
    await rig.start()
    await rig.command(CommandAction.HALT, "")
    assert rig.on(ENGINE_STATUS) == []


async def test_zerodha_strategy_is_silent_when_zerodha_is_not_active() -> None:
    zerodha_only = sma("live", namespaces=(ZERODHA,))
    rig = Rig([zerodha_only, sma("paper")], active=(PAPER,))
    await rig.start()
    await rig.ticks(SMA_PRICES)
    assert rig.on(ZERODHA_RAW) == []
    assert {s.strategy_id for s in rig.signals(PAPER_RAW)} == {"paper"}
    assert ZERODHA_RAW not in rig.bus.stats.published
    assert zerodha_only.position(RELIANCE) == 0  # it never even saw the ticks
    assert [s.signals for s in rig.runner.statuses()] == [0, 3]


async def test_strategy_in_two_active_namespaces_publishes_to_each_its_own() -> None:
    rig = Rig([sma("both", namespaces=(PAPER, ZERODHA))], active=(PAPER, ZERODHA))
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])
    (paper,) = rig.on(PAPER_RAW)
    (zerodha,) = rig.on(ZERODHA_RAW)
    assert (paper.namespace, zerodha.namespace) == (PAPER, ZERODHA)
    assert paper.payload == zerodha.payload
    assert paper.correlation_id == zerodha.correlation_id
    assert paper.id != zerodha.id


class Exploding(Strategy):
    kind = "exploding"

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        raise RuntimeError("bug in user code")


class Counting(Strategy):
    kind = "counting"

    def setup(self) -> None:
        self.seen = 0

    def on_tick(self, tick: MarketTick) -> TradingSignal | None:
        self.seen += 1
        return None


async def test_a_raising_strategy_is_disabled_and_others_see_each_tick_once() -> None:
    counting = Counting("counting", (RELIANCE,), (PAPER,), {})
    rig = Rig([Exploding("boom", (RELIANCE,), (PAPER,), {}), counting])
    await rig.start()
    await rig.ticks([100.0, 101.0, 102.0])
    assert counting.seen == 3
    assert rig.runner.is_enabled("boom") is False
    assert rig.bus.stats.dead_lettered == 0


async def test_a_rejected_signal_is_forgotten_by_the_strategy() -> None:
    strategy = sma()
    rig = Rig([strategy])
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])
    (signal_event,) = rig.on(PAPER_RAW)
    (signal,) = rig.signals(PAPER_RAW)
    assert strategy.position(RELIANCE) == 10
    rejection = signal_event.child(
        SignalRejected(signal=signal, rule="market_hours", reason="market closed"),
        source="risk",
        key="sma",
    )
    await rig.bus.publish(TopicMap(PAPER).signals_rejected, rejection)
    assert strategy.position(RELIANCE) == 0
    # the down-cross at tick 7 has no long to exit; the up-cross at 9 buys again
    await rig.ticks(SMA_PRICES[5:], start=5)
    assert rig.signal_sides(PAPER_RAW) == [Side.BUY, Side.BUY]


def test_two_strategies_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="two strategies are named 'sma'"):
        StrategyRunner(DirectBus(), [sma(), sma()], {}, MemoryStateStore(), (PAPER,))


async def test_an_order_the_broker_refused_is_forgotten_by_the_strategy() -> None:
    strategy = sma()
    rig = Rig([strategy])
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])
    (signal_event,) = rig.on(PAPER_RAW)
    assert strategy.position(RELIANCE) == 10
    failed = signal_event.child(
        OrderFailed(
            order_id="P-x-1",
            strategy_id="sma",
            instrument_token=RELIANCE,
            side=Side.BUY,
            quantity=10,
            reason="MIS orders are refused after the square-off",
        ),
        source="execution.paper",
        key="sma",
    )
    await rig.bus.publish(TopicMap(PAPER).orders_failed, failed)
    assert strategy.position(RELIANCE) == 0
    await rig.ticks(SMA_PRICES[5:], start=5)
    assert rig.signal_sides(PAPER_RAW) == [Side.BUY, Side.BUY]


async def test_a_new_trading_day_starts_every_strategy_flat() -> None:
    # MIS positions are squared off by the broker before the close, so a long-only
    # strategy that was long yesterday must not "exit" with a SELL (a short) today
    strategy = sma()
    rig = Rig([strategy])
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])
    assert strategy.position(RELIANCE) == 10
    next_day = 86_400
    await rig.ticks(SMA_PRICES[5:], start=next_day + 5)
    assert strategy.position(RELIANCE) == 10  # the 09 re-entry, from flat
    assert rig.signal_sides(PAPER_RAW) == [Side.BUY, Side.BUY]


async def test_a_cancelled_order_takes_back_only_its_unfilled_part() -> None:
    strategy = sma()
    rig = Rig([strategy])
    await rig.start()
    await rig.ticks(SMA_PRICES[:5])
    (signal_event,) = rig.on(PAPER_RAW)
    assert strategy.position(RELIANCE) == 10
    cancelled = OrderCancelled("P-x-1", "sma", RELIANCE, 4, "engine stopped", side=Side.BUY)
    await rig.bus.publish(
        TopicMap(PAPER).orders_cancelled, signal_event.child(cancelled, source="execution.paper", key="sma")
    )
    assert strategy.position(RELIANCE) == 6  # 6 filled before the cancel
    sideless = OrderCancelled("P-x-2", "sma", RELIANCE, 6, "stored by an older release")
    await rig.bus.publish(
        TopicMap(PAPER).orders_cancelled, signal_event.child(sideless, source="execution.paper", key="sma")
    )
    assert strategy.position(RELIANCE) == 6


def _fill(strategy: str, side: Side, quantity: int, token: int = RELIANCE) -> OrderFilled:
    trade_id = f"P-r-1-{strategy}-{quantity}"
    return OrderFilled("P-r-1", trade_id, strategy, token, side, quantity, 10.0, Product.MIS, Charges())


async def test_restored_positions_come_from_fills_plus_working_orders() -> None:
    strategy, both = sma(), sma("both", (PAPER, ZERODHA))
    rig = Rig([strategy, both], active=(PAPER, ZERODHA))
    working = OrderPlaced("P-r-2", "sma", RELIANCE, Side.BUY, 10, OrderType.MARKET, Product.MIS)
    rig.runner.restore_positions(
        PAPER,
        [
            _fill("sma", Side.BUY, 10),
            _fill("sma", Side.SELL, 4),
            _fill("sma", Side.BUY, 3, INFY),
            _fill("both", Side.BUY, 10),
            _fill("renamed_since", Side.BUY, 10),
        ],
        [UnresolvedOrder(working, 3, "c")],
    )
    assert strategy.position(RELIANCE) == 6 + 7  # held, plus what the working order still wants
    assert strategy.position(INFY) == 3
    assert both.position(RELIANCE) == 0  # two namespaces: one book cannot say


async def test_a_restored_long_only_strategy_does_not_buy_again_but_exits() -> None:
    strategy = sma()
    rig = Rig([strategy])
    rig.runner.restore_positions(PAPER, [_fill("sma", Side.BUY, 10)])
    await rig.start()
    await rig.ticks(SMA_PRICES)
    # the up-cross at tick 4 finds it long already; it exits at 7 and buys at 9
    assert rig.signal_sides(PAPER_RAW) == [Side.SELL, Side.BUY]

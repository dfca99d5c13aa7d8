"""Live/replay parity: a session run by the live engine and recorded, then replayed, gives the same signals.

The live side is the real Engine on the queued in-process bus with the
simulated feed and the TickRecorder; its clock is a ManualClock moved one
second per round of ticks, as the feed's session clock would.
"""

from __future__ import annotations

from pathlib import Path

from engine.bus import InProcessBus, TickOverflow
from engine.clock import ManualClock
from engine.events import Event, Namespace, OrderFilled, TradingSignal
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import read_ticks
from engine.research.replay import ReplayDriver
from engine.runtime import Engine
from engine.settings import load_settings
from engine.strategies.ema_crossover import EmaCrossover
from engine.strategies.sma_crossover import SmaCrossover
from engine.topics import TopicMap
from tests.engine.research.helpers import SYMBOLS, TRADING_DAY_OPEN

ROUNDS = 400


def strategies(registry: InstrumentRegistry) -> list[EmaCrossover | SmaCrossover]:
    tokens = tuple(registry.by_symbol(s).instrument_token for s in SYMBOLS)
    paper = (Namespace.PAPER,)
    return [
        EmaCrossover("ema", tokens, paper, {"fast": 3, "slow": 8, "quantity": 5}),
        SmaCrossover("sma", tokens[:2], paper, {"fast": 4, "slow": 10, "quantity": 2}),
    ]


async def test_replaying_a_live_recording_gives_the_live_signals_and_fills(tmp_path: Path) -> None:
    settings = load_settings(
        feed={"symbols": list(SYMBOLS), "record": True, "seed": 11},
        data_dir=tmp_path / "data",
    )
    registry = InstrumentRegistry.sample()
    clock = ManualClock(TRADING_DAY_OPEN)
    engine = Engine(
        settings,
        clock=clock,
        bus=InProcessBus(tick_overflow=TickOverflow.BLOCK),
        paced=False,
        persist=False,
        instruments=registry,
        strategies=strategies(registry),
    )
    live_signals: list[TradingSignal] = []
    live_fills: list[OrderFilled] = []

    async def collect(event: Event) -> None:
        if isinstance(event.payload, TradingSignal):
            live_signals.append(event.payload)
        elif isinstance(event.payload, OrderFilled):
            live_fills.append(event.payload)

    topics = TopicMap(Namespace.PAPER)
    engine.bus.subscribe([topics.signals_raw, topics.orders_filled], "test.collector", collect)
    engine.feed.pause()  # only our pumps publish ticks
    await engine.start()
    for _ in range(ROUNDS):
        await engine.pump(len(SYMBOLS))
        clock.advance(1.0)
    await engine.stop()
    assert engine.recorder is not None
    recording = engine.recorder.path
    assert len(live_signals) > 10, "the live run should signal, or there is nothing to compare"

    driver = ReplayDriver(settings, strategies(registry), registry)
    replay = await driver.run(read_ticks(recording, registry))

    assert replay.ticks == ROUNDS * len(SYMBOLS)
    assert replay.signals == live_signals

    def fill_key(f: OrderFilled) -> tuple[object, ...]:  # order ids differ: live ids carry the wall clock
        return (f.strategy_id, f.instrument_token, f.side, f.quantity, f.price, f.charges, f.fill_ts)

    assert [fill_key(f) for f in replay.fills] == [fill_key(f) for f in live_fills]

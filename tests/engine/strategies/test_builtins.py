"""Each built-in on a hand-made price series: the exact tick and side of every signal."""

from __future__ import annotations

import itertools
import random
import statistics

import pytest

from engine.events import Namespace, Side
from engine.strategies.base import Strategy
from engine.strategies.ema_crossover import EmaCrossover
from engine.strategies.mean_reversion import MeanReversion
from engine.strategies.momentum import Momentum
from engine.strategies.rolling import RollingWindow
from engine.strategies.rsi import Rsi
from engine.strategies.sma_crossover import SmaCrossover
from tests.engine.strategies.helpers import INFY, RELIANCE, T0, drive, signals, tick

BUY, SELL = Side.BUY, Side.SELL
PAPER = (Namespace.PAPER,)


def make(cls: type[Strategy], **params: object) -> Strategy:
    return cls("s", (RELIANCE, INFY), PAPER, params)


# -- SMA crossover -----------------------------------------------------------
# fast=2, slow=4
# i  price  SMA2   SMA4
# 3  10     10     10      ready; equal -> no side yet
# 4  11     10.5   10.25   above: cross from "equal" -> BUY
# 5  12     11.5   10.75   above
# 6  9      10.5   10.5    equal: keeps "above"
# 7  8      8.5    10      below -> SELL
# 8  8      8      9.25    below
# 9  12     10     9.25    above -> BUY
SMA_PRICES = [10, 10, 10, 10, 11, 12, 9, 8, 8, 12]


def test_sma_crossover_signals_at_the_hand_computed_ticks() -> None:
    strategy = make(SmaCrossover, fast=2, slow=4, quantity=10)
    assert drive(strategy, SMA_PRICES) == [(4, BUY, 10), (7, SELL, 10), (9, BUY, 10)]
    assert strategy.position(RELIANCE) == 10


def test_sma_crossover_with_shorting_flips_through_zero() -> None:
    strategy = make(SmaCrossover, fast=2, slow=4, quantity=10, allow_short=True)
    assert drive(strategy, SMA_PRICES) == [(4, BUY, 10), (7, SELL, 20), (9, BUY, 20)]


def test_sma_crossover_first_ready_tick_sets_the_side_without_a_signal() -> None:
    # i=3: SMA2 9, SMA4 9.5: already below when ready -> no signal even when shorting is allowed
    # i=4: SMA2 10, SMA4 10 (equal); i=5: SMA2 12, SMA4 10.5 -> above -> BUY
    strategy = make(SmaCrossover, fast=2, slow=4, quantity=1, allow_short=True)
    assert drive(strategy, [10, 10, 10, 8, 12, 12]) == [(5, BUY, 1)]


# -- EMA crossover -----------------------------------------------------------
# fast=5 (alpha 1/3), slow=20 (alpha 2/21), both seeded with the first price, ready at i=19.
# i=20 price 110: EMA5 = 100 + 10/3 = 103.333; EMA20 = 100 + 10*2/21 = 100.952 -> above -> BUY
# i=21 price 90:  EMA5 = 103.333 - 13.333/3 = 98.889; EMA20 = 100.952 - 10.952*2/21 = 99.909 -> below -> SELL


def test_ema_crossover_signals_at_the_hand_computed_ticks() -> None:
    strategy = make(EmaCrossover, fast=5, slow=20, quantity=3)
    assert drive(strategy, [100.0] * 20 + [110.0, 90.0]) == [(20, BUY, 3), (21, SELL, 3)]


def test_ema_crossover_is_silent_while_warming_up() -> None:
    # the rise at i=10 happens before the slow EMA is ready (i=19): no signal for it, then or later
    strategy = make(EmaCrossover, fast=5, slow=20)
    assert drive(strategy, [100.0] * 10 + [110.0] * 15) == []


# -- momentum ----------------------------------------------------------------
# lookback=3, threshold=1%: change of price versus 3 ticks earlier
# i=4 101.5 vs 100 (i=1): +1.5% -> BUY;  i=5,6: +2% (still above, nothing)
# i=7 101 vs 101.5: -0.49% neutral (hold); i=8 100 vs 102: -1.96% -> SELL (exit the long)


def test_momentum_signals_at_the_hand_computed_ticks() -> None:
    strategy = make(Momentum, lookback=3, threshold=1.0, quantity=5)
    prices = [100, 100, 100, 100, 101.5, 102, 102, 101, 100, 99, 98]
    assert drive(strategy, prices) == [(4, BUY, 5), (8, SELL, 5)]


def test_momentum_long_only_never_buys_twice() -> None:
    # i=4 enters the up zone (BUY); i=7 is neutral (0%); i=8 re-enters it (+1.48% vs i=5) while long
    strategy = make(Momentum, lookback=3, threshold=1.0)
    assert drive(strategy, [100, 100, 100, 100, 101.5, 101.5, 101.5, 101.5, 103]) == [(4, BUY, 1)]


# -- mean reversion ----------------------------------------------------------
# lookback=5, entry_z=2, exit_z=0.5, z against the previous 5 prices (population std)
# i=5 95:  window 100,101,100,101,100: mean 100.4, var 1.2/5=0.24, std 0.490 -> z = -11.0 -> BUY
# i=6 97:  window 101,100,101,100,95:  mean 99.4, var 25.2/5=5.04, std 2.245 -> z = -1.07 (hold)
# i=7 99:  window 100,101,100,95,97:   mean 98.6, var 25.2/5=5.04, std 2.245 -> z = +0.18 -> SELL (exit)


def test_mean_reversion_signals_at_the_hand_computed_ticks() -> None:
    strategy = make(MeanReversion, lookback=5, entry_z=2.0, exit_z=0.5, quantity=7)
    assert drive(strategy, [100, 101, 100, 101, 100, 95, 97, 99]) == [(5, BUY, 7), (7, SELL, 7)]


def test_mean_reversion_spike_up_shorts_only_when_allowed() -> None:
    # i=5 106: z = (106 - 100.4) / 0.490 = +11.4
    prices = [100, 101, 100, 101, 100, 106]
    assert drive(make(MeanReversion, lookback=5), prices) == []
    assert drive(make(MeanReversion, lookback=5, allow_short=True), prices) == [(5, SELL, 1)]


def test_mean_reversion_ignores_a_flat_market() -> None:
    assert drive(make(MeanReversion, lookback=5), [100.0] * 50) == []


# -- RSI ---------------------------------------------------------------------
# period=3, oversold 30, overbought 70; Wilder averages of tick-to-tick changes
# i=3 97: first averages over 3 changes: gain 0, loss 1 -> RSI 0 -> BUY
# i=4 98: gain (0*2+1)/3 = 0.333, loss (1*2+0)/3 = 0.667 -> RS 0.5 -> RSI 33.3
# i=5 99: gain (0.333*2+1)/3 = 0.556, loss 0.444 -> RS 1.25 -> RSI 55.6
# i=6 100: gain (0.556*2+1)/3 = 0.704, loss 0.296 -> RS 2.375 -> RSI 70.4 -> SELL (exit)


def test_rsi_signals_at_the_hand_computed_ticks() -> None:
    strategy = make(Rsi, period=3, oversold=30.0, overbought=70.0, quantity=2)
    assert drive(strategy, [100, 99, 98, 97, 98, 99, 100]) == [(3, BUY, 2), (6, SELL, 2)]


# -- shared behaviour ----------------------------------------------------------
def test_signal_carries_strategy_name_price_and_feed_time() -> None:
    strategy = make(SmaCrossover, fast=2, slow=4, quantity=10)
    first = signals(strategy, SMA_PRICES)[0]
    assert first.strategy_id == "s"
    assert first.instrument_token == RELIANCE
    assert first.reference_price == 11.0
    assert first.signal_ts == T0 + 4
    assert "crossed above" in first.reason


def test_instruments_keep_separate_state() -> None:
    strategy = make(SmaCrossover, fast=2, slow=4)
    for i, price in enumerate(SMA_PRICES[:5]):
        strategy.on_tick(tick(price, RELIANCE, T0 + i))
    # INFY has seen nothing yet: its own first four ticks cannot signal
    assert drive(strategy, [50, 60, 70, 80], token=INFY) == []
    assert strategy.position(RELIANCE) == 1
    assert strategy.position(INFY) == 0


@pytest.mark.parametrize(
    "strategy",
    [
        make(SmaCrossover, fast=3, slow=8),
        make(EmaCrossover, fast=3, slow=8),
        make(Momentum, lookback=5, threshold=0.2),
        make(MeanReversion, lookback=10, entry_z=1.5, exit_z=0.3),
        make(Rsi, period=5, oversold=35.0, overbought=65.0),
    ],
    ids=lambda s: s.kind,
)
def test_long_only_strategies_alternate_buy_and_sell_on_a_random_walk(strategy: Strategy) -> None:
    rng = random.Random(7)
    price, prices = 1000.0, []
    for _ in range(3000):
        price *= 1 + rng.gauss(0, 0.004)
        prices.append(price)
    sides = [side for _, side, _ in drive(strategy, prices)]
    assert len(sides) > 10  # the walk does trigger each strategy
    assert sides[0] is BUY
    assert all(a is not b for a, b in itertools.pairwise(sides))
    assert strategy.position(RELIANCE) in (0, 1)


def test_rolling_window_matches_a_direct_computation() -> None:
    rng = random.Random(3)
    window = RollingWindow(7)
    history: list[float] = []
    for _ in range(2000):
        value = 16000 + rng.uniform(-50, 50)
        window.push(value)
        history.append(value)
        recent = history[-7:]
        assert window.mean() == pytest.approx(statistics.fmean(recent), rel=1e-12)
        assert window.std() == pytest.approx(statistics.pstdev(recent), rel=1e-7, abs=1e-9)
        assert window.oldest() == pytest.approx(recent[0], rel=1e-15)


def test_sma_crossover_agrees_with_averages_computed_from_scratch() -> None:
    fast, slow = 3, 8
    rng = random.Random(11)
    price, prices = 2450.0, []
    for _ in range(4000):
        price += rng.gauss(0, 2.0)
        prices.append(price)
    expected: list[int] = []
    relation = 0
    for i in range(slow - 1, len(prices)):
        diff = statistics.fmean(prices[i - fast + 1 : i + 1]) - statistics.fmean(prices[i - slow + 1 : i + 1])
        new = (diff > 0) - (diff < 0)
        if i >= slow and new and new != relation:
            expected.append(i)
        relation = new or relation
    strategy = make(SmaCrossover, fast=fast, slow=slow, allow_short=True)
    assert [i for i, _, _ in drive(strategy, prices)] == expected

"""Order settings in the strategies TOML: what a good entry gives each signal, what each bad one says."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from engine.events import Namespace, OrderType, Product, Side
from engine.instruments import Instrument, InstrumentRegistry
from engine.settings import StrategySettings, load_settings
from engine.strategies import StrategyConfigError
from engine.strategies.base import Strategy
from engine.strategies.loader import load_strategies
from engine.strategies.orders import OffsetUnit, OrderSettings, PriceOffset, round_to_tick
from tests.engine.strategies.helpers import RELIANCE, signals, tick

INSTRUMENTS = InstrumentRegistry.sample()
NIFTY_FUT = Instrument(
    instrument_token=13_368_322,
    exchange_token=52_220,
    tradingsymbol="NIFTY26FEBFUT",
    name="NIFTY",
    last_price=23_000.0,
    tick_size=0.1,
    lot_size=75,
    instrument_type="FUT",
    segment="NFO-FUT",
    exchange="NFO",
    expiry=date(2026, 2, 24),
)
WITH_FUTURE = InstrumentRegistry([*INSTRUMENTS.select([]), NIFTY_FUT])

ENTRY = (
    '[[strategy]]\nname = "s1"\nkind = "sma_crossover"\ninstruments = ["RELIANCE"]\nnamespaces = ["{ns}"]\n'
)
PAPER_ENTRY = ENTRY.format(ns="paper")
LIVE_ENTRY = ENTRY.format(ns="zerodha")
CROSSING = [100.0, 100.0, 100.0, 100.0, 103.0, 104.0, 95.0, 94.0]  # fast=2/slow=3: up-cross, then down


def load(tmp_path: Path, text: str, registry: InstrumentRegistry = INSTRUMENTS) -> list[Strategy]:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(strategies=StrategySettings(file=path))
    strategies, _ = load_strategies(settings, registry, live=True)
    return strategies


def crossing(strategy_fields: str) -> str:
    return PAPER_ENTRY + strategy_fields + "[strategy.params]\nfast = 2\nslow = 3\nquantity = 4\n"


def test_without_order_settings_signals_are_mis_market_as_before(tmp_path: Path) -> None:
    (strategy,) = load(tmp_path, crossing(""))
    assert strategy.orders == OrderSettings()
    out = signals(strategy, CROSSING)
    assert [(s.side, s.product, s.order_type, s.limit_price, s.trigger_price) for s in out] == [
        (Side.BUY, Product.MIS, OrderType.MARKET, None, None),
        (Side.SELL, Product.MIS, OrderType.MARKET, None, None),
    ]


def test_cnc_limit_in_ticks_prices_each_signal_from_its_reference_on_the_tick_grid(tmp_path: Path) -> None:
    (strategy,) = load(tmp_path, crossing('product = "CNC"\norder_type = "LIMIT"\nlimit_offset_ticks = 2\n'))
    buy, sell = signals(strategy, CROSSING)
    assert (buy.product, buy.order_type, buy.side, buy.reference_price) == (
        Product.CNC,
        OrderType.LIMIT,
        Side.BUY,
        103.0,
    )
    assert buy.limit_price == 103.1  # RELIANCE ticks 0.05: two above on a buy
    assert (sell.product, sell.order_type, sell.reference_price, sell.limit_price) == (
        Product.CNC,
        OrderType.LIMIT,
        95.0,
        94.9,
    )
    assert buy.trigger_price is None and sell.trigger_price is None


def test_limit_in_bps_rounds_to_the_cautious_side(tmp_path: Path) -> None:
    (strategy,) = load(tmp_path, crossing('order_type = "limit"\nlimit_offset_bps = 7.5\n'))
    buy = strategy.buy(tick(1394.37), 1, "t")
    sell = strategy.sell(tick(1394.37), 1, "t")
    # 1394.37 * 1.00075 = 1395.4158: a buy never pays above it, so 1395.40; a sell never takes less
    assert buy.limit_price == 1395.4
    assert sell.limit_price == 1393.35  # 1394.37 * 0.99925 = 1393.3242, up to 1393.35


def test_a_negative_limit_offset_rests_in_the_book(tmp_path: Path) -> None:
    (strategy,) = load(tmp_path, crossing('order_type = "LIMIT"\nlimit_offset_ticks = -3\n'))
    assert strategy.buy(tick(100.0), 1, "t").limit_price == 99.85
    assert strategy.sell(tick(100.0), 1, "t").limit_price == 100.15


def test_stop_loss_orders_trigger_beyond_the_market_and_limit_beyond_the_trigger(tmp_path: Path) -> None:
    text = LIVE_ENTRY + 'order_type = "SL"\ntrigger_offset_bps = 20\nlimit_offset_ticks = 1\n'
    (strategy,) = load(tmp_path, text)
    buy = strategy.buy(tick(1000.0), 1, "t")
    assert (buy.order_type, buy.trigger_price, buy.limit_price) == (OrderType.SL, 1002.0, 1002.05)
    sell = strategy.sell(tick(1000.0), 1, "t")
    assert (sell.trigger_price, sell.limit_price) == (998.0, 997.95)
    (stop_market,) = load(tmp_path, LIVE_ENTRY + 'order_type = "SL-M"\ntrigger_offset_ticks = 3\n')
    signal = stop_market.sell(tick(1000.02), 1, "t")
    assert (signal.order_type, signal.trigger_price, signal.limit_price) == (OrderType.SL_M, 999.85, None)


def test_a_strategy_that_sets_the_order_itself_wins_over_the_settings(tmp_path: Path) -> None:
    (strategy,) = load(tmp_path, crossing('product = "CNC"\norder_type = "LIMIT"\nlimit_offset_ticks = 2\n'))
    own = strategy.buy(tick(100.0), 1, "t", order_type=OrderType.MARKET, product=Product.MIS)
    assert (own.order_type, own.product, own.limit_price) == (OrderType.MARKET, Product.MIS, None)
    priced = strategy.buy(tick(100.0), 1, "t", limit_price=99.0)
    assert (priced.order_type, priced.product, priced.limit_price) == (OrderType.LIMIT, Product.CNC, 99.0)


def test_delivery_positions_outlive_the_day_and_intraday_ones_do_not(tmp_path: Path) -> None:
    delivery, intraday = load(
        tmp_path,
        crossing('product = "CNC"\n') + crossing("").replace('"s1"', '"s2"'),
    )
    for strategy in (delivery, intraday):
        strategy.buy(tick(100.0), 4, "t")
        strategy.new_session()
    assert delivery.position(RELIANCE) == 4
    assert intraday.position(RELIANCE) == 0


def test_nrml_loads_for_a_future(tmp_path: Path) -> None:
    text = LIVE_ENTRY.replace('"RELIANCE"', '"NIFTY26FEBFUT"') + 'product = "NRML"\n'
    (strategy,) = load(tmp_path, text, WITH_FUTURE)
    assert strategy.orders.product is Product.NRML


def test_settings_are_described_for_the_console() -> None:
    limit = OrderSettings(Product.CNC, OrderType.LIMIT, PriceOffset(2, OffsetUnit.TICKS))
    assert limit.describe() == (("order", "CNC LIMIT"), ("limit", "ref +2 ticks"))
    stop = OrderSettings(Product.MIS, OrderType.SL, None, PriceOffset(12.5, OffsetUnit.BPS))
    assert stop.describe() == (
        ("order", "MIS SL"),
        ("trigger", "ref +12.5 bps"),
        ("limit", "trigger +0 ticks"),
    )
    assert OrderSettings().describe() == (("order", "MIS MARKET"),)


def test_round_to_tick_lands_on_the_grid() -> None:
    assert round_to_tick(1395.4158, 0.05, up=False) == 1395.4
    assert round_to_tick(1395.4, 0.05, up=True) == 1395.4  # already on the grid: unchanged
    assert round_to_tick(7.123, 0.0025, up=True) == 7.125
    assert round_to_tick(12.345, 0.0, up=False) == 12.34  # unknown tick: to the paisa


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PAPER_ENTRY + 'product = "DELIVERY"\n', ["field 'product'", "bad value 'DELIVERY'", "'MIS', 'CNC'"]),
        (PAPER_ENTRY + "product = 1\n", ["field 'product'", "bad value 1"]),
        (
            PAPER_ENTRY + 'order_type = "STOP"\n',
            ["field 'order_type'", "bad value 'STOP'", "'MARKET', 'LIMIT', 'SL', 'SL-M'"],
        ),
        (PAPER_ENTRY + 'product = "NRML"\n', ["field 'product'", "NRML is for derivatives", "RELIANCE"]),
        (
            PAPER_ENTRY + "limit_offset_ticks = 2\n",
            ["field 'limit_offset_ticks'", "a MARKET order has no limit price", 'order_type = "LIMIT"'],
        ),
        (
            PAPER_ENTRY + 'order_type = "LIMIT"\nlimit_offset_ticks = 1.5\n',
            ["field 'limit_offset_ticks'", "whole number of ticks", "got 1.5", "limit_offset_bps"],
        ),
        (
            PAPER_ENTRY + 'order_type = "LIMIT"\nlimit_offset_bps = "5"\n',
            ["field 'limit_offset_bps'", "number of basis points", "got '5'"],
        ),
        (
            PAPER_ENTRY + 'order_type = "LIMIT"\nlimit_offset_bps = 5000\n',
            ["field 'limit_offset_bps'", "in -1000..1000", "got 5000"],
        ),
        (
            PAPER_ENTRY + 'order_type = "LIMIT"\nlimit_offset_ticks = 1\nlimit_offset_bps = 5\n',
            ["field 'limit_offset_bps'", "limit_offset_ticks is also set", "not both"],
        ),
        (
            PAPER_ENTRY + 'order_type = "LIMIT"\ntrigger_offset_ticks = 4\n',
            ["field 'trigger_offset_ticks'", "a LIMIT order has no trigger price", '"SL" or "SL-M"'],
        ),
        (
            LIVE_ENTRY + 'order_type = "SL-M"\n',
            ["field 'trigger_offset_ticks'", "a SL-M order needs a trigger price", "trigger_offset_bps"],
        ),
        (
            LIVE_ENTRY + 'order_type = "SL"\ntrigger_offset_ticks = -2\n',
            ["field 'trigger_offset_ticks'", "must be positive, got -2", "beyond the market"],
        ),
        (
            LIVE_ENTRY + 'order_type = "SL"\ntrigger_offset_ticks = 2\nlimit_offset_bps = -1\n',
            ["field 'limit_offset_bps'", "must be 0 or more for an SL order"],
        ),
        (
            PAPER_ENTRY + 'order_type = "SL"\ntrigger_offset_ticks = 2\n',
            ["field 'order_type'", "paper trading does not simulate SL (stop-loss) orders", '["zerodha"]'],
        ),
        (
            PAPER_ENTRY + '[strategy.params]\nproduct = "CNC"\n',
            ["field 'params.product'", "is an order setting, not a param", "above [strategy.params]"],
        ),
    ],
    ids=lambda v: v.split("\n", 5)[-1][:30] if isinstance(v, str) else None,
)
def test_bad_order_settings_name_the_file_the_strategy_and_the_field(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    with pytest.raises(StrategyConfigError) as err:
        load(tmp_path, text)
    message = str(err.value)
    assert message.startswith(str(tmp_path / "s.toml")) and "strategy 's1'" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_cnc_for_a_derivative_is_refused(tmp_path: Path) -> None:
    text = LIVE_ENTRY.replace('"RELIANCE"', '"NIFTY26FEBFUT"') + 'product = "CNC"\n'
    with pytest.raises(
        StrategyConfigError, match="CNC is for equity delivery and NIFTY26FEBFUT is a derivative"
    ):
        load(tmp_path, text, WITH_FUTURE)


def test_the_paper_namespace_is_where_stop_loss_is_refused(tmp_path: Path) -> None:
    text = LIVE_ENTRY + 'order_type = "SL-M"\ntrigger_offset_ticks = 2\n'
    (strategy,) = load(tmp_path, text)
    assert strategy.namespaces == (Namespace.ZERODHA,)
    with pytest.raises(StrategyConfigError, match="paper trading does not simulate SL-M"):
        load(tmp_path, text.replace('["zerodha"]', '["paper", "zerodha"]'))

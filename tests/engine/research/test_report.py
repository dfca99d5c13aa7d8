"""The report's figures against hand-computed ones: pure functions, then a hand-written tick file replayed."""

from __future__ import annotations

import itertools
import math
import statistics
from pathlib import Path

import pytest

from engine.events import Charges, OrderFilled, Product, Side
from engine.instruments import InstrumentRegistry
from engine.market.tick_files import read_ticks
from engine.research.replay import run_replay
from engine.research.report import (
    ALL_INSTRUMENTS,
    LONG,
    SHORT,
    EquityPoint,
    build_report,
    exposure,
    max_drawdown,
    round_trips,
    sharpe_ratio,
)
from engine.research.report_files import (
    EQUITY_FILE,
    HTML_FILE,
    SUMMARY_FILE,
    TRADES_FILE,
    write_report,
)
from engine.research.selection import select_strategies
from engine.settings import FillPrice, Settings, load_settings

RELIANCE = 738561
INFY = 408065
C = 1_000_000.0  # starting cash


def fill(
    n: int, side: Side, qty: int, price: float, ts: float, charges: float = 0.0, token: int = RELIANCE
) -> OrderFilled:
    return OrderFilled(
        order_id=f"P-test-{n}",
        trade_id=f"P-test-{n}-1",
        strategy_id="s",
        instrument_token=token,
        side=side,
        quantity=qty,
        price=price,
        product=Product.MIS,
        charges=Charges(brokerage=charges),
        fill_ts=ts,
    )


# --------------------------------------------------------------------------
# pure functions
# --------------------------------------------------------------------------


def test_round_trip_flat_to_flat_with_scale_in_and_average_cost() -> None:
    fills = [
        fill(1, Side.BUY, 10, 100.0, 1.0, charges=1.0),
        fill(2, Side.BUY, 10, 110.0, 2.0, charges=1.0),  # average 105
        fill(3, Side.SELL, 5, 120.0, 3.0, charges=1.0),  # realizes 5 * 15 = 75
        fill(4, Side.SELL, 15, 100.0, 4.0, charges=1.0),  # realizes 15 * -5 = -75
    ]
    (trip,) = round_trips(fills)
    assert trip.direction == LONG
    assert trip.quantity == 20
    assert trip.entry_ts == 1.0 and trip.exit_ts == 4.0
    assert trip.entry_price == pytest.approx((10 * 100 + 10 * 110) / 20)  # 105
    assert trip.exit_price == pytest.approx((5 * 120 + 15 * 100) / 20)  # 105
    assert trip.gross_pnl == pytest.approx(0.0)
    assert trip.charges == pytest.approx(4.0)
    assert trip.net_pnl == pytest.approx(-4.0)
    assert not trip.is_open


def test_a_flip_closes_one_trip_and_opens_the_next_with_charges_split_by_quantity() -> None:
    fills = [
        fill(1, Side.BUY, 10, 100.0, 1.0, charges=2.0),
        fill(2, Side.SELL, 30, 90.0, 2.0, charges=6.0),  # 10 close the long, 20 open a short
        fill(3, Side.BUY, 20, 80.0, 3.0, charges=4.0),
    ]
    first, second = round_trips(fills)
    assert (first.direction, first.quantity) == (LONG, 10)
    assert first.gross_pnl == pytest.approx(10 * (90 - 100))  # -100
    assert first.charges == pytest.approx(2.0 + 6.0 * 10 / 30)  # 4
    assert (second.direction, second.quantity) == (SHORT, 20)
    assert second.entry_ts == 2.0 and second.entry_price == 90.0
    assert second.gross_pnl == pytest.approx(20 * (90 - 80))  # +200 on a short
    assert second.charges == pytest.approx(6.0 * 20 / 30 + 4.0)  # 8


def test_an_open_position_is_valued_at_its_mark_and_listed_open() -> None:
    fills = [fill(1, Side.BUY, 10, 100.0, 1.0)]
    (trip,) = round_trips(fills, marks={RELIANCE: 103.5}, end_ts=9.0)
    assert trip.is_open
    assert trip.exit_ts == 9.0 and trip.exit_price == 103.5
    assert trip.gross_pnl == pytest.approx(35.0)


def test_max_drawdown_in_rupees_and_percent_of_the_peak() -> None:
    # peak 120 then trough 90: 30 rupees, 30 / 120 = 25 %; the later 130 -> 117 is 13 (10 %)
    assert max_drawdown([100, 120, 100, 90, 130, 117]) == pytest.approx((30.0, 25.0))
    assert max_drawdown([100, 101, 102]) == (0.0, 0.0)


def test_sharpe_is_mean_over_stdev_of_interval_returns_annualised() -> None:
    equity = [100.0, 101.0, 100.5, 102.0]
    returns = [101 / 100 - 1, 100.5 / 101 - 1, 102 / 100.5 - 1]
    per_year = 252 * 375 * 60 / 60  # one-minute intervals in a year of NSE sessions
    expected = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(per_year)
    assert sharpe_ratio(equity, 60.0) == pytest.approx(expected)
    assert sharpe_ratio([100.0, 100.0, 100.0], 60.0) == 0.0  # no variation: undefined, reported 0
    assert sharpe_ratio([100.0, 101.0], 60.0) == 0.0  # one return: undefined


def test_exposure_counts_overlapping_trips_once() -> None:
    trips = round_trips(
        [
            fill(1, Side.BUY, 1, 10.0, 10.0, token=RELIANCE),
            fill(2, Side.BUY, 1, 10.0, 20.0, token=INFY),
            fill(3, Side.SELL, 1, 10.0, 40.0, token=RELIANCE),
            fill(4, Side.SELL, 1, 10.0, 50.0, token=INFY),
        ]
    )
    # open from 10 to 50 on a span of 0..100
    assert exposure(trips, 0.0, 100.0) == pytest.approx(0.4)


def test_instrument_rows_and_strategy_total_add_up() -> None:
    fills = [
        fill(1, Side.BUY, 10, 100.0, 60.0, charges=1.0, token=RELIANCE),
        fill(2, Side.SELL, 10, 104.0, 120.0, charges=1.0, token=RELIANCE),
        fill(3, Side.BUY, 5, 200.0, 60.0, charges=1.0, token=INFY),
        fill(4, Side.SELL, 5, 196.0, 180.0, charges=1.0, token=INFY),
    ]
    equity = [EquityPoint(t, "s", ALL_INSTRUMENTS, C) for t in (0.0, 60.0)]
    report = build_report(fills, equity, starting_cash=C, interval_s=60.0)
    reliance, infy, total = (
        report.summary("s", RELIANCE),
        report.summary("s", INFY),
        report.summary("s"),
    )
    assert reliance.net_pnl == pytest.approx(40.0 - 2.0)
    assert infy.net_pnl == pytest.approx(-20.0 - 2.0)
    assert total.net_pnl == pytest.approx(reliance.net_pnl + infy.net_pnl)
    assert (total.trades, total.fills, total.win_rate) == (2, 4, 0.5)


# --------------------------------------------------------------------------
# a hand-written tick file through the real pipeline
# --------------------------------------------------------------------------

# RELIANCE, one tick a minute from 10:00 IST on Monday 23 Nov 2026. SMA(1)/SMA(2)
# is "price above / below the previous price"; long only, 10 shares:
#   t1 ready (up), t3 down (flat already: no signal), t4 up -> BUY, fills t5 @104,
#   t7 down -> SELL, fills t8 @106, t9 up -> BUY, fills t10 @105 where it turns
#   down -> SELL, fills t11 @104, t12 up -> BUY, fills t13 @106, open at the end (108).
PRICES = [100, 101, 102, 101, 103, 104, 108, 107, 106, 107, 105, 104, 105, 106, 108]


def hand_file(path: Path) -> Path:
    lines = ["timestamp,instrument_token,last_price,last_quantity"]
    for i, price in enumerate(PRICES):
        lines.append(f"2026-11-23T10:{i:02d}:00+05:30,{RELIANCE},{price},1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hand_settings() -> Settings:
    """No slippage; charges are a flat 0.1 % of turnover, so each is turnover / 1000."""
    flat = {
        "brokerage_pct": 0.1,
        "brokerage_cap": 1_000.0,
        "stt_sell_pct": 0.0,
        "stt_buy_pct": 0.0,
        "exchange_pct": 0.0,
        "sebi_per_crore": 0.0,
        "gst_pct": 0.0,
        "stamp_buy_pct": 0.0,
    }
    return load_settings(
        paper={"slippage_bps": 0.0, "fill_price": FillPrice.NEXT_TICK, "starting_cash": C},
        charges={"enabled": True, "intraday": flat},
    )


def test_hand_written_file_report_matches_the_arithmetic(tmp_path: Path) -> None:
    settings = hand_settings()
    registry = InstrumentRegistry.sample()
    (strategy,) = select_strategies(
        settings, registry, "sma_crossover", {"fast": "1", "slow": "2", "quantity": "10"}
    )
    result = run_replay(
        settings, [strategy], read_ticks(hand_file(tmp_path / "hand.csv"), registry), registry
    )
    assert [(f.side, f.quantity, f.price) for f in result.fills] == [
        (Side.BUY, 10, 104.0),
        (Side.SELL, 10, 106.0),
        (Side.BUY, 10, 105.0),
        (Side.SELL, 10, 104.0),
        (Side.BUY, 10, 106.0),
    ]
    report = result.report()
    total = report.summary("sma_crossover")

    # trips: +20 gross (1.04 + 1.06 charges), -10 (1.05 + 1.04), open +20 at the 108 mark (1.06)
    assert (total.trades, total.open_trades, total.fills) == (2, 1, 5)
    assert total.gross_pnl == pytest.approx(20 - 10 + 20)
    assert total.charges == pytest.approx(1.04 + 1.06 + 1.05 + 1.04 + 1.06)  # 5.25
    assert total.net_pnl == pytest.approx(30 - 5.25)  # 24.75
    assert total.win_rate == pytest.approx(1 / 2)

    # equity after each tick, minus the starting cash
    offsets = [0, 0, 0, 0, 0, -1.04, 38.96, 28.96, 17.90, 17.90, 16.85, 5.81, 5.81, 4.75, 24.75]
    assert [round(e - C, 2) for _, e in report.curve("sma_crossover")] == offsets
    # worst fall: the 38.96 peak (t6) to 4.75 (t13)
    assert total.max_drawdown == pytest.approx(38.96 - 4.75)
    assert total.max_drawdown_pct == pytest.approx((38.96 - 4.75) / (C + 38.96) * 100)
    # in a position t5-t8, t10-t11 and t13-t14: 3 + 1 + 1 minutes of 14
    assert total.exposure == pytest.approx(5 / 14)
    equity = [C + o for o in offsets]
    returns = [b / a - 1 for a, b in itertools.pairwise(equity)]
    assert total.sharpe == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(252 * 375)
    )
    # one instrument: its row is the strategy's
    reliance = report.summary("sma_crossover", RELIANCE)
    assert (reliance.net_pnl, reliance.max_drawdown, reliance.sharpe) == pytest.approx(
        (total.net_pnl, total.max_drawdown, total.sharpe)
    )

    out = tmp_path / "report"
    write_report(report, out, {RELIANCE: "RELIANCE"}, title="hand")
    trades = (out / TRADES_FILE).read_text().splitlines()
    assert trades[1].split(",")[-4:] == ["20.00", "2.10", "17.90", "closed"]
    assert trades[3].split(",")[-4:] == ["20.00", "1.06", "18.94", "open"]
    summary = (out / SUMMARY_FILE).read_text().splitlines()
    assert summary[1].startswith("sma_crossover,0,ALL,2,1,5,30.00,5.25,24.75,50.00,34.21,")
    assert (out / EQUITY_FILE).read_text().count("\n") == 1 + 2 * len(PRICES)  # header, ALL and RELIANCE
    html = (out / HTML_FILE).read_text()
    assert (
        "<svg" in html
        and "<script" not in html
        and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )

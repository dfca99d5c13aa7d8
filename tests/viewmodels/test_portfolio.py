"""The positions pane: a live strategy's positions are Kite's once the engine has read them."""

from __future__ import annotations

from engine.events import PnlSnapshot, PositionView
from viewmodels.portfolio import BROKER_PORTFOLIO, PnlPane

INFY, SBIN = 408065, 779521
SYMBOLS = {INFY: "INFY", SBIN: "SBIN"}


def snapshot(portfolio_id: str, *positions: PositionView) -> PnlSnapshot:
    strategy_id = portfolio_id.split(":")[1]
    return PnlSnapshot(
        portfolio_id=portfolio_id,
        strategy_id=strategy_id,
        realized_pnl=10.0,
        unrealized_pnl=5.0,
        charges=1.0,
        cash=100_000.0,
        equity=100_014.0,
        positions=positions,
    )


def position(token: int, quantity: int, average: float = 100.0) -> PositionView:
    return PositionView(token, quantity, average, average + 1.0, 0.0, float(quantity))


def pane() -> PnlPane:
    pnl = PnlPane(lambda token: SYMBOLS.get(token, str(token)))
    pnl.apply(snapshot("paper:momo", position(INFY, 4)), 0.0)
    pnl.apply(snapshot("zerodha:momo", position(INFY, 3)), 0.0)
    return pnl


def shown(pnl: PnlPane) -> list[tuple[str, str, int, bool]]:
    return [(r.portfolio_id, r.symbol, r.quantity, r.is_total) for r in pnl.position_rows()]


def test_before_kite_is_read_the_live_strategys_own_estimate_is_shown() -> None:
    assert shown(pane()) == [
        ("paper:momo", "INFY", 4, False),
        ("paper:momo", "", 0, True),
        ("zerodha:momo", "INFY", 3, False),
        ("zerodha:momo", "", 0, True),
    ]


def test_once_kite_is_read_its_positions_replace_the_live_estimates() -> None:
    pnl = pane()
    before = pnl.revision
    pnl.set_broker_positions((position(INFY, 2, 1500.0), position(SBIN, -5, 850.0)), 1_700_000_000.0)
    assert pnl.revision > before
    assert shown(pnl) == [
        (BROKER_PORTFOLIO, "INFY", 2, False),
        (BROKER_PORTFOLIO, "SBIN", -5, False),
        ("paper:momo", "INFY", 4, False),
        ("paper:momo", "", 0, True),
        ("zerodha:momo", "", 0, True),  # the strategy's P&L total stays; its positions are Kite's
    ]
    [infy] = [r for r in pnl.position_rows() if r.portfolio_id == BROKER_PORTFOLIO and r.symbol == "INFY"]
    assert (infy.average_price, infy.last_price, infy.unrealized_pnl) == (1500.0, 1501.0, 2.0)


def test_kite_holding_nothing_shows_no_live_positions() -> None:
    pnl = pane()
    pnl.set_broker_positions((), 1_700_000_000.0)
    assert ("zerodha:momo", "INFY", 3, False) not in shown(pnl)
    revision = pnl.revision
    assert pnl.set_broker_positions((), 1_700_000_000.0) is False and pnl.revision == revision


def test_equity_is_the_starting_capital_plus_net_pnl_however_many_strategies_trade() -> None:
    pnl = PnlPane(lambda token: SYMBOLS.get(token, str(token)))
    pnl.apply(snapshot("paper:momo", position(INFY, 4)), 0.0)
    one = pnl.equity()
    assert pnl.capital() == 100_000.0
    assert one == 100_000.0 + pnl.total()
    pnl.apply(snapshot("paper:revert", position(SBIN, 2)), 1.0)
    assert pnl.capital() == 100_000.0
    assert pnl.equity() == 100_000.0 + pnl.total()  # not two portfolios' capital
    assert pnl.equity() - one == 14.0  # it moved by the second strategy's net P&L only

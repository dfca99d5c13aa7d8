"""The positions pane's and the P&L charts' model: the latest snapshot of every portfolio."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engine.events import EquityPoint, Namespace, PnlSnapshot, PositionView
from engine.portfolio.pnl_series import PnlCurves, Series
from viewmodels.revision import Revised, changes
from viewmodels.rows import PositionRow

BROKER_PORTFOLIO = f"{Namespace.ZERODHA.value}:broker"  # the live account's positions, as Kite holds them
LIVE_PREFIX = f"{Namespace.ZERODHA.value}:"


class PnlPane(Revised):
    def __init__(self, symbol: Callable[[int], str]) -> None:
        super().__init__()
        self._symbol = symbol
        self.curves = PnlCurves()
        self.portfolios: dict[str, PnlSnapshot] = self.curves.portfolios
        self.broker_positions: tuple[PositionView, ...] = ()
        self.broker_positions_ts = 0.0  # 0: Kite's positions not read yet

    @changes
    def set_broker_positions(self, positions: tuple[PositionView, ...], ts: float) -> bool:
        """Kite's positions of the live account, from the engine's last reconciliation."""
        if ts == self.broker_positions_ts and positions == self.broker_positions:
            return False
        self.broker_positions, self.broker_positions_ts = positions, ts
        return True

    @property
    def series(self) -> Series:
        """The total net P&L curve."""
        return self.curves.total

    @property
    def strategy_series(self) -> dict[str, Series]:
        return self.curves.strategies

    @changes
    def apply(self, snapshot: PnlSnapshot, now: float) -> None:
        self.curves.apply(snapshot, now)

    @changes
    def seed(self, portfolios: Iterable[PnlSnapshot], now: float) -> bool:
        """Portfolios from the day snapshot that no live snapshot has shown yet (the curves are
        the engine's, from `seed_curves`)."""
        added = [p for p in portfolios if p.portfolio_id not in self.portfolios]
        for pnl in added:
            self.portfolios[pnl.portfolio_id] = pnl
        return bool(added)

    @changes
    def seed_latest(self, snapshot: PnlSnapshot) -> bool:
        """A portfolio's latest snapshot as the engine's curves last folded it, without sampling it."""
        shown = self.portfolios.get(snapshot.portfolio_id)
        if shown is not None and shown.snapshot_ts >= snapshot.snapshot_ts:
            return False  # seen live already (or newer)
        self.portfolios[snapshot.portfolio_id] = snapshot
        return True

    @changes
    def seed_curves(self, points: Iterable[EquityPoint]) -> bool:
        """The engine's P&L curves so far: its points older than each curve's first point here
        go before it (a console that saw the whole run keeps its own, the same points)."""
        return self.curves.prepend(points)

    def total(self) -> float:
        """Net P&L of every portfolio: realized + unrealized - charges (= equity - starting cash)."""
        return self.curves.net()

    def capital(self) -> float:
        """The starting cash a portfolio starts the day with (its equity less its net P&L); 0 before any."""
        for p in self.portfolios.values():
            return round(p.equity - (p.realized_pnl + p.unrealized_pnl - p.charges), 2)
        return 0.0

    def equity(self) -> float:
        """Starting capital + net P&L: it moves with P&L only, not as more strategies start trading."""
        return self.capital() + self.total()

    def of_strategy(self, strategy_id: str) -> float:
        """Net P&L of a strategy across its portfolios: realized + unrealized - charges."""
        return self.curves.net_of(strategy_id)

    def position_rows(self) -> list[PositionRow]:
        """One row per open or traded position, then one total row per portfolio. Once the engine
        has read Kite's positions, the live positions shown are Kite's (one account-wide row per
        instrument, under "zerodha:broker"), not the live strategies' own estimates."""
        rows: list[PositionRow] = []
        broker = self.broker_positions_ts > 0
        if broker:
            for i, pos in enumerate(self.broker_positions):
                rows.append(self._position_row(BROKER_PORTFOLIO, f"{pos.instrument_token}:{i}", pos))
        for snapshot in sorted(self.portfolios.values(), key=lambda s: s.portfolio_id):
            if not (broker and snapshot.portfolio_id.startswith(LIVE_PREFIX)):
                for pos in snapshot.positions:
                    rows.append(self._position_row(snapshot.portfolio_id, str(pos.instrument_token), pos))
            rows.append(
                PositionRow(
                    key=f"{snapshot.portfolio_id}:total",
                    portfolio_id=snapshot.portfolio_id,
                    symbol="",
                    quantity=0,
                    average_price=0.0,
                    last_price=snapshot.equity,
                    realized_pnl=snapshot.realized_pnl,
                    unrealized_pnl=snapshot.unrealized_pnl,
                    charges=snapshot.charges,
                    is_total=True,
                    version=self.revision,
                )
            )
        return rows

    def _position_row(self, portfolio_id: str, key: str, pos: PositionView) -> PositionRow:
        return PositionRow(
            key=f"{portfolio_id}:{key}",
            portfolio_id=portfolio_id,
            symbol=self._symbol(pos.instrument_token),
            quantity=pos.quantity,
            average_price=pos.average_price,
            last_price=pos.last_price,
            realized_pnl=pos.realized_pnl,
            unrealized_pnl=pos.unrealized_pnl,
            charges=0.0,
            is_total=False,
            version=self.revision,
        )

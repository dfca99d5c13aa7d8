"""One strategy's book in one namespace: positions, cash, charges, P&L, equity curve.

Average-cost accounting. These hold after every fill and mark (to float
precision):

    position quantity = signed sum of its fills
    equity            = cash + sum(quantity * last price)
    realized + unrealized - charges = equity - starting cash
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from engine.events import Namespace, OrderFilled, PnlSnapshot, PositionView

EQUITY_CURVE_POINTS = 2_000


def portfolio_id_for(namespace: Namespace, strategy_id: str) -> str:
    """The one way a portfolio id is built: namespace and strategy, so paper and live never mix."""
    return f"{namespace.value}:{strategy_id}"


@dataclass(slots=True)
class Position:
    instrument_token: int
    quantity: int = 0  # signed: negative is short
    average_price: float = 0.0
    realized_pnl: float = 0.0
    last_price: float = 0.0

    @property
    def unrealized_pnl(self) -> float:
        return self.quantity * (self.last_price - self.average_price) if self.quantity else 0.0

    @property
    def market_value(self) -> float:
        return self.quantity * self.last_price

    def apply(self, signed_quantity: int, price: float) -> None:
        """Add a fill; closing quantity realizes P&L against the average, a flip opens at the fill price."""
        held = self.quantity
        new = held + signed_quantity
        if held == 0 or (held > 0) == (signed_quantity > 0):
            self.average_price = (abs(held) * self.average_price + abs(signed_quantity) * price) / abs(new)
        else:
            closed = min(abs(signed_quantity), abs(held))
            direction = 1 if held > 0 else -1
            self.realized_pnl += closed * (price - self.average_price) * direction
            if new == 0:
                self.average_price = 0.0
            elif (new > 0) != (held > 0):
                self.average_price = price
        self.quantity = new
        self.last_price = price

    def view(self) -> PositionView:
        return PositionView(
            instrument_token=self.instrument_token,
            quantity=self.quantity,
            average_price=self.average_price,
            last_price=self.last_price,
            realized_pnl=self.realized_pnl,
            unrealized_pnl=self.unrealized_pnl,
        )


class Portfolio:
    def __init__(
        self,
        portfolio_id: str,
        namespace: Namespace,
        strategy_id: str,
        starting_cash: float,
        curve_points: int = EQUITY_CURVE_POINTS,
    ) -> None:
        expected = portfolio_id_for(namespace, strategy_id)
        if portfolio_id != expected:
            raise ValueError(f"portfolio id {portfolio_id!r} should be {expected!r}")
        self.portfolio_id = portfolio_id
        self.namespace = namespace
        self.strategy_id = strategy_id
        self.starting_cash = starting_cash
        self.cash = starting_cash
        self.charges = 0.0
        self.fills = 0
        self.positions: dict[int, Position] = {}
        # kept incrementally so a snapshot costs O(open positions), not O(every position ever held)
        self._open: dict[int, Position] = {}
        self._realized = 0.0
        self.equity_curve: deque[tuple[float, float]] = deque(maxlen=curve_points)

    @classmethod
    def for_strategy(cls, namespace: Namespace, strategy_id: str, starting_cash: float) -> Portfolio:
        return cls(portfolio_id_for(namespace, strategy_id), namespace, strategy_id, starting_cash)

    def apply_fill(self, fill: OrderFilled) -> Position:
        if fill.strategy_id != self.strategy_id:
            raise ValueError(f"fill for {fill.strategy_id!r} applied to portfolio {self.portfolio_id!r}")
        position = self.positions.get(fill.instrument_token)
        if position is None:
            position = self.positions[fill.instrument_token] = Position(fill.instrument_token)
        signed = fill.side.sign * fill.quantity
        realized_before = position.realized_pnl
        position.apply(signed, fill.price)
        self._realized += position.realized_pnl - realized_before
        if position.quantity:
            self._open[fill.instrument_token] = position
        else:
            self._open.pop(fill.instrument_token, None)
        charges = fill.charges.total
        self.charges += charges
        self.cash -= signed * fill.price + charges
        self.fills += 1
        return position

    def mark(self, instrument_token: int, price: float) -> bool:
        """Set a position's last price; True if it held the instrument and the price moved."""
        position = self._open.get(instrument_token)
        if position is None or position.last_price == price or price <= 0:
            return False
        position.last_price = price
        return True

    @property
    def realized_pnl(self) -> float:
        return self._realized

    @property
    def unrealized_pnl(self) -> float:
        return sum(p.quantity * (p.last_price - p.average_price) for p in self._open.values())

    @property
    def market_value(self) -> float:
        return sum(p.quantity * p.last_price for p in self._open.values())

    @property
    def equity(self) -> float:
        return self.cash + self.market_value

    @property
    def open_positions(self) -> int:
        return len(self._open)

    def snapshot(self, ts: float) -> PnlSnapshot:
        """The current P&L (open positions itemised), also appended to the equity curve."""
        views = tuple(p.view() for p in self._open.values())
        market_value = 0.0
        unrealized = 0.0
        for view in views:
            market_value += view.quantity * view.last_price
            unrealized += view.unrealized_pnl
        equity = self.cash + market_value
        self.equity_curve.append((ts, equity))
        return PnlSnapshot(
            portfolio_id=self.portfolio_id,
            strategy_id=self.strategy_id,
            realized_pnl=self._realized,
            unrealized_pnl=unrealized,
            charges=self.charges,
            cash=self.cash,
            equity=equity,
            positions=views,
            snapshot_ts=ts,
        )


@dataclass(frozen=True, slots=True)
class PortfolioTotals:
    """Every portfolio of one namespace, summed."""

    portfolios: int
    starting_cash: float
    cash: float
    realized_pnl: float
    unrealized_pnl: float
    charges: float
    equity: float
    open_positions: int

    @property
    def net_pnl(self) -> float:
        return self.equity - self.starting_cash

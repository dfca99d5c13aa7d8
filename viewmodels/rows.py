"""The rows the console's panes show: plain data folded from bus events, no Textual.

A row carries a `version` that its writer bumps whenever the row changes, so a
table repaints only the rows whose version moved (`widgets/row_table.py`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from engine.events import Event, Namespace, Side, StrategyStatus

SPARK_POINTS = 32
SPARK_INTERVAL_S = 1.0  # feed seconds between sparkline samples, so the line shows a trend, not jitter


class OrderStatus(StrEnum):
    OPEN = "OPEN"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class LogLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class TickRow:
    """Latest quote of one instrument. Mutated in place on every tick."""

    __slots__ = (
        "ask",
        "bid",
        "change_pct",
        "direction",
        "exchange_ts",
        "last_price",
        "spark",
        "spark_ts",
        "symbol",
        "token",
        "version",
        "volume",
    )

    def __init__(self, token: int, symbol: str) -> None:
        self.token = token
        self.symbol = symbol
        self.last_price = 0.0
        self.change_pct = 0.0
        self.volume = 0
        self.bid = 0.0
        self.ask = 0.0
        self.direction = 0  # +1 up-tick, -1 down-tick, 0 unchanged
        self.exchange_ts = 0.0
        self.spark: deque[float] = deque(maxlen=SPARK_POINTS)
        self.spark_ts = -SPARK_INTERVAL_S
        self.version = 0


@dataclass(slots=True)
class SignalRow:
    event_id: str
    correlation_id: str
    namespace: Namespace
    strategy_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    reason: str
    ts: float
    version: int = 0


@dataclass(slots=True)
class DecisionRow:
    event_id: str
    correlation_id: str
    namespace: Namespace
    accepted: bool
    strategy_id: str
    symbol: str
    side: Side
    quantity: int
    rule: str
    reason: str
    ts: float
    version: int = 0


@dataclass(slots=True)
class OrderRow:
    order_id: str
    correlation_id: str
    namespace: Namespace
    strategy_id: str
    token: int
    symbol: str
    side: Side
    quantity: int
    order_type: str
    limit_price: float | None
    placed_ts: float
    status: OrderStatus = OrderStatus.OPEN
    filled_quantity: int = 0
    average_price: float = 0.0
    charges: float = 0.0
    detail: str = ""  # failure or cancellation reason
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.PARTIAL)


@dataclass(slots=True)
class FillRow:
    trade_id: str
    order_id: str
    namespace: Namespace
    strategy_id: str
    symbol: str
    side: Side
    quantity: int
    price: float
    charges: float
    ts: float
    version: int = 0


@dataclass(slots=True)
class PositionRow:
    key: str
    portfolio_id: str
    symbol: str  # empty on a portfolio's total row
    quantity: int
    average_price: float
    last_price: float  # equity on a total row
    realized_pnl: float
    unrealized_pnl: float
    charges: float
    is_total: bool
    version: int = 0


@dataclass(slots=True)
class LogLine:
    seq: int
    ts: float
    level: LogLevel
    text: str
    version: int = 0


@dataclass(slots=True)
class Lineage:
    """Everything seen for one correlation id: tick -> signal -> risk decision -> orders -> fills."""

    correlation_id: str
    tick: Event | None = None
    signal: Event | None = None
    decision: Event | None = None
    orders: list[Event] = field(default_factory=list)
    outcomes: list[Event] = field(default_factory=list)  # fills, failures, cancellations
    version: int = 0


@dataclass(slots=True)
class StrategyRow:
    index: int  # 1-based; digits 1-9 toggle the first nine
    status: StrategyStatus
    pending: bool | None  # the enabled state asked for and not yet confirmed by the engine
    pnl: float
    symbols: tuple[str, ...]
    version: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    text: str
    level: LogLevel

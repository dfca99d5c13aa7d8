"""The trading stages between the feed and storage, built once for every driver.

The live engine, the replay driver and the benchmarks all build their
strategy runner, risk managers, paper execution and portfolio managers here,
so the three can never wire the pipeline differently. Each caller chooses the
order in which the services subscribe (it decides who sees a tick first on a
DirectBus).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from engine.bus.base import Bus
from engine.clock import Clock
from engine.events import Namespace
from engine.execution.charges import ChargeCalculator
from engine.execution.order_ids import OrderIds
from engine.execution.paper import PaperExecution
from engine.instruments import InstrumentRegistry
from engine.market.calendar import MarketCalendar
from engine.portfolio.manager import PortfolioManager
from engine.risk.manager import RiskManager
from engine.risk.rules import Gate
from engine.settings import Settings
from engine.state import StateStore
from engine.strategies.base import Strategy
from engine.strategies.runner import StrategyRunner

DEFAULT_SNAPSHOT_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class TradingStages:
    runner: StrategyRunner
    risk: dict[Namespace, RiskManager]
    paper: PaperExecution
    portfolios: dict[Namespace, PortfolioManager]


def build_trading_stages(
    bus: Bus,
    settings: Settings,
    *,
    strategies: Sequence[Strategy],
    enabled: Mapping[str, bool],
    instruments: InstrumentRegistry,
    calendar: MarketCalendar,
    clock: Clock,
    state_store: StateStore,
    namespaces: tuple[Namespace, ...] = (Namespace.PAPER,),
    order_ids: OrderIds | None = None,
    snapshot_interval_s: float = DEFAULT_SNAPSHOT_INTERVAL_S,
    live_gate: Gate | None = None,
) -> TradingStages:
    """Strategy runner, a risk manager and a portfolio manager per namespace, paper execution.
    `live_gate` guards the zerodha namespace's orders (required when that namespace runs)."""
    if Namespace.ZERODHA in namespaces and live_gate is None:
        raise ValueError("the zerodha namespace needs a live gate: live orders never go ungated")
    return TradingStages(
        runner=StrategyRunner(bus, strategies, enabled, state_store, namespaces),
        risk={
            ns: RiskManager(
                bus,
                ns,
                settings.risk,
                instruments,
                calendar,
                clock,
                state_store,
                strategy_names=[strategy.name for strategy in strategies],
                live_gate=live_gate if ns is Namespace.ZERODHA else None,
            )
            for ns in namespaces
        },
        paper=PaperExecution(
            bus,
            settings.paper,
            ChargeCalculator(settings.charges),
            instruments,
            clock,
            calendar,
            order_ids=order_ids,
        ),
        portfolios={
            ns: PortfolioManager(
                bus, ns, settings.paper.starting_cash, clock, snapshot_interval_s=snapshot_interval_s
            )
            for ns in namespaces
        },
    )

"""Portfolios: positions, cash, charges and P&L per strategy and namespace."""

from engine.portfolio.manager import PortfolioManager
from engine.portfolio.portfolio import Portfolio, PortfolioTotals, Position, portfolio_id_for

__all__ = ["Portfolio", "PortfolioManager", "PortfolioTotals", "Position", "portfolio_id_for"]

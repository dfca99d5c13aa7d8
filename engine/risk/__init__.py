"""Pre-trade risk: named rules, the global kill switch and the daily-loss latch."""

from engine.risk.kill_switch import HALT_STATE_KEY, KillSwitch
from engine.risk.loss_latch import GLOBAL_LATCH, LossLatch, ist_day
from engine.risk.manager import FLATTEN_REASON, RiskManager
from engine.risk.rules import Rule, build_rules, order_price

__all__ = [
    "FLATTEN_REASON",
    "GLOBAL_LATCH",
    "HALT_STATE_KEY",
    "KillSwitch",
    "LossLatch",
    "RiskManager",
    "Rule",
    "build_rules",
    "ist_day",
    "order_price",
]

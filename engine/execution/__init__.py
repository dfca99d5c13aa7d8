"""Order execution: the paper broker and the charges every fill carries."""

from engine.execution.charges import ChargeCalculator
from engine.execution.paper import SQUARE_OFF_REASON, PaperExecution

__all__ = ["SQUARE_OFF_REASON", "ChargeCalculator", "PaperExecution"]

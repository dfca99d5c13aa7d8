"""The daily-loss latch: per strategy and for the whole namespace, held until a person resets it.

Day P&L is measured from the value (realized + unrealized - charges) of a
strategy's first P&L snapshot of the IST day. Those start-of-day values are
persisted with the latches, so restarting mid-day does not hand a losing
strategy a fresh loss budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

GLOBAL_LATCH = "global"  # the key under which `latches` reports the namespace-wide latch

# IST is UTC+05:30 all year (no daylight saving), so an IST day is plain arithmetic.
IST_OFFSET_S = 5 * 3600 + 30 * 60
_EPOCH = date(1970, 1, 1)


def ist_day(ts: float) -> int:
    """Days since 1970-01-01 in IST for an epoch-seconds timestamp."""
    return int((ts + IST_OFFSET_S) // 86_400)


def ist_day_iso(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).isoformat()


def ist_day_from_iso(text: str) -> int:
    return (date.fromisoformat(text) - _EPOCH).days


@dataclass(frozen=True, slots=True)
class Observation:
    """What one P&L snapshot did to the latch."""

    day_pnl: float
    new_baseline: bool  # a start-of-day value was recorded (persist the day state)
    strategy_latched: str | None = None  # the reason, when this snapshot latched the strategy
    global_latched: str | None = None  # the reason, when this snapshot latched the namespace


class LossLatch:
    def __init__(self, max_loss_per_strategy: float, max_loss: float) -> None:
        self.max_loss_per_strategy = max_loss_per_strategy
        self.max_loss = max_loss
        self.day = -1
        self.global_reason: str | None = None
        self.strategy_reasons: dict[str, str] = {}
        self._baseline: dict[str, float] = {}
        self._value: dict[str, float] = {}
        self._day_pnl: dict[str, float] = {}

    # -- reading ------------------------------------------------------------------
    def blocking_reason(self, strategy_id: str) -> str | None:
        if self.global_reason is not None:
            return f"global daily loss latch: {self.global_reason}"
        reason = self.strategy_reasons.get(strategy_id)
        if reason is not None:
            return f"strategy {strategy_id} daily loss latch: {reason}"
        return None

    def day_pnl(self, strategy_id: str) -> float:
        return self._day_pnl.get(strategy_id, 0.0)

    def total_day_pnl(self) -> float:
        return sum(self._day_pnl.values())

    def latches(self) -> dict[str, str]:
        found = dict(self.strategy_reasons)
        if self.global_reason is not None:
            found[GLOBAL_LATCH] = self.global_reason
        return found

    # -- updating -----------------------------------------------------------------
    def observe(self, day: int, strategy_id: str, value: float) -> Observation:
        """Take a strategy's current value (realized + unrealized - charges) on an IST day."""
        if day != self.day:
            self.day = day
            self._baseline.clear()
            self._day_pnl.clear()
        baseline = self._baseline.get(strategy_id)
        new_baseline = baseline is None
        if baseline is None:
            baseline = self._baseline[strategy_id] = value
        pnl = value - baseline
        self._value[strategy_id] = value
        self._day_pnl[strategy_id] = pnl

        strategy_latched: str | None = None
        if strategy_id not in self.strategy_reasons and pnl <= -self.max_loss_per_strategy:
            strategy_latched = (
                f"day loss {-pnl:.2f} reached max_daily_loss_per_strategy {self.max_loss_per_strategy:.2f}"
            )
            self.strategy_reasons[strategy_id] = strategy_latched
        global_latched: str | None = None
        total = self.total_day_pnl()
        if self.global_reason is None and total <= -self.max_loss:
            global_latched = f"total day loss {-total:.2f} reached max_daily_loss {self.max_loss:.2f}"
            self.global_reason = global_latched
        return Observation(pnl, new_baseline, strategy_latched, global_latched)

    def reset(self, strategy_id: str = "") -> bool:
        """Clear one strategy's latch (or, with "", every latch); True if something was latched.

        The reset strategies' day P&L restarts from their current value: a person
        who resets a latch grants a fresh loss budget, rather than one the next
        snapshot would exhaust again at once. With no latch to reset, nothing changes.
        """
        if strategy_id:
            was_latched = self.strategy_reasons.pop(strategy_id, None) is not None
            if was_latched:
                self._rebase(strategy_id)
            return was_latched
        was_latched = self.global_reason is not None or bool(self.strategy_reasons)
        if not was_latched:
            return False
        self.global_reason = None
        self.strategy_reasons.clear()
        for name in list(self._value):
            self._rebase(name)
        return was_latched

    def _rebase(self, strategy_id: str) -> None:
        value = self._value.get(strategy_id)
        if value is not None and self.day >= 0:
            self._baseline[strategy_id] = value
            self._day_pnl[strategy_id] = 0.0

    # -- persistence --------------------------------------------------------------
    def latch_state(self) -> dict[str, Any]:
        return {"global": self.global_reason, "strategies": dict(self.strategy_reasons)}

    def load_latch_state(self, state: dict[str, Any] | None) -> None:
        if state is None:
            return
        reason = state.get("global")
        self.global_reason = None if reason is None else str(reason)
        strategies = state.get("strategies") or {}
        self.strategy_reasons = {str(k): str(v) for k, v in dict(strategies).items()}

    def day_state(self) -> dict[str, Any]:
        return {"day": ist_day_iso(self.day) if self.day >= 0 else None, "baselines": dict(self._baseline)}

    def load_day_state(self, state: dict[str, Any] | None) -> None:
        if state is None or not state.get("day"):
            return
        self.day = ist_day_from_iso(str(state["day"]))
        baselines = state.get("baselines") or {}
        self._baseline = {str(k): float(v) for k, v in dict(baselines).items()}
        self._day_pnl.clear()

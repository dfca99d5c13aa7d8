"""The live account against the broker: fails while a position mismatch waits for a person."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engine.health.registry import CheckResult, CheckStatus

if TYPE_CHECKING:
    from engine.zerodha.reconcile import Reconciler


RECONCILIATION_CHECK = "reconciliation"


class ReconciliationCheck:
    name = RECONCILIATION_CHECK
    critical = True

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler

    async def check(self) -> CheckResult:
        r = self.reconciler
        last = r.last
        details: dict[str, Any] = {"runs": r.runs, "adopted": list(r.adopted), "alarms": len(r.alarms)}
        if r.alarms:
            held = ", ".join(sorted(r.holder.holds)) or "no strategy"
            mismatches = "; ".join(m.describe() for m in r.alarms.values())
            message = (
                f"live position mismatch: {mismatches}; held: {held} "
                "(acknowledge with `alpha-panda-tui acknowledge` or the console)"
            )
            return CheckResult(self.name, CheckStatus.FAIL, message, self.critical, details)
        if last is None:
            return CheckResult(self.name, CheckStatus.SKIPPED, "not run yet", self.critical, details)
        age = time.time() - last.ts
        if last.error:
            message = f"last run {age:.0f} s ago failed: {last.error}"
            return CheckResult(self.name, CheckStatus.WARN, message, self.critical, details)
        if last.unreadable:
            message = f"Kite rows this engine cannot book: {'; '.join(last.unreadable)}"
            return CheckResult(self.name, CheckStatus.WARN, message, self.critical, details)
        if r.adopted:
            message = f"{len(r.adopted)} orders placed outside this engine adopted: {', '.join(r.adopted)}"
            return CheckResult(self.name, CheckStatus.WARN, message, self.critical, details)
        message = f"in agreement with Kite {age:.0f} s ago ({last.describe()})"
        return CheckResult(self.name, CheckStatus.OK, message, self.critical, details)

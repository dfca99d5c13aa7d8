"""The global kill switch: one flag for every namespace, persisted so a restart keeps it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

HALT_STATE_KEY = "risk:halt"


@dataclass(slots=True)
class KillSwitch:
    halted: bool = False
    reason: str = ""

    def halt(self, reason: str) -> None:
        self.halted = True
        self.reason = reason

    def resume(self) -> None:
        self.halted = False
        self.reason = ""

    def to_state(self) -> dict[str, Any]:
        return {"halted": self.halted, "reason": self.reason}

    def load_state(self, state: dict[str, Any] | None) -> None:
        if state is None:
            return
        self.halted = bool(state.get("halted", False))
        self.reason = str(state.get("reason", "")) if self.halted else ""

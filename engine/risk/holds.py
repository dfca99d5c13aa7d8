"""Per-strategy holds: a strategy whose live position no longer matches the broker's trades no more
until a person acknowledges it. Persisted with the namespace's risk state, so a restart keeps them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class StrategyHolds:
    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}

    @property
    def reasons(self) -> Mapping[str, str]:
        return MappingProxyType(self._reasons)

    def hold(self, strategy_id: str, reason: str) -> bool:
        """Hold a strategy; False when it was already held (its first reason is kept)."""
        if strategy_id in self._reasons:
            return False
        self._reasons[strategy_id] = reason
        return True

    def release(self, strategy_id: str = "") -> list[str]:
        """Release one strategy, or every one when none is named; the strategies released."""
        if not strategy_id:
            released = sorted(self._reasons)
            self._reasons.clear()
            return released
        return [strategy_id] if self._reasons.pop(strategy_id, None) is not None else []

    def blocking_reason(self, strategy_id: str) -> str | None:
        reason = self._reasons.get(strategy_id)
        if reason is None:
            return None
        return f"strategy {strategy_id} is held until its position mismatch is acknowledged: {reason}"

    def to_state(self) -> dict[str, Any]:
        return {"holds": dict(self._reasons)}

    def load_state(self, state: dict[str, Any] | None) -> None:
        holds = (state or {}).get("holds") or {}
        self._reasons = {str(name): str(reason) for name, reason in dict(holds).items()}

"""Small persistent state (strategy enabled flags, kill switch, loss latches).

Services depend on this protocol, not on storage: the engine hands them the
database-backed store, tests and replays the in-memory one.
"""

from __future__ import annotations

from typing import Any, Protocol


class StateStore(Protocol):
    async def get_state(self, key: str) -> dict[str, Any] | None: ...

    async def put_state(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryStateStore:
    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}

    async def get_state(self, key: str) -> dict[str, Any] | None:
        value = self._data.get(key)
        return dict(value) if value is not None else None

    async def put_state(self, key: str, value: dict[str, Any]) -> None:
        self._data[key] = dict(value)

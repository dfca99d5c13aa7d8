"""The command palette's console commands: every palette action from the key table, plus one
enable/disable and one open command per strategy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider


@dataclass(frozen=True, slots=True)
class PaletteEntry:
    name: str
    help: str
    run: Callable[[], Any]


@runtime_checkable
class PaletteHost(Protocol):
    def palette_entries(self) -> list[PaletteEntry]: ...


class ConsoleCommands(Provider):
    def _entries(self) -> list[PaletteEntry]:
        app = self.app
        return app.palette_entries() if isinstance(app, PaletteHost) else []

    async def discover(self) -> Hits:
        for entry in self._entries():
            yield DiscoveryHit(entry.name, entry.run, help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in self._entries():
            score = matcher.match(entry.name)
            if score > 0:
                yield Hit(score, matcher.highlight(entry.name), entry.run, help=entry.help)

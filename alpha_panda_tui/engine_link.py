"""How the console reaches the engine it shows, beyond the bus: who the engine is, whether this
console may act on it, how to stop it, and what the header says about the link.

Embedded: the engine runs in this process (`launch`). Attached: it runs elsewhere and the
console reaches it through its control socket or Kafka (`attach`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from viewmodels.link import LinkPhase, LinkView


class EngineLinkError(Exception):
    """The engine could not be reached or refused; the message says why and what to do."""


class EngineLink(Protocol):
    @property
    def attached(self) -> bool: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def stop_unavailable(self) -> str:
        """Why this console cannot stop the engine ("" when it can)."""
        ...

    def view(self) -> LinkView: ...

    async def stop_engine(self, reason: str) -> None:
        """Ask the engine to stop (EngineLinkError when it cannot be asked or says no)."""
        ...


class EmbeddedLink:
    """The engine in this process: `stop` ends it (the host's stop request)."""

    attached = False
    read_only = False
    stop_unavailable = ""

    def __init__(self, data_dir: Path, stop: Callable[[], None]) -> None:
        self._view = LinkView(
            LinkPhase.EMBEDDED, pid=os.getpid(), data_dir=str(data_dir), since=time.monotonic()
        )
        self._stop = stop

    def view(self) -> LinkView:
        return self._view

    async def stop_engine(self, reason: str) -> None:
        self._stop()

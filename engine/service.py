"""What every pipeline stage looks like to the engine that runs it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from engine.bus.base import Bus
from engine.events import Namespace, OrderFilled


class Service(ABC):
    """A pipeline stage: subscribes its handlers in `wire`, may run tasks between start and stop.

    Services talk to each other only through the bus, so the same class runs
    in the embedded engine, under a replay driver, or as its own process.
    """

    name: str = "service"
    namespace: Namespace | None = None  # the broker namespace whose fills `restore` receives

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    @abstractmethod
    def wire(self) -> None:
        """Subscribe handlers. Called once, before the bus starts."""

    async def restore(self, fills: Sequence[OrderFilled]) -> None:  # noqa: B027 - optional hook
        """Rebuild state from stored fills after a restart (fills in fill order)."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start background tasks, if any."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Stop background tasks; the bus is drained before this is called."""

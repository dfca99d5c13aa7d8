"""Message buses: one interface (`Bus`), an in-process queued bus, and a direct bus."""

from engine.bus.base import Bus, BusStats, GroupStats, Handler, SegregationError
from engine.bus.direct import DirectBus
from engine.bus.inprocess import InProcessBus, TickOverflow

__all__ = [
    "Bus",
    "BusStats",
    "DirectBus",
    "GroupStats",
    "Handler",
    "InProcessBus",
    "SegregationError",
    "TickOverflow",
]

"""Message buses: one interface (`Bus`), an in-process queued bus, and a direct bus."""

from engine.bus.base import Bus, BusStats, GroupStats, Handler, SegregationError
from engine.bus.direct import DirectBus
from engine.bus.inprocess import InProcessBus, TickOverflow
from engine.bus.kafka import BusUnavailable, KafkaBus

__all__ = [
    "Bus",
    "BusStats",
    "BusUnavailable",
    "DirectBus",
    "GroupStats",
    "Handler",
    "InProcessBus",
    "KafkaBus",
    "SegregationError",
    "TickOverflow",
]

"""The bus of a console attached to an engine that runs on Kafka, possibly on another machine.

The console reads the engine's topics from the newest offsets without a consumer
group (see `KafkaBus(from_newest=True)`), so it sees what happens from the moment
its bus starts; the day so far comes from the DaySnapshot it asks for, as on the
control socket.
"""

from __future__ import annotations

import itertools
import os
import socket

from engine.bus.kafka import KafkaBus

_consoles = itertools.count(1)


def console_client_id() -> str:
    """`console-<host>-<pid>-<n>`: how this console shows in the broker's client lists and logs."""
    return f"console-{socket.gethostname()}-{os.getpid()}-{next(_consoles)}"


def kafka_console_bus(bootstrap: str) -> KafkaBus:
    """A Kafka bus for one console: start it before the app runs, stop it when the app ends."""
    name = console_client_id()
    return KafkaBus(bootstrap=bootstrap, group_prefix=name, client_id=name, from_newest=True)

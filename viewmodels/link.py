"""What the header says about the console's link to the engine: plain data, no Textual.

An embedded console owns its engine and says nothing; an attached one says which engine it
shows (ATTACHED pid N), whether it may act (READ-ONLY), and when the link is down how long
for and that the picture on screen is the last one it had.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LinkPhase(StrEnum):
    EMBEDDED = "embedded"  # the engine runs in this process
    CONNECTING = "connecting"
    ATTACHED = "attached"
    LOST = "lost"  # the engine stopped or the link broke: reconnecting
    CUT_OFF = "cut_off"  # the engine dropped this console (it fell too far behind): re-attaching
    REFUSED = "refused"  # the engine said no (e.g. too many consoles): retrying


class BadgeTone(StrEnum):
    """How a part of the badge looks (the header maps each to a style)."""

    ATTACHED = "attached"
    READ_ONLY = "read-only"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class LinkView:
    phase: LinkPhase
    pid: int | None = None  # the engine's process
    data_dir: str = ""  # the engine's data dir (or where it is reached, for a Kafka console)
    read_only: bool = False
    detail: str = ""  # why the link is down, in the engine's or the OS's words
    since: float = 0.0  # monotonic time the phase began
    attaches: int = 0  # hellos so far: 0 until the first attach

    @property
    def engine_name(self) -> str:
        """The engine, as a confirmation names it: "pid 4242 on /srv/alpha" ."""
        pid = f"pid {self.pid}" if self.pid is not None else "the engine"
        return f"{pid} on {self.data_dir}" if self.data_dir else pid


@dataclass(frozen=True, slots=True)
class BadgePart:
    text: str
    tone: BadgeTone


def link_badge(view: LinkView, now: float) -> tuple[BadgePart, ...]:
    """The header's link badge; empty for an embedded console. `now` is monotonic time."""
    parts: list[BadgePart] = []
    phase = view.phase
    if phase is LinkPhase.EMBEDDED:
        return ()
    if phase is LinkPhase.ATTACHED:
        pid = f" pid {view.pid}" if view.pid is not None else ""
        parts.append(BadgePart(f"ATTACHED{pid}", BadgeTone.ATTACHED))
    elif phase is LinkPhase.CONNECTING:
        parts.append(BadgePart("connecting to the engine", BadgeTone.DOWN))
    else:
        parts.append(BadgePart(_down_text(view, now), BadgeTone.DOWN))
    if view.read_only:
        parts.append(BadgePart("READ-ONLY", BadgeTone.READ_ONLY))
    return tuple(parts)


def _down_text(view: LinkView, now: float) -> str:
    kept = ", last picture kept" if view.attaches else ""
    if view.phase is LinkPhase.CUT_OFF:
        return f"cut off{f' ({view.detail})' if view.detail else ''} — re-attaching{kept}"
    if view.phase is LinkPhase.REFUSED:
        return f"refused: {view.detail or 'the engine said no'} — retrying"
    gone = max(0, int(now - view.since))
    return f"engine gone {gone} s — reconnecting{kept}"

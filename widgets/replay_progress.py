"""One line of a replay's progress: its phase, ticks done (of the total, when known), feed time,
and, unless hidden, the wall-clock figures (ticks/s, elapsed)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from rich.text import Text
from textual.widget import Widget

from widgets.format import ist_hms

BAR_WIDTH = 20
BAR_FULL = "█"
BAR_EMPTY = "░"


class Phase(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    REPORTING = "reporting"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_over(self) -> bool:
        return self in (Phase.FINISHED, Phase.FAILED, Phase.CANCELLED)


@dataclass(frozen=True, slots=True)
class Progress:
    phase: Phase
    ticks: int = 0
    total: int | None = None  # ticks in the file, once counted
    first_ts: float = 0.0  # feed time of the first tick replayed
    feed_ts: float = 0.0  # feed time of the latest tick replayed
    elapsed_s: float | None = None  # wall-clock seconds; None hides every timing figure


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = min(done * width // total, width) if total > 0 else 0
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


def progress_parts(progress: Progress) -> list[tuple[str, str]]:
    """(text, component class) pieces of the line, in order."""
    phase = progress.phase
    parts: list[tuple[str, str]] = [(f" {phase.value.upper()} ", f"replay-progress--{phase.value}")]
    if phase is Phase.STARTING:
        return parts
    ticks = progress.ticks
    total = progress.total
    if total is not None and total > 0 and not phase.is_over:
        share = min(ticks / total, 1.0)
        parts.append((f" {ticks:,} of {total:,} ticks ", ""))
        parts.append((bar(ticks, total), "replay-progress--bar"))
        parts.append((f" {share:4.0%} ", ""))
    else:
        parts.append((f" {ticks:,} ticks ", ""))
    if progress.feed_ts > 0:
        span = ist_hms(progress.feed_ts)
        if phase.is_over and progress.first_ts > 0:
            span = f"{ist_hms(progress.first_ts)}-{span}"
        parts.append((f" feed {span} IST ", "replay-progress--dim"))
    elapsed = progress.elapsed_s
    if elapsed is not None and ticks:
        rate = ticks / elapsed if elapsed > 0 else 0.0
        parts.append((f" {rate:,.0f} ticks/s  {elapsed:.2f} s ", "replay-progress--dim"))
    return parts


class ReplayProgress(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"replay-progress--{phase.value}" for phase in Phase),
        "replay-progress--bar",
        "replay-progress--dim",
    }

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.progress = Progress(Phase.STARTING)

    def show(self, progress: Progress) -> None:
        if progress != self.progress:
            self.progress = progress
            self.refresh()

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        for text, name in progress_parts(self.progress):
            line.append(text, self.get_component_rich_style(name, partial=True) if name else None)
        return line

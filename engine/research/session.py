"""A replay as data (`ReplayJob`) and the research switches, so the CLI, sweep workers and the
TUI's replay screen all run a replay the same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.instruments import InstrumentRegistry
from engine.market.tick_files import read_ticks
from engine.research.replay import DEFAULT_SAMPLE_INTERVAL_S, ReplayResult, run_replay
from engine.research.selection import select_strategies
from engine.settings import FillPrice, Settings


@dataclass(frozen=True, slots=True)
class ResearchOptions:
    """What a researcher may switch off or change relative to live paper trading."""

    slippage: bool = True
    charges: bool = True
    fill_price: FillPrice | None = None  # None: as settings.paper.fill_price

    def apply(self, settings: Settings) -> Settings:
        """A copy of `settings` with these switches applied."""
        paper = settings.paper
        if not self.slippage:
            paper = paper.model_copy(update={"slippage_bps": 0.0})
        if self.fill_price is not None:
            paper = paper.model_copy(update={"fill_price": self.fill_price})
        charges = settings.charges
        if not self.charges:
            charges = charges.model_copy(update={"enabled": False})
        return settings.model_copy(update={"paper": paper, "charges": charges})

    def describe(self, settings: Settings) -> str:
        applied = self.apply(settings)
        charges = "on" if applied.charges.enabled else "off"
        return (
            f"slippage {applied.paper.slippage_bps:g} bps, charges {charges}, "
            f"fill at {applied.paper.fill_price.value}"
        )


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """One replay: a tick file, the strategy (None = every enabled one), its params as text."""

    path: Path
    strategy: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    start: float | None = None  # feed time, epoch seconds; ticks before are skipped
    end: float | None = None  # ticks at or after are skipped
    sample_interval_s: float = DEFAULT_SAMPLE_INTERVAL_S


def run_job(
    settings: Settings, job: ReplayJob, instruments: InstrumentRegistry | None = None
) -> ReplayResult:
    """Select the strategies, stream the file's ticks through a ReplayDriver, return the result."""
    known = instruments if instruments is not None else InstrumentRegistry.sample()
    strategies = select_strategies(settings, known, job.strategy, job.params)
    ticks = read_ticks(job.path, known, job.start, job.end)
    return run_replay(settings, strategies, ticks, known, sample_interval_s=job.sample_interval_s)


REPORTS_DIR_NAME = "reports"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=-")


def _safe(text: str) -> str:
    return "".join(c if c in _SAFE else "_" for c in text)


def default_report_dir(
    settings: Settings,
    path: Path,
    strategy: str | None,
    params: Mapping[str, object] | None = None,
    *,
    sweep: bool = False,
) -> Path:
    """`<data_dir>/reports/<file stem>-<strategy>[-<k=v>...][-sweep]`: no timestamp, so a rerun
    of the same replay overwrites its own report and nothing else."""
    parts = [path.stem, strategy or "all-strategies"]
    parts.extend(f"{k}={v}" for k, v in (params or {}).items())
    if sweep:
        parts.append("sweep")
    return settings.data_dir / REPORTS_DIR_NAME / _safe("-".join(parts))

"""Kite's instruments dumps: downloaded per exchange, cached in the data dir, refreshed once a trading day.

Kite publishes each day's dump early in the morning (`zerodha.instruments_published`,
08:30 IST by default, before the 09:00 pre-open). A cached dump is fresh when it was
fetched after the latest publication: the publication time of the latest trading day
whose publication has passed. So a dump fetched on Friday at 09:00 serves the weekend
and Monday until 08:30; one fetched on Monday at 08:00 (before the day's dump is out)
is fetched again once, after 08:30. The fetch time is the cached file's modification
time, which the atomic write sets.

Each exchange's dump is one CSV (`instruments_dir/NSE.csv`), replaced only by a
download that parses in full, so a bad answer never spoils a good cache. Offline,
the cached dumps are used however old; an exchange never downloaded falls back to
the shipped sample's rows for it (NSE only), and the reason is logged.

The engine builds its instruments from the dumps when its feed is Kite's; a simulated
or replayed feed keeps the shipped sample, whose prices seed the simulator.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from engine.instruments import (
    Instrument,
    InstrumentRegistry,
    parse_instrument_rows,
    read_instruments_csv,
)
from engine.market.calendar import IST, MarketCalendar
from engine.settings import FeedSource, Settings
from engine.zerodha.broker_session import BrokerSession, now_ist
from engine.zerodha.errors import BrokerError
from engine.zerodha.session import SessionStore

if TYPE_CHECKING:
    from engine.zerodha.rest import KiteRest

log = logging.getLogger(__name__)

DUMP_SUFFIX = ".csv"
REQUIRED_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "tick_size", "lot_size", "segment")


class DumpError(ValueError):
    """A downloaded dump that is not an instruments CSV; the cache is left as it was."""


@dataclass(frozen=True, slots=True)
class CachedDump:
    exchange: str
    path: Path
    fetched_at: datetime  # IST


@dataclass(slots=True)
class RefreshResult:
    downloaded: dict[str, int] = field(default_factory=dict)  # exchange -> instruments in its new dump
    failed: dict[str, str] = field(default_factory=dict)  # exchange -> why it was not refreshed
    fresh: list[str] = field(default_factory=list)  # already fetched after the latest publication


def parse_dump(text: str, exchange: str) -> list[Instrument]:
    """Every instrument of a dump; DumpError when it is not one (an HTML page, a truncated file)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or [])]
    if missing:
        raise DumpError(f"the {exchange} instruments dump has no {', '.join(missing)} column")
    try:
        instruments = list(parse_instrument_rows(reader, f"{exchange} dump"))
    except ValueError as exc:
        raise DumpError(str(exc)) from None
    if not instruments:
        raise DumpError(f"the {exchange} instruments dump is empty")
    return instruments


def _age(seconds: float) -> str:
    if seconds < 90:
        return "just now"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


class InstrumentsDump:
    def __init__(
        self,
        directory: Path,
        exchanges: Sequence[str],
        *,
        published: time = time(8, 30),
        calendar: MarketCalendar | None = None,
        now: Callable[[], datetime] = now_ist,
    ) -> None:
        self.directory = directory
        self.exchanges = [e.upper() for e in exchanges]
        self.published = published
        self.calendar = calendar or MarketCalendar()
        self._now = now
        self.fallback_reason = ""  # why load() fell back, in part or in full, to the sample
        self._counts: dict[Path, tuple[int, int]] = {}  # path -> (mtime_ns, instruments)

    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        calendar: MarketCalendar | None = None,
        now: Callable[[], datetime] = now_ist,
    ) -> InstrumentsDump:
        z = settings.zerodha
        return cls(
            settings.instruments_dir,
            z.exchanges,
            published=z.instruments_published,
            calendar=calendar,
            now=now,
        )

    def now(self) -> datetime:
        return self._now()

    # -- the cache ------------------------------------------------------------------
    def path(self, exchange: str) -> Path:
        return self.directory / f"{exchange.upper()}{DUMP_SUFFIX}"

    def cached(self, exchange: str) -> CachedDump | None:
        path = self.path(exchange)
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        return CachedDump(exchange.upper(), path, datetime.fromtimestamp(mtime, IST))

    def latest_publication(self) -> datetime:
        """When the dump a fresh cache must postdate was published."""
        now = self._now().astimezone(IST)
        day = now.date()
        while True:
            at = datetime.combine(day, self.published, IST)
            if at <= now and self.calendar.is_trading_day(day):
                return at
            day -= timedelta(days=1)

    def next_publication(self) -> datetime:
        """When the next day's dump comes out (after which the cache is stale)."""
        now = self._now().astimezone(IST)
        day = now.date()
        while True:
            at = datetime.combine(day, self.published, IST)
            if at > now and self.calendar.is_trading_day(day):
                return at
            day += timedelta(days=1)

    def is_fresh(self, exchange: str) -> bool:
        dump = self.cached(exchange)
        return dump is not None and dump.fetched_at >= self.latest_publication()

    def stale(self) -> list[str]:
        return [e for e in self.exchanges if not self.is_fresh(e)]

    def save(self, exchange: str, text: str) -> int:
        """Check a downloaded dump parses, then replace the cached one atomically; its instrument count."""
        count = len(parse_dump(text, exchange))
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(exchange)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return count

    # -- download -------------------------------------------------------------------
    async def refresh(self, rest: KiteRest, *, force: bool = False) -> RefreshResult:
        """Download the stale dumps (every one with `force`); a failure keeps that exchange's cache."""
        result = RefreshResult()
        for exchange in self.exchanges:
            if not force and self.is_fresh(exchange):
                result.fresh.append(exchange)
                continue
            try:
                text = await rest.instruments_csv(exchange)
                result.downloaded[exchange] = self.save(exchange, text)
            except (BrokerError, DumpError, OSError) as exc:
                why = exc.message if isinstance(exc, BrokerError) else str(exc)
                result.failed[exchange] = why
                log.warning(
                    "the %s instruments dump was not refreshed: %s; %s", exchange, why, self._kept(exchange)
                )
            else:
                log.info(
                    "downloaded the %s instruments dump: %d instruments",
                    exchange,
                    result.downloaded[exchange],
                )
        return result

    def _kept(self, exchange: str) -> str:
        dump = self.cached(exchange)
        if dump is not None:
            return f"using the one fetched {dump.fetched_at:%Y-%m-%d %H:%M} IST"
        return "using the shipped sample instruments"

    # -- load -----------------------------------------------------------------------
    def load(self, *, announce: bool = True) -> InstrumentRegistry:
        """The registry from the cached dumps, with the sample standing in for any exchange without one.

        `announce`: log why the sample stands in (not for a tool that reports it otherwise).
        """
        instruments: list[Instrument] = []
        missing: list[str] = []
        for exchange in self.exchanges:
            dump = self.cached(exchange)
            if dump is None:
                missing.append(exchange)
                continue
            try:
                instruments.extend(read_instruments_csv(dump.path))
            except (OSError, ValueError) as exc:
                log.warning("the cached %s instruments dump is unreadable (%s)", exchange, exc)
                missing.append(exchange)
        self.fallback_reason = ""
        if missing:
            sample = [i for i in InstrumentRegistry.sample() if i.exchange in missing]
            instruments.extend(sample)
            self.fallback_reason = (
                f"no instruments dump for {', '.join(missing)} yet: "
                f"using the shipped sample's {len(sample)} instruments instead"
            )
            if announce:
                log.warning("%s", self.fallback_reason)
        return InstrumentRegistry(instruments)

    # -- for doctor -----------------------------------------------------------------
    def describe(self) -> tuple[bool, str]:
        """(all fresh, one line per exchange joined): what is cached, how old, how many instruments."""
        now = self._now()
        parts: list[str] = []
        fresh = True
        for exchange in self.exchanges:
            dump = self.cached(exchange)
            if dump is None:
                fresh = False
                parts.append(f"{exchange}: not downloaded yet (the shipped sample stands in)")
                continue
            age = _age((now - dump.fetched_at).total_seconds())
            count = self._count(dump.path)
            stale = not self.is_fresh(exchange)
            fresh = fresh and not stale
            parts.append(
                f"{exchange}: {count:,} instruments fetched {dump.fetched_at:%Y-%m-%d %H:%M} IST ({age})"
                + ("; refreshed at the next start" if stale else "")
            )
        return fresh, "; ".join(parts)

    def _count(self, path: Path) -> int:
        try:
            mtime = path.stat().st_mtime_ns
            known = self._counts.get(path)
            if known is not None and known[0] == mtime:
                return known[1]
            count = max(0, path.read_bytes().count(b"\n") - 1)
        except OSError:
            return 0
        self._counts[path] = (mtime, count)
        return count


def uses_dump(settings: Settings) -> bool:
    """The engine's instruments come from Kite's dumps when its ticks do."""
    return settings.zerodha.enabled and settings.feed.source is FeedSource.ZERODHA


def rest_for(settings: Settings) -> KiteRest:
    """A REST client on the saved session, for use before (or without) an engine."""
    from engine.zerodha.rest import KiteRest  # the client library loads slowly: only when Kite is used

    z = settings.zerodha
    api_key = z.api_key.get_secret_value() if z.api_key is not None else ""
    return KiteRest(z, BrokerSession(SessionStore(settings.kite_session_file), api_key))


async def prepare_instruments(settings: Settings, rest: KiteRest | None = None) -> RefreshResult | None:
    """Before the engine is built: bring stale dumps up to date, bounded by `zerodha.instruments_timeout_s`.

    Never raises for Kite's sake: whatever could not be downloaded is logged, and the
    engine then loads what is cached (or the sample).
    """
    if not uses_dump(settings):
        return None
    dump = InstrumentsDump.for_settings(settings)
    if not dump.stale():
        return RefreshResult(fresh=list(dump.exchanges))
    try:
        return await asyncio.wait_for(
            dump.refresh(rest or rest_for(settings)), settings.zerodha.instruments_timeout_s
        )
    except TimeoutError:
        log.warning(
            "the instruments dumps did not arrive within %.0f s: using the cached ones (or the sample)",
            settings.zerodha.instruments_timeout_s,
        )
        return RefreshResult(failed={e: "timed out" for e in dump.stale()})


def engine_instruments(settings: Settings, *, announce: bool = True) -> InstrumentRegistry:
    """The engine's instruments: the cached dumps (or their fallback) for Kite's feed, else the sample."""
    if uses_dump(settings):
        return InstrumentsDump.for_settings(settings).load(announce=announce)
    return InstrumentRegistry.sample()

"""The health checks: database, disk, pipeline flow, market status, broker session, Redis, config.

Each check looks at the real thing (a round trip, a syscall, the bus's own
counters) and says what it saw; none reports OK on a guess.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from engine.bus.base import Bus
from engine.clock import Clock
from engine.health.registry import CheckResult, CheckStatus, HealthCheck
from engine.market.calendar import MarketCalendar
from engine.settings import Settings, ZerodhaSettings
from engine.storage.database import Database
from engine.storage.url import redact_url
from engine.storage.writer import StorageWriter
from engine.zerodha.broker_session import BrokerSession, SessionState

if TYPE_CHECKING:
    from engine.zerodha.instruments_dump import InstrumentsDump

MAX_MESSAGE_CHARS = 300
LOG_IN = "run `alpha-panda-tui login` (or press b in the console)"


def _result(
    check: HealthCheck, status: CheckStatus, message: str, details: dict[str, Any] | None = None
) -> CheckResult:
    return CheckResult(check.name, status, message, check.critical, details or {})


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    first_line = str(cause).splitlines()[0] if str(cause) else ""
    text = f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__
    return text[:MAX_MESSAGE_CHARS]


class DatabaseCheck:
    name = "database"

    def __init__(self, db: Database, *, critical: bool = True) -> None:
        self.db = db
        self.critical = critical

    async def check(self) -> CheckResult:
        details: dict[str, Any] = {"url": self.db.safe_url, "dialect": self.db.dialect}
        started = time.perf_counter()
        try:
            await self.db.ping()
        except Exception as exc:
            error = self.db.redact(_error_text(exc))
            message = f"{self.db.dialect} unreachable at {self.db.safe_url}: {error}"
            return _result(self, CheckStatus.FAIL, message, details)
        latency_ms = (time.perf_counter() - started) * 1000
        details["latency_ms"] = round(latency_ms, 2)
        if not self.db.connected:
            message = f"{self.db.dialect} reachable but not opened by the engine (schema not migrated yet)"
            return _result(self, CheckStatus.WARN, message, details)
        return _result(self, CheckStatus.OK, f"{self.db.dialect} answers in {latency_ms:.1f} ms", details)


class StorageWriterCheck:
    """The database can answer a ping and still refuse writes; this watches the writes."""

    name = "storage writes"

    def __init__(self, writer: StorageWriter, *, max_pending: int = 10_000, critical: bool = True) -> None:
        self.writer = writer
        self.max_pending = max_pending
        self.critical = critical

    async def check(self) -> CheckResult:
        w = self.writer
        details: dict[str, Any] = {
            "written": w.written,
            "pending": w.pending,
            "journaled": w.journaled,
            "failures": w.failures,
            "rejected": w.rejected,
        }
        fills = w.fill_journal
        if w.journal_error or (fills is not None and fills.failures):
            error = w.journal_error or (fills.last_error if fills is not None else "")
            return _result(
                self,
                CheckStatus.FAIL,
                f"journal on disk cannot be written ({error}); {w.in_memory} events held only in memory"
                + (f"; database writes failing: {w.last_error}" if w.consecutive_failures else ""),
                details,
            )
        if w.consecutive_failures:
            failing_for = time.monotonic() - (w.failing_since or time.monotonic())
            return _result(
                self,
                CheckStatus.FAIL,
                f"writes failing for {failing_for:.0f} s ({w.consecutive_failures} attempts), "
                f"{w.pending} events kept for retry ({w.journaled} in the journal on disk): {w.last_error}",
                details,
            )
        if w.pending > self.max_pending:
            return _result(
                self,
                CheckStatus.WARN,
                f"{w.pending} events waiting to be written (limit {self.max_pending})",
                details,
            )
        message = f"{w.written} events written, {w.pending} pending"
        if w.rejected:
            message += f"; {w.rejected} unstorable events dropped"
            return _result(self, CheckStatus.WARN, message, details)
        return _result(self, CheckStatus.OK, message, details)


class DiskSpaceCheck:
    name = "disk space"

    def __init__(self, path: Path, min_free_mb: float, *, critical: bool = True) -> None:
        self.path = Path(path)
        self.min_free_mb = min_free_mb
        self.critical = critical

    def _existing(self) -> Path:
        # the data dir may not exist yet; its nearest existing parent is on the same disk
        path = self.path.expanduser().absolute()
        while not path.exists() and path != path.parent:
            path = path.parent
        return path

    async def check(self) -> CheckResult:
        path = self._existing()
        usage = await asyncio.to_thread(shutil.disk_usage, path)
        free_mb = usage.free / 1_048_576
        details = {
            "path": str(self.path),
            "free_mb": round(free_mb, 1),
            "total_mb": round(usage.total / 1_048_576, 1),
            "min_free_mb": self.min_free_mb,
        }
        message = f"{free_mb:,.0f} MB free for {self.path}"
        if free_mb < self.min_free_mb:
            return _result(
                self,
                CheckStatus.FAIL,
                f"{message}; below the {self.min_free_mb:,.0f} MB minimum",
                details,
            )
        if free_mb < 2 * self.min_free_mb:
            return _result(
                self,
                CheckStatus.WARN,
                f"{message}; close to the {self.min_free_mb:,.0f} MB minimum",
                details,
            )
        return _result(self, CheckStatus.OK, message, details)


@dataclass(slots=True)
class _StageMark:
    inflow: int = 0
    consumed: int = 0  # handled, dead-lettered, or skipped as a duplicate
    dead_letters: int = 0
    conflated: int = 0


class PipelineFlowCheck:
    """Per stage (a consumer group): last event age, delivered, backlog, dead letters, conflated.

    FAIL when a stage dead-lettered events since the last check. WARN, with the
    numbers, on overload: a stage's backlog over `max_backlog`, ticks conflated
    since the last check, or the bus holding ticks back while other events
    drain. WARN too when events arrived on a stage's topics since the last check
    but it handled none of them and has been silent for `max_silence_s` (a stuck
    stage). A quiet stage whose topics are quiet too (a closed market,
    strategies that did not signal) is fine.
    """

    name = "pipeline"

    def __init__(
        self,
        bus: Bus,
        stages: Mapping[str, str],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_silence_s: float = 30.0,
        max_backlog: int = 5_000,
        critical: bool = True,
    ) -> None:
        self.bus = bus
        self.stages = dict(stages)
        self.monotonic = monotonic
        self.max_silence_s = max_silence_s
        self.max_backlog = max_backlog
        self.critical = critical
        self._marks = {label: _StageMark() for label in self.stages}
        self._tick_holds = 0

    async def check(self) -> CheckResult:
        now = self.monotonic()
        statuses: list[CheckStatus] = []
        problems: list[str] = []
        details: dict[str, Any] = {}
        published = self.bus.stats.published
        for label, group in self.stages.items():
            stats = self.bus.stats.groups.get(group)
            if stats is None:
                statuses.append(CheckStatus.FAIL)
                problems.append(f"{label}: consumer group {group!r} is not subscribed")
                details[label] = {"group": group, "subscribed": False}
                continue
            mark = self._marks[label]
            inflow = sum(published.get(topic, 0) for topic in stats.topics)
            arrived = inflow - mark.inflow
            consumed = stats.delivered + stats.dead_lettered + stats.duplicates
            handled = consumed - mark.consumed
            new_dead = stats.dead_lettered - mark.dead_letters
            new_conflated = stats.conflated - mark.conflated
            self._marks[label] = _StageMark(inflow, consumed, stats.dead_lettered, stats.conflated)
            age = now - stats.last_event_at if stats.last_event_at else None
            backlog = self.bus.group_backlog(group)
            details[label] = {
                "group": group,
                "last_event_age_s": None if age is None else round(age, 1),
                "delivered": stats.delivered,
                "backlog": backlog,
                "dead_letters": stats.dead_lettered,
                "conflated": stats.conflated,
            }
            if backlog > self.max_backlog:
                statuses.append(CheckStatus.WARN)
                problems.append(f"{label}: backlog {backlog} over the limit of {self.max_backlog}")
            if new_conflated > 0:
                statuses.append(CheckStatus.WARN)
                problems.append(
                    f"{label}: overloaded, {new_conflated} ticks conflated since the last check "
                    f"(backlog {backlog})"
                )
            if new_dead > 0:
                statuses.append(CheckStatus.FAIL)
                problems.append(f"{label}: {new_dead} new dead letters ({stats.dead_lettered} in all)")
            silent = age is None or age > self.max_silence_s
            if silent and arrived > 0 and handled <= 0:
                statuses.append(CheckStatus.WARN)
                silence = "never handled an event" if age is None else f"silent for {age:.0f} s"
                problems.append(f"{label}: {silence} while {arrived} events arrived")
        holds = self.bus.stats.tick_holds
        new_holds, self._tick_holds = holds - self._tick_holds, holds
        details["bus"] = {"event_backlog": self.bus.event_backlog(), "tick_holds": holds}
        if self.bus.ticks_held or new_holds > 0:
            statuses.append(CheckStatus.WARN)
            problems.append(
                f"ticks held back {new_holds} times since the last check so that queued events drain "
                f"({self.bus.event_backlog()} queued now)"
            )
        if CheckStatus.FAIL in statuses:
            status = CheckStatus.FAIL
        elif statuses:
            status = CheckStatus.WARN
        else:
            status = CheckStatus.OK
        message = "; ".join(problems) if problems else f"{len(self.stages)} stages flowing, no backlog"
        return _result(self, status, message, details)


class MarketStatusCheck:
    """Informative: open, or closed with the next open, or the holiday's name. Never critical."""

    name = "market"
    critical = False

    def __init__(self, calendar: MarketCalendar, clock: Clock) -> None:
        self.calendar = calendar
        self.clock = clock

    async def check(self) -> CheckResult:
        now = self.clock.now()
        status = self.calendar.status(now)
        return _result(
            self,
            CheckStatus.OK,
            f"NSE {self.calendar.describe(now)}",
            {"status": status.value},
        )


class BrokerSessionCheck:
    """Register only when Zerodha is enabled. Never shows a secret, only whether one is set.

    `session` is the engine's Kite session (the saved login; re-read here so a login in another
    terminal shows): absent, valid until 06:00 IST, or expired, and why. `verify`, when given, is a
    real round trip to Kite (e.g. the profile call) and its answer becomes the message.
    """

    name = "broker session"

    def __init__(
        self,
        settings: ZerodhaSettings,
        session: BrokerSession,
        *,
        verify: Callable[[], Awaitable[str]] | None = None,
        critical: bool = True,
    ) -> None:
        self.settings = settings
        self._session = session
        self._verify = verify
        self.critical = critical

    async def check(self) -> CheckResult:
        s = self.settings
        missing = [
            name
            for name, secret in (("api_key", s.api_key), ("api_secret", s.api_secret))
            if secret is None or not secret.get_secret_value()
        ]
        details: dict[str, Any] = {"live_orders": s.live_orders, "missing": missing}
        if missing:
            return _result(
                self,
                CheckStatus.FAIL,
                "no api_key/api_secret configured; set ALPHA_PANDA_ZERODHA__API_KEY and "
                "ALPHA_PANDA_ZERODHA__API_SECRET (or [zerodha] api_key/api_secret in config.toml)",
                details,
            )
        return await self._check_session(self._session, details)

    async def _check_session(self, session: BrokerSession, details: dict[str, Any]) -> CheckResult:
        session.reload()
        status = session.status()
        details["session"] = status.state.value
        if status.expires_at is not None:
            details["expires_at"] = status.expires_at.isoformat()
        if status.state is SessionState.ABSENT:
            why = f" ({status.reason})" if status.reason else ""
            return _result(self, CheckStatus.WARN, f"not logged in{why}: {LOG_IN}", details)
        if status.state is SessionState.EXPIRED:
            return _result(self, CheckStatus.WARN, f"session expired ({status.reason}): {LOG_IN}", details)
        if self._verify is None:
            return _result(self, CheckStatus.OK, status.describe(), details)
        suffix = f", {status.describe()}"
        try:
            who = await self._verify()
        except Exception as exc:
            return _result(
                self,
                CheckStatus.FAIL,
                f"Kite rejected the session ({_error_text(exc)}); log in again",
                details,
            )
        return _result(self, CheckStatus.OK, f"logged in as {who}{suffix}", details)


class RedisCheck:
    """PING. Register only when Redis is configured. Pass the engine's shared client when it has one."""

    name = "redis"

    def __init__(self, url: str, *, client: Redis | None = None, critical: bool = False) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self.critical = critical
        self._client = client
        self._owns_client = client is None

    def _redis(self) -> Redis:
        if self._client is None:
            self._client = Redis.from_url(self.url, socket_connect_timeout=2.0, socket_timeout=2.0)
        return self._client

    async def check(self) -> CheckResult:
        started = time.perf_counter()
        try:
            await self._redis().ping()
        except Exception as exc:
            return _result(
                self,
                CheckStatus.FAIL,
                f"unreachable at {self.safe_url}: {_error_text(exc)}",
                {"url": self.safe_url},
            )
        latency_ms = (time.perf_counter() - started) * 1000
        return _result(
            self,
            CheckStatus.OK,
            f"PONG in {latency_ms:.1f} ms",
            {"url": self.safe_url, "latency_ms": round(latency_ms, 2)},
        )

    async def close(self) -> None:
        """Close the client this check opened (never a shared one)."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None


class ConfigCheck:
    """Settings loaded (or we would not be here): where they came from."""

    name = "config"
    critical = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def check(self) -> CheckResult:
        s = self.settings
        path = s.config_file
        exists = path.exists()
        source = f"from {path}" if exists else f"defaults and environment ({path} not present)"
        return _result(
            self,
            CheckStatus.OK,
            f"settings loaded: {source}",
            {
                "config_file": str(path),
                "config_file_exists": exists,
                "data_dir": str(s.data_dir),
                "database": redact_url(s.database_url),
                "bus": s.bus.kind.value,
                "zerodha_enabled": s.zerodha.enabled,
            },
        )


_SECRET_ASSIGNMENT = re.compile(
    r"^\s*(?:export\s+)?[\w.\"'-]*(?:key|secret|token|passw)[\w\"'-]*\s*=\s*['\"]?[^\s'\"#]",
    re.IGNORECASE | re.MULTILINE,
)
_URL_PASSWORD = re.compile(r"://[^/\s:@'\"]+:[^@\s'\"]+@")


def holds_secrets(text: str) -> bool:
    """True if a config.toml or .env text sets a key/secret/token/password or a URL with a password."""
    return bool(_SECRET_ASSIGNMENT.search(text) or _URL_PASSWORD.search(text))


class SecretFilePermissionsCheck:
    """A config file that holds secrets must be readable by its owner only."""

    name = "secret files"
    critical = False

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = paths

    async def check(self) -> CheckResult:
        exposed: list[str] = []
        for path in self.paths:
            try:
                mode = path.stat().st_mode & 0o777
                if not mode & 0o077 or not holds_secrets(path.read_text(encoding="utf-8", errors="replace")):
                    continue
            except OSError:
                continue  # absent or unreadable: nothing for others to read here
            exposed.append(f"{path} holds secrets and is readable by group/others (mode {mode:04o})")
        if exposed:
            fix = " ".join(str(p) for p in self.paths if any(str(p) in e for e in exposed))
            return _result(
                self, CheckStatus.WARN, f"{'; '.join(exposed)}: run `chmod 600 {fix}`", {"exposed": exposed}
            )
        checked = ", ".join(p.name for p in self.paths)
        return _result(self, CheckStatus.OK, f"no secrets readable by other users ({checked})")


class InstrumentsDumpCheck:
    """Kite's instruments dumps: which exchanges are cached, how old, whether the day's is in."""

    name = "instruments"
    critical = False

    def __init__(self, dump: InstrumentsDump, *, in_use: bool = True) -> None:
        self.dump = dump
        self.in_use = in_use  # the engine's instruments come from the dumps (Kite's feed)

    async def check(self) -> CheckResult:
        fresh, text = self.dump.describe()
        if not self.in_use:
            text += " (not used: the feed is not Kite's)"
        details: dict[str, Any] = {"exchanges": list(self.dump.exchanges), "fresh": fresh}
        return _result(self, CheckStatus.OK if fresh else CheckStatus.WARN, text, details)

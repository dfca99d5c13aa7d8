"""One registry of health checks. Nothing is ever reported healthy that was not checked:
a check that raises or does not answer in time is a FAIL carrying the error, and an
empty or never-run registry is SKIPPED, not OK."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from engine.events import HealthCheckView


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: CheckStatus
    message: str
    critical: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def view(self) -> HealthCheckView:
        """The form carried on EngineStatus events."""
        return HealthCheckView(
            name=self.name, status=self.status.value, message=self.message, critical=self.critical
        )


class HealthCheck(Protocol):
    name: str
    critical: bool  # a critical FAIL makes the whole engine unhealthy; others only warn

    async def check(self) -> CheckResult: ...


def overall(results: list[CheckResult]) -> CheckStatus:
    """FAIL if a critical check failed; WARN if anything else is not OK; SKIPPED if nothing ran."""
    ran = [r for r in results if r.status is not CheckStatus.SKIPPED]
    if not ran:
        return CheckStatus.SKIPPED
    if any(r.status is CheckStatus.FAIL and r.critical for r in ran):
        return CheckStatus.FAIL
    if any(r.status is not CheckStatus.OK for r in ran):
        return CheckStatus.WARN
    return CheckStatus.OK


def _error_text(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class HealthRegistry:
    def __init__(self) -> None:
        self._checks: dict[str, HealthCheck] = {}
        self.last_results: list[CheckResult] = []
        self.last_run_at: float = 0.0  # epoch seconds; 0 = never

    def register(self, check: HealthCheck) -> None:
        if check.name in self._checks:
            raise ValueError(f"a health check named {check.name!r} is already registered")
        self._checks[check.name] = check

    @property
    def checks(self) -> list[HealthCheck]:
        return list(self._checks.values())

    async def run_all(self, timeout_s: float = 3.0) -> list[CheckResult]:
        """Run every check concurrently, each bounded by `timeout_s`; results in registration order."""
        results = list(
            await asyncio.gather(*(self._run_one(check, timeout_s) for check in self._checks.values()))
        )
        self.last_results = results
        self.last_run_at = time.time()
        return results

    async def _run_one(self, check: HealthCheck, timeout_s: float) -> CheckResult:
        try:
            result = await asyncio.wait_for(check.check(), timeout_s)
        except TimeoutError:
            return CheckResult(
                check.name, CheckStatus.FAIL, f"no answer within {timeout_s:g} s", check.critical
            )
        except Exception as exc:
            message = f"check failed: {_error_text(exc)}"
            return CheckResult(check.name, CheckStatus.FAIL, message, check.critical)
        if not isinstance(result, CheckResult):
            return CheckResult(
                check.name,
                CheckStatus.FAIL,
                f"check returned {type(result).__name__}, not a CheckResult",
                check.critical,
            )
        return result

    def overall(self) -> CheckStatus:
        """The verdict of the last run (SKIPPED before the first)."""
        return overall(self.last_results)

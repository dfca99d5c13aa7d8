from __future__ import annotations

import asyncio

import pytest

from engine.health.registry import CheckResult, CheckStatus, HealthRegistry, overall


class Fixed:
    def __init__(self, name: str, status: CheckStatus, *, critical: bool = True) -> None:
        self.name = name
        self.status = status
        self.critical = critical

    async def check(self) -> CheckResult:
        return CheckResult(self.name, self.status, self.status.value, self.critical)


class Raises:
    name = "raises"
    critical = True

    async def check(self) -> CheckResult:
        raise ConnectionRefusedError("nobody home on port 1")


class NeverAnswers:
    name = "hangs"
    critical = False

    def __init__(self) -> None:
        self.cancelled = False

    async def check(self) -> CheckResult:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


class ReturnsNonsense:
    name = "nonsense"
    critical = True

    async def check(self) -> CheckResult:
        return "fine"  # type: ignore[return-value]


async def test_a_raising_check_is_a_failure_carrying_the_error() -> None:
    registry = HealthRegistry()
    registry.register(Fixed("ok", CheckStatus.OK))
    registry.register(Raises())
    ok, failed = await registry.run_all()
    assert ok.status is CheckStatus.OK
    assert failed.status is CheckStatus.FAIL
    assert failed.message == "check failed: ConnectionRefusedError: nobody home on port 1"
    assert registry.overall() is CheckStatus.FAIL


async def test_a_check_that_does_not_answer_in_time_fails_and_is_cancelled() -> None:
    registry = HealthRegistry()
    hang = NeverAnswers()
    registry.register(hang)
    [result] = await registry.run_all(timeout_s=0.05)
    assert (result.name, result.status, result.critical) == ("hangs", CheckStatus.FAIL, False)
    assert result.message == "no answer within 0.05 s"
    assert hang.cancelled


async def test_a_check_returning_something_else_is_not_taken_as_healthy() -> None:
    registry = HealthRegistry()
    registry.register(ReturnsNonsense())
    [result] = await registry.run_all()
    assert result.status is CheckStatus.FAIL
    assert "not a CheckResult" in result.message


async def test_nothing_run_is_not_healthy() -> None:
    registry = HealthRegistry()
    assert registry.overall() is CheckStatus.SKIPPED
    assert await registry.run_all() == []
    assert registry.overall() is CheckStatus.SKIPPED
    registry.register(Fixed("ok", CheckStatus.OK))
    assert registry.overall() is CheckStatus.SKIPPED  # registered, but not run yet
    await registry.run_all()
    assert registry.overall() is CheckStatus.OK
    assert registry.last_run_at > 0


def result(status: CheckStatus, critical: bool = True) -> CheckResult:
    return CheckResult("x", status, "", critical)


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([result(CheckStatus.OK), result(CheckStatus.OK, critical=False)], CheckStatus.OK),
        ([result(CheckStatus.OK), result(CheckStatus.FAIL, critical=False)], CheckStatus.WARN),
        ([result(CheckStatus.OK), result(CheckStatus.WARN)], CheckStatus.WARN),
        ([result(CheckStatus.WARN), result(CheckStatus.FAIL)], CheckStatus.FAIL),
        ([result(CheckStatus.SKIPPED), result(CheckStatus.OK)], CheckStatus.OK),
        ([result(CheckStatus.SKIPPED)], CheckStatus.SKIPPED),
        ([], CheckStatus.SKIPPED),
    ],
)
def test_overall_verdict(results: list[CheckResult], expected: CheckStatus) -> None:
    assert overall(results) is expected


def test_duplicate_names_are_refused() -> None:
    registry = HealthRegistry()
    registry.register(Fixed("db", CheckStatus.OK))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Fixed("db", CheckStatus.OK))


def test_result_view_for_engine_status() -> None:
    view = CheckResult("disk space", CheckStatus.WARN, "low", True, {"free_mb": 1.0}).view()
    assert (view.name, view.status, view.message, view.critical) == ("disk space", "warn", "low", True)

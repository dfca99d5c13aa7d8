"""cancel_and_wait: background tasks are cancelled, awaited, and their CancelledError swallowed."""

from __future__ import annotations

import asyncio

import pytest

from engine.tasks import cancel_and_wait


async def test_cancels_every_task_and_waits_until_each_has_ended() -> None:
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.01)  # cleanup that takes a moment must finish before we return
            cleaned.append(name)

    tasks = [asyncio.create_task(worker(n)) for n in ("a", "b", "c")]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks)
    assert sorted(cleaned) == ["a", "b", "c"]
    assert all(t.done() and t.cancelled() for t in tasks)


async def test_none_and_finished_tasks_are_fine() -> None:
    async def quick() -> int:
        return 1

    done = asyncio.create_task(quick())
    await done
    await cancel_and_wait(None, done, None)
    await cancel_and_wait()
    assert done.result() == 1


async def test_an_error_other_than_cancellation_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait(task)


async def test_all_are_cancelled_before_any_is_awaited() -> None:
    second_cancelled = asyncio.Event()

    async def first_task() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            # ends only once the second task was cancelled too: awaiting one at a time would hang here
            await second_cancelled.wait()
            raise

    async def second_task() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            second_cancelled.set()
            raise

    first = asyncio.create_task(first_task())
    second = asyncio.create_task(second_task())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(first, second), timeout=5.0)
    assert first.cancelled() and second.cancelled()

"""Ending background tasks: cancel them and wait until they have finished."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel every task (None is skipped), then wait for each to end.

    All are cancelled before any is awaited, so they wind down together. A
    task's own CancelledError is swallowed; any other error it ends with is
    raised. When the caller itself is cancelled while waiting, that
    cancellation is not swallowed: it propagates once the tasks have ended.
    """
    live = [task for task in tasks if task is not None]
    for task in live:
        task.cancel()
    for task in live:
        with contextlib.suppress(asyncio.CancelledError):
            await task

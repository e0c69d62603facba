"""Stopping background tasks without cutting a database or broker call in half."""

from __future__ import annotations

import asyncio
import contextlib


async def finish_or_cancel(task: asyncio.Task[None], timeout_s: float) -> None:
    """Wait for a task told to stop to finish its current work; cancel it only if it overruns `timeout_s`.

    Cancelling inside a driver call strands the connection (aiosqlite then reports into a closed loop)."""
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

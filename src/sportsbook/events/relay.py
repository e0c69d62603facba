"""The outbox relay: moves committed events from the outbox to the bus, at least once, in seq order."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from sportsbook.core.clock import Clock, SystemClock
from sportsbook.core.lifecycle import finish_or_cancel
from sportsbook.db.engine import Database
from sportsbook.events import outbox
from sportsbook.events.bus import EventBus

log = structlog.get_logger(__name__)


class OutboxRelay:
    """Publishes unpublished outbox rows in batches and marks them only once the bus has confirmed them.

    A failure (broker down, timeout) leaves the rows unpublished: the relay backs off and tries again, so
    an event can be published twice but never skipped. `wake()` lets a writer that just committed events
    have them published at once instead of at the next poll."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        poll_s: float = 0.5,
        batch: int = 500,
        max_backoff_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if batch < 1 or poll_s <= 0:
            raise ValueError("batch must be at least 1 and poll_s positive")
        self.db = db
        self.bus = bus
        self.poll_s = poll_s
        self.batch = batch
        self.max_backoff_s = max_backoff_s
        self.clock = clock or SystemClock()
        self._wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Ask the running relay to look at the outbox now."""
        self._wakeup.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="events-outbox-relay")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Stop relaying after the pass under way. What is left is published by the next relay to start."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            await finish_or_cancel(task, timeout_s)
        finally:
            self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def relay_once(self) -> int:
        """Publish one batch of the oldest unpublished events; returns how many. Raises if the bus did."""
        async with self._lock:
            if self.db.is_sqlite:
                return await self._relay_sqlite()
            return await self._relay_locked()

    async def _relay_locked(self) -> int:
        # The rows stay locked (FOR UPDATE SKIP LOCKED) while they are published, so relays in other
        # processes take the next rows instead of publishing these a second time.
        async with self.db.transaction() as conn:
            rows = await outbox.fetch_unpublished(conn, self.batch, lock=True)
            if not rows:
                return 0
            await self.bus.publish([r.event for r in rows])
            await outbox.delete_published(conn, [r.seq for r in rows])
        return len(rows)

    async def _relay_sqlite(self) -> int:
        # Read, publish, then mark in a short write transaction: holding SQLite's single write lock
        # while a broker confirms (or times out) would stall every writer of the platform.
        async with self.db.read() as conn:
            rows = await outbox.fetch_unpublished(conn, self.batch)
        if not rows:
            return 0
        await self.bus.publish([r.event for r in rows])
        async with self.db.transaction() as conn:
            await outbox.delete_published(conn, [r.seq for r in rows])
        return len(rows)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wakeup.clear()
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                delay = min(self.poll_s * 2**failures, self.max_backoff_s)
                log.exception("events.relay_failed", attempt=failures, retry_in_s=delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), delay)
                continue
            if failures:
                log.info("events.relay_recovered", after_attempts=failures)
                failures = 0
            if published >= self.batch:
                continue  # a full batch: more are probably waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)

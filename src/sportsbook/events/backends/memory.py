"""The in-process event bus of the embedded platform: a queue and a task per consumer.

Each consumer gets every matching event in publish order, one at a time; a handler that raises is retried
with backoff until it succeeds, so nothing is lost while the process lives. What is still queued when the
process ends is gone (the outbox rows are already marked published): the embedded platform trades that
for needing no broker, and production uses RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from sportsbook.events.bus import Handler, subscription_patterns
from sportsbook.events.model import Event, matches

log = structlog.get_logger(__name__)


@dataclass(eq=False)
class _Consumer:
    name: str
    patterns: tuple[str, ...]
    handler: Handler
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def wants(self, event_type: str) -> bool:
        return any(matches(p, event_type) for p in self.patterns)


class MemoryBus:
    """An EventBus inside one process, for the embedded default and for tests."""

    def __init__(self, *, retry_initial_s: float = 0.05, retry_max_s: float = 5.0, stop_timeout_s: float = 5.0) -> None:
        self._consumers: dict[str, _Consumer] = {}
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._stop_timeout_s = stop_timeout_s
        self._started = False
        self._stopped = False

    def subscribe(self, consumer: str, types: Sequence[str], handler: Handler, *, per_node: bool = False) -> None:
        """Register a consumer for event types ("*", "prefix.*" or exact). Call before start(). One process is
        one node, so `per_node` changes nothing here."""
        patterns = subscription_patterns(consumer, types, taken=self._consumers, started=self._started)
        self._consumers[consumer] = _Consumer(consumer, patterns, handler)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._stopped = False
        for c in self._consumers.values():
            c.task = asyncio.create_task(self._run(c), name=f"events-consumer-{c.name}")

    async def stop(self) -> None:
        """Give consumers a moment to finish what is queued, then stop them."""
        if not self._started:
            return
        self._stopped = True
        try:
            await asyncio.wait_for(self.drain(), self._stop_timeout_s)
        except TimeoutError:
            pending = {c.name: c.queue.qsize() for c in self._consumers.values() if c.queue.qsize()}
            log.warning("events.memory.stopped_with_backlog", pending=pending)
        for c in self._consumers.values():
            if c.task is not None:
                c.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await c.task
                c.task = None
        self._started = False

    async def publish(self, events: Sequence[Event]) -> None:
        """Queue each event for every consumer that wants it. Accepted once queued (in memory)."""
        if self._stopped:
            raise RuntimeError("the bus is stopped")
        for event in events:
            for c in self._consumers.values():
                if c.wants(event.type):
                    c.queue.put_nowait(event)

    async def drain(self) -> None:
        """Wait until every consumer has handled everything queued so far."""
        await asyncio.gather(*(c.queue.join() for c in self._consumers.values()))

    def is_healthy(self) -> bool:
        return self._started and all(c.task is not None and not c.task.done() for c in self._consumers.values())

    async def _run(self, consumer: _Consumer) -> None:
        while True:
            event = await consumer.queue.get()
            try:
                await self._deliver(consumer, event)
            finally:
                consumer.queue.task_done()

    async def _deliver(self, consumer: _Consumer, event: Event) -> None:
        # Retried in place rather than requeued at the back, so a consumer sees its events in order.
        delay = self._retry_initial_s
        attempt = 1
        while True:
            try:
                await consumer.handler(event)
                return
            except Exception:
                log.exception(
                    "events.handler_failed",
                    consumer=consumer.name,
                    event_id=str(event.id),
                    event_type=event.type,
                    attempt=attempt,
                    retry_in_s=delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._retry_max_s)
            attempt += 1

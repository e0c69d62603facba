"""Group commit: many concurrent requests, one transaction per batch.

One durable commit costs about as much for a hundred writes as for one, so a writer that gathers whatever
requests are waiting and commits them together is how a Python service goes past one-transaction-per-request
throughput. Callers await their own result as if they had the transaction to themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from sportsbook.core.lifecycle import finish_or_cancel
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, unit_of_work

Item = TypeVar("Item")
Res = TypeVar("Res")

log = structlog.get_logger("sportsbook.db.batching")

# PostgreSQL SQLSTATEs worth a retry: serialization failure, deadlock, unique violation from a racing writer
_RETRYABLE_SQLSTATES = {"40001", "40P01", "23505"}


def is_retryable(exc: BaseException) -> bool:
    """Whether running the same transaction again may succeed."""
    if isinstance(exc, OperationalError) and "locked" in str(exc).lower():
        return True
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return state in _RETRYABLE_SQLSTATES
    return False


@dataclass
class _Waiting(Generic[Item, Res]):
    item: Item
    future: asyncio.Future[Res]


class GroupCommitter(Generic[Item, Res]):
    """Runs `process(uow, items)` over batches of queued items, each batch in one unit of work (one write
    transaction), which it commits.

    `process` returns one result per item, in order. If a batch raises, it is retried when the error is
    transient, and otherwise each item runs alone so one bad item cannot fail its neighbours."""

    def __init__(
        self,
        db: Database,
        process: Callable[[UnitOfWork, Sequence[Item]], Awaitable[list[Res]]],
        *,
        max_batch: int = 500,
        name: str = "writer",
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.db = db
        self.process = process
        self.max_batch = max_batch
        self.name = name
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Waiting[Item, Res] | None] = asyncio.Queue()  # None: stop
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"group-commit:{self.name}")

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Commit what is already queued, then stop. Later submissions run in transactions of their own."""
        task, self._task = self._task, None
        if task is None:
            return
        self._queue.put_nowait(None)
        await finish_or_cancel(task, timeout_s)
        while not self._queue.empty():
            waiting = self._queue.get_nowait()
            if waiting is not None and not waiting.future.done():
                waiting.future.set_exception(RuntimeError(f"{self.name} stopped"))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def submit(self, item: Item) -> Res:
        """Queue one item and wait for its result (its transaction has committed when this returns)."""
        if not self.running:
            # Not started (a one-off command, a test): run it in a transaction of its own.
            return (await self._commit([item]))[0]
        future: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Waiting(item, future))
        return await future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                waiting = self._queue.get_nowait()
                if waiting is None:
                    stopping = True
                    break
                batch.append(waiting)
            await self._settle(batch)

    async def _settle(self, batch: list[_Waiting[Item, Res]]) -> None:
        try:
            results = await self._commit_with_retry([w.item for w in batch])
        except asyncio.CancelledError:
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(RuntimeError(f"{self.name} stopped"))
            raise
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return
            log.warning("group_commit_batch_failed", writer=self.name, size=len(batch), error=repr(exc))
            for w in batch:  # isolate the bad item: everyone else still commits
                await self._settle([w])
            return
        for w, r in zip(batch, results, strict=True):
            if not w.future.done():
                w.future.set_result(r)

    async def _commit_with_retry(self, items: list[Item]) -> list[Res]:
        delay = 0.002
        for attempt in range(5):
            try:
                return await self._commit(items)
            except Exception as exc:
                if attempt == 4 or not is_retryable(exc):
                    raise
                await asyncio.sleep(delay)
                delay *= 4
        raise AssertionError("unreachable")

    async def _commit(self, items: list[Item]) -> list[Res]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with unit_of_work(self.db) as uow:
            results = await self.process(uow, items)
        if self.on_batch is not None:
            self.on_batch(len(items), loop.time() - started)
        return results

"""The unit of work: one database transaction and everything that takes part in it.

A use case opens one with `unit_of_work(db)` (it commits when the block ends, rolls back if it raises), or is
handed one: the group committer hands each batch its own, the Idempotency-Key's run hands one to the use case
whose answer it records. Inside, a feature reaches its store bound to the transaction with
`uow.store(Factory)` (a store's factory takes the connection and may pick a backend's writer by dialect, once
per transaction), and adds events to the outbox with `uow.outbox.add(...)`: they commit with the change they
describe. `after_commit` queues work that must wait for the commit (a read model catching up).

Features never hand connections to each other: a service that takes part in another's transaction takes the
unit of work, and reaches only its own store through it (the import rules forbid another feature's store)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.engine import Database
from sportsbook.events.outbox import outbox_of

S = TypeVar("S")


class UnitOfWork:
    """One open transaction: its stores, its outbox, and what runs once it commits."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self._stores: dict[Callable[[AsyncConnection], Any], Any] = {}
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self.outbox = outbox_of(conn)

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for stores: use cases reach the database through their store."""
        return self._conn

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    def store(self, factory: Callable[[AsyncConnection], S]) -> S:
        """The store that `factory` builds, bound to this transaction (built once per unit of work)."""
        found = self._stores.get(factory)
        if found is None:
            found = self._stores[factory] = factory(self._conn)
        return found

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: what the block wrote (and queued to run after commit) is undone if it raises,
        the rest stays. The stores are built afresh after such a rollback: none keeps state the database lost."""
        queued = len(self._after_commit)
        try:
            async with self._conn.begin_nested():
                yield
        except BaseException:
            del self._after_commit[queued:]
            self._stores.clear()
            raise

    async def committed(self) -> None:
        """Called by whoever committed the transaction: runs the after-commit work, in order."""
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            await callback()


@asynccontextmanager
async def unit_of_work(db: Database) -> AsyncIterator[UnitOfWork]:
    """A write transaction as a unit of work: commits when the block ends, rolls back if it raises."""
    async with db.transaction() as conn:
        uow = UnitOfWork(conn)
        yield uow
    await uow.committed()


@asynccontextmanager
async def reading(db: Database) -> AsyncIterator[UnitOfWork]:
    """A read-only unit of work: a consistent snapshot on SQLite, read committed on PostgreSQL."""
    async with db.read() as conn:
        yield UnitOfWork(conn)

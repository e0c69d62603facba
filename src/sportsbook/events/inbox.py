"""The inbox: consumer-side deduplication that turns at-least-once delivery into effectively-once handling.

A consumer records (consumer, event_id) in the same transaction as the effect of handling the event. The
primary key admits one row per pair, so a redelivered event, even one delivered twice at the same moment,
is applied once: the second insert finds the row (or waits for the first transaction and then finds it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import Clock, SystemClock
from sportsbook.db.engine import Database
from sportsbook.db.metadata import metadata
from sportsbook.events.bus import Handler
from sportsbook.events.model import Event

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.Uuid(), primary_key=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
)

TransactionalHandler = Callable[[AsyncConnection, Event], Awaitable[None]]
"""A consumer's handler that does its work on the connection of the transaction it is given."""


async def first_delivery(conn: AsyncConnection, consumer: str, event_id: uuid.UUID, now: datetime) -> bool:
    """Record the event as handled by this consumer in the caller's transaction. False if it already was.

    ON CONFLICT DO NOTHING rather than catching the unique violation: on PostgreSQL a failed statement
    would abort the caller's whole transaction."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": now}
    stmt: sa.Insert
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(inbox).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(inbox).values(values).on_conflict_do_nothing()
    result = await conn.execute(stmt)
    return bool(result.rowcount == 1)


def deduplicated(db: Database, consumer: str, handle: TransactionalHandler, *, clock: Clock | None = None) -> Handler:
    """A bus handler that runs `handle` and the inbox record in one transaction and skips duplicates.

    The inbox row goes in first, so a concurrent duplicate waits on it (or, on SQLite, on the write lock)
    instead of doing the work in parallel. If `handle` raises, both roll back and the bus redelivers."""
    time = clock or SystemClock()

    async def handler(event: Event) -> None:
        async with db.transaction() as conn:
            if await first_delivery(conn, consumer, event.id, time.now()):
                await handle(conn, event)

    return handler


async def purge(conn: AsyncConnection, before: datetime, limit: int = 10_000) -> int:
    """Forget up to `limit` records processed before `before`; returns how many.

    Only safe for records older than any redelivery can be (the broker's retention): after that a
    duplicate would be applied again."""
    oldest = (
        sa.select(inbox.c.consumer, inbox.c.event_id)
        .where(inbox.c.processed_at < before)
        .order_by(inbox.c.processed_at)
        .limit(limit)
    )
    result = await conn.execute(inbox.delete().where(sa.tuple_(inbox.c.consumer, inbox.c.event_id).in_(oldest)))
    return int(result.rowcount)

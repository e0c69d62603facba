"""The transactional outbox: events stored in the same transaction as the change they describe.

A feature calls `add(conn, events)` inside its own transaction, so an event exists if and only if its
change committed. The relay (relay.py) later publishes unpublished rows in seq order and marks them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import utc
from sportsbook.db.engine import driver_connection
from sportsbook.db.metadata import BigIntKey, metadata
from sportsbook.events.model import Event

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("seq", BigIntKey, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid(), nullable=False),  # random: no index (consumers deduplicate by it)
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An event waiting in the outbox, with its position."""

    seq: int
    event: Event


_COPY_COLUMNS = ["event_id", "type", "version", "key", "payload", "occurred_at"]


class Announced(Protocol):
    """A typed domain event (a class per event and version) that knows its wire form."""

    def to_event(self) -> Event: ...


class Outbox:
    """The outbox of one transaction (a unit of work's): what is added commits or rolls back with it.
    SQLAlchemy Core on any backend; `outbox_of` builds PostgreSQL's own."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, events: Sequence[Event | Announced]) -> None:
        wire = [e if isinstance(e, Event) else e.to_event() for e in events]
        if wire:
            await self._insert(wire)

    async def _insert(self, events: Sequence[Event]) -> None:
        await self.conn.execute(
            outbox.insert(),
            [
                {
                    "event_id": e.id,
                    "type": e.type,
                    "version": e.version,
                    "key": e.key,
                    "payload": e.payload,
                    "occurred_at": e.occurred_at,
                }
                for e in events
            ],
        )


class PostgresOutbox(Outbox):
    """COPY through the driver: hot paths (a bet.placed per bet) add thousands of events a second."""

    async def _insert(self, events: Sequence[Event]) -> None:
        pg = await driver_connection(self.conn)
        records = [(e.id, e.type, e.version, e.key, orjson.dumps(e.payload).decode(), e.occurred_at) for e in events]
        await pg.copy_records_to_table("outbox", records=records, columns=_COPY_COLUMNS)


def outbox_of(conn: AsyncConnection) -> Outbox:
    """The outbox for this connection's backend (a unit of work builds it once per transaction)."""
    return PostgresOutbox(conn) if conn.dialect.name == "postgresql" else Outbox(conn)


async def add(conn: AsyncConnection, events: Sequence[Event]) -> None:
    """Store events in the caller's open transaction, for code that holds a connection and no unit of work
    (the relay's tests, tools)."""
    await outbox_of(conn).add(events)


async def fetch_unpublished(conn: AsyncConnection, limit: int, *, lock: bool = False) -> list[OutboxRow]:
    """The oldest unpublished events, in seq order.

    With `lock` on PostgreSQL the rows stay locked until the transaction ends, and rows another relay
    holds are skipped, so concurrent relays share the backlog instead of publishing the same rows.
    (SQLite has one writer at a time, so its write transaction already excludes other relays.)"""
    query = sa.select(outbox).order_by(outbox.c.seq).limit(limit)
    if lock:  # SQLite renders no FOR UPDATE: its writer holds the whole file
        query = query.with_for_update(skip_locked=True)
    result = await conn.execute(query)
    return [
        OutboxRow(
            seq=row.seq,
            event=Event(
                type=row.type,
                version=row.version,
                key=row.key,
                payload=row.payload,
                # asyncpg answers with its own UUID subclass, which orjson will not encode.
                id=uuid.UUID(bytes=row.event_id.bytes),
                occurred_at=utc(row.occurred_at),
            ),
        )
        for row in result
    ]


async def delete_published(conn: AsyncConnection, seqs: Sequence[int]) -> int:
    """Take the rows the bus confirmed out of the outbox, in one statement; returns how many were still there.
    A row lives only until it is published: deleting it costs the database one small WAL record, where marking
    it published rewrote the whole row and its index entries (and a purge deleted it later anyway)."""
    if not seqs:
        return 0
    result = await conn.execute(outbox.delete().where(outbox.c.seq.in_(list(seqs))))
    return int(result.rowcount)


async def backlog(conn: AsyncConnection) -> int:
    """How many events wait to be published (a metric and a readiness signal)."""
    result = await conn.execute(sa.select(sa.func.count()).select_from(outbox))
    return int(result.scalar_one())

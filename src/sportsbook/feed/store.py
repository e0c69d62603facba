"""The odds feed's tables (SQLAlchemy Core): what each producer last processed, the settlement messages applied
(so a resent one is applied once), and the messages that could not be decoded, kept for inspection."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.metadata import metadata

feed_producers = sa.Table(
    "feed_producers",
    metadata,
    sa.Column("adapter", sa.String(32), primary_key=True),
    sa.Column("producer", sa.String(32), primary_key=True),
    # the feed's time up to which everything was processed: a restart asks for a recovery from here
    sa.Column("last_good", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

feed_applied = sa.Table(
    "feed_applied",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # sha256 of the message's identity
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("event", sa.String(100), nullable=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

feed_rejects = sa.Table(
    "feed_rejects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("adapter", sa.String(32), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("routing_key", sa.String(255), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sa.Index("ix_feed_rejects_received_at", "received_at"),
)

MAX_RAW = 1_000_000  # bytes of a rejected message kept: enough to read it, never a disk filled by one


class FeedStore:
    """The feed's rows, in the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def last_good(self, adapter: str) -> dict[str, datetime]:
        rows = await self.conn.execute(
            sa.select(feed_producers.c.producer, feed_producers.c.last_good).where(feed_producers.c.adapter == adapter)
        )
        return {r.producer: _utc(r.last_good) for r in rows}

    async def save_last_good(self, adapter: str, producer: str, last_good: datetime, now: datetime) -> None:
        values = {"adapter": adapter, "producer": producer, "last_good": last_good, "updated_at": now}
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        statement = insert(feed_producers).values(**values)
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=["adapter", "producer"], set_={"last_good": last_good, "updated_at": now}
            )
        )

    async def mark_applied(self, key: str, type_: str, event: str | None, now: datetime) -> bool:
        """Record a settlement message as applied; False when it was applied before (nothing written)."""
        insert = pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert
        statement = (
            insert(feed_applied)
            .values(key=key, type=type_, event=event, applied_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    async def reject(self, adapter: str, received_at: datetime, routing_key: str, reason: str, raw: bytes) -> None:
        await self.conn.execute(
            feed_rejects.insert().values(
                adapter=adapter,
                received_at=received_at,
                routing_key=routing_key[:255],
                reason=reason[:500],
                raw=raw[:MAX_RAW],
            )
        )

    async def prune_rejects(self, before: datetime) -> int:
        result = await self.conn.execute(feed_rejects.delete().where(feed_rejects.c.received_at < before))
        return int(result.rowcount or 0)

    async def rejects(self, limit: int = 100) -> list[tuple[datetime, str, str, bytes]]:
        """The newest rejected messages: (received_at, routing key, reason, raw bytes)."""
        rows = await self.conn.execute(
            sa.select(feed_rejects.c.received_at, feed_rejects.c.routing_key, feed_rejects.c.reason, feed_rejects.c.raw)
            .order_by(feed_rejects.c.id.desc())
            .limit(limit)
        )
        return [(_utc(r.received_at), r.routing_key, r.reason, bytes(r.raw)) for r in rows]


def _utc(value: datetime) -> datetime:
    """SQLite hands times back naive; they were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

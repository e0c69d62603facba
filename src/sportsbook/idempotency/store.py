"""The table of answered Idempotency-Keys (SQLAlchemy Core)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, PrimaryKeyConstraint, SmallInteger, String, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.metadata import metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer given to a key, and the fingerprint of the request it answered."""

    request_hash: str
    status: int
    body: dict[str, Any]


class IdempotencyStore:
    """The Idempotency-Key answers, in one transaction (the unit of work that records one with its effect)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lookup(self, scope: str, key: str) -> StoredAnswer | None:
        conn = self.conn
        row = (
            await conn.execute(
                select(idempotency_keys.c.request_hash, idempotency_keys.c.status, idempotency_keys.c.body).where(
                    idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
                )
            )
        ).first()
        return StoredAnswer(row.request_hash, int(row.status), dict(row.body)) if row else None

    async def save(self, scope: str, key: str, answer: StoredAnswer, now: datetime) -> None:
        conn = self.conn
        await conn.execute(
            idempotency_keys.insert().values(
                scope=scope,
                key=key,
                request_hash=answer.request_hash,
                status=answer.status,
                body=answer.body,
                created_at=now,
            )
        )

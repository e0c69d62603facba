"""The wallet's own table: the audit trail of staff adjustments (SQLAlchemy Core)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Index, String, Table, Uuid
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.metadata import metadata

adjustments = Table(
    "wallet_adjustments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("player_id", Uuid, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("staff_id", Uuid, nullable=False),
    Column("transfer_id", Uuid, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_wallet_adjustments_player", "player_id", "created_at"),
)


class WalletStore:
    """The wallet's audit table of staff adjustments, in one transaction (a unit of work's)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def insert_adjustment(
        self,
        *,
        adjustment_id: UUID,
        player_id: UUID,
        amount: int,
        currency: str,
        reason: str,
        staff_id: UUID,
        transfer_id: UUID,
        now: datetime,
    ) -> None:
        conn = self.conn
        await conn.execute(
            adjustments.insert().values(
                id=adjustment_id,
                player_id=player_id,
                amount=amount,
                currency=currency,
                reason=reason,
                staff_id=staff_id,
                transfer_id=transfer_id,
                created_at=now,
            )
        )

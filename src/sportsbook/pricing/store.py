"""The pricing margins staff set (SQLAlchemy Core): one row per (sport, market type), `*` for any."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.metadata import metadata

ANY = "*"

pricing_margins = sa.Table(
    "pricing_margins",
    metadata,
    sa.Column("sport", sa.String(40), primary_key=True),  # `*`: the default row
    sa.Column("market_type", sa.String(32), primary_key=True),  # `*` with sport `*`
    sa.Column("margin", sa.Numeric(6, 4), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.Uuid, nullable=True),
)


class PricingStore:
    """The margins, in the caller's transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def margins(self) -> dict[tuple[str, str], Decimal]:
        rows = await self.conn.execute(
            sa.select(pricing_margins.c.sport, pricing_margins.c.market_type, pricing_margins.c.margin)
        )
        return {(r.sport, r.market_type): Decimal(r.margin).normalize() for r in rows}  # 0.1000 is 0.1

    async def set_margin(self, sport: str, market_type: str, margin: Decimal | None, by: UUID, now: datetime) -> None:
        """Set one margin, or remove it (None: the default applies again)."""
        key = (pricing_margins.c.sport == sport) & (pricing_margins.c.market_type == market_type)
        await self.conn.execute(pricing_margins.delete().where(key))
        if margin is not None:
            await self.conn.execute(
                pricing_margins.insert().values(
                    sport=sport, market_type=market_type, margin=margin, updated_at=now, updated_by=by
                )
            )

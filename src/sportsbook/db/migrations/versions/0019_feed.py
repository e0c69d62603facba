"""The odds feed: what each producer last processed (`feed_producers`), the settlement messages applied
(`feed_applied`, so a message resent by a recovery applies once) and the messages that could not be decoded,
kept for inspection (`feed_rejects`).

Revision ID: 0019_feed
Revises: 0018_market_trader_override
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_feed"
down_revision = "0018_market_trader_override"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_producers",
        sa.Column("adapter", sa.String(32), primary_key=True),
        sa.Column("producer", sa.String(32), primary_key=True),
        sa.Column("last_good", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feed_applied",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("event", sa.String(100), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feed_rejects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("adapter", sa.String(32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routing_key", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_feed_rejects_received_at", "feed_rejects", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_feed_rejects_received_at", "feed_rejects")
    op.drop_table("feed_rejects")
    op.drop_table("feed_applied")
    op.drop_table("feed_producers")

"""Betting: settlement jobs. Settling, rolling back or cancelling a market's bets runs as a job in a worker, chunk
by chunk; each job's progress (the last bet id a chunk reached, counts and money) commits with its chunk.

Revision ID: 0013_settlement_jobs
Revises: 0012_outbox_without_published
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_settlement_jobs"
down_revision = "0012_outbox_without_published"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settlement_jobs",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("bets_total", sa.BigInteger, nullable=False),
        sa.Column("bets_done", sa.BigInteger, nullable=False),
        sa.Column("cursor", sa.Uuid, nullable=True),
        sa.Column("tally", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_settlement_jobs"),
    )
    op.create_index("ix_settlement_jobs_status", "settlement_jobs", ["status", "created_at"])
    op.create_index("ix_settlement_jobs_market", "settlement_jobs", ["market_id", "created_at"])


def downgrade() -> None:
    op.drop_table("settlement_jobs")

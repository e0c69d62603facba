"""Betting: the time windows of a feed's bet cancels, kept so that a bet priced inside one but written after it
was recorded is refused rather than left standing.

Revision ID: 0009_bet_cancellations
Revises: 0008_selection_exposure
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_bet_cancellations"
down_revision = "0008_selection_exposure"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bet_cancellations",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bet_cancellations"),
    )
    op.create_index("ix_bet_cancellations_market", "bet_cancellations", ["market_id", "end_at"])


def downgrade() -> None:
    op.drop_index("ix_bet_cancellations_market", table_name="bet_cancellations")
    op.drop_table("bet_cancellations")

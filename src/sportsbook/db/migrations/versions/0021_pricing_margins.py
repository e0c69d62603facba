"""Pricing: the margins staff set, laid on the odds feed's fair probabilities: one row per (sport, market type),
`*` for the default.

Revision ID: 0021_pricing_margins
Revises: 0020_bet_cancel_rollbacks
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_pricing_margins"
down_revision = "0020_bet_cancel_rollbacks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pricing_margins",
        sa.Column("sport", sa.String(40), primary_key=True),
        sa.Column("market_type", sa.String(32), primary_key=True),
        sa.Column("margin", sa.Numeric(6, 4), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pricing_margins")

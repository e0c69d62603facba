"""Betting: legs voided by a bet cancel.

Revision ID: 0007_leg_voids
Revises: 0006_betting
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_leg_voids"
down_revision = "0006_betting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leg_voids",
        sa.Column("bet_id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bet_id", "market_id", name="pk_leg_voids"),
    )


def downgrade() -> None:
    op.drop_table("leg_voids")

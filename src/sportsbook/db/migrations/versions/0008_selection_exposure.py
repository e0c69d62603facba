"""Betting: each selection's exposure, shared by every API node.

Revision ID: 0008_selection_exposure
Revises: 0007_leg_voids
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_selection_exposure"
down_revision = "0007_leg_voids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "selection_exposure",
        sa.Column("selection_id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("exposure", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("selection_id", name="pk_selection_exposure"),
    )
    op.create_index("ix_selection_exposure_market", "selection_exposure", ["market_id"])


def downgrade() -> None:
    op.drop_index("ix_selection_exposure_market", table_name="selection_exposure")
    op.drop_table("selection_exposure")

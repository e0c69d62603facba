"""Betting: what a bet's Idempotency-Key first answered. A refused slip is kept under its key (so a retry is
refused the same way, even once the price has moved back), and a pending bet re-struck at new odds keeps the
terms it was first struck at (so a retry answers them, not the new ones).

Revision ID: 0011_bet_answers
Revises: 0010_holds_without_fk
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_bet_answers"
down_revision = "0010_holds_without_fk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bet_refusals",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("player_id", sa.Uuid, nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("code", sa.String(48), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bet_refusals"),
    )
    op.create_table(
        "bet_first_terms",
        sa.Column("bet_id", sa.Uuid, nullable=False),
        sa.Column("odds", sa.JSON, nullable=False),
        sa.Column("potential_return", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("bet_id", name="pk_bet_first_terms"),
    )


def downgrade() -> None:
    op.drop_table("bet_first_terms")
    op.drop_table("bet_refusals")

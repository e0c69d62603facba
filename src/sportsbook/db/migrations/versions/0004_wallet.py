"""Wallet adjustments (audit trail) and answered Idempotency-Keys.

Revision ID: 0004_wallet
Revises: 0003_players
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_wallet"
down_revision = "0003_players"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.SmallInteger, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_table(
        "wallet_adjustments",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("player_id", sa.Uuid, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("staff_id", sa.Uuid, nullable=False),
        sa.Column("transfer_id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wallet_adjustments"),
        sa.UniqueConstraint("transfer_id", name="uq_wallet_adjustments_transfer_id"),
    )
    op.create_index("ix_wallet_adjustments_player", "wallet_adjustments", ["player_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_wallet_adjustments_player", table_name="wallet_adjustments")
    op.drop_table("wallet_adjustments")
    op.drop_table("idempotency_keys")

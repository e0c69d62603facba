"""Betting: bets and their legs.

Revision ID: 0006_betting
Revises: 0005_catalog
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_betting"
down_revision = "0005_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bets",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("player_id", sa.Uuid, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("system", sa.String(16), nullable=True),
        sa.Column("each_way", sa.Boolean, nullable=False),
        sa.Column("odds_change", sa.String(8), nullable=False),
        sa.Column("stake", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("total_stake", sa.BigInteger, nullable=False),
        sa.Column("potential_return", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_code", sa.String(32), nullable=True),
        sa.Column("return_amount", sa.BigInteger, nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stake_transfer_id", sa.Uuid, nullable=False),
        sa.Column("stake_state", sa.String(8), nullable=False, server_default="held"),
        sa.Column("settle_count", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_bets"),
    )
    op.create_index("ix_bets_player", "bets", ["player_id", "placed_at"])
    op.create_index(
        "ix_bets_pending",
        "bets",
        ["accept_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "bet_legs",
        sa.Column("bet_id", sa.Uuid, nullable=False),
        sa.Column("idx", sa.SmallInteger, nullable=False),
        sa.Column("selection_id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("odds", sa.Numeric(10, 2), nullable=False),
        sa.Column("each_way_fraction", sa.String(8), nullable=True),
        sa.Column("each_way_places", sa.SmallInteger, nullable=True),
        sa.PrimaryKeyConstraint("bet_id", "idx", name="pk_bet_legs"),
    )
    op.create_index("ix_bet_legs_market", "bet_legs", ["market_id"])
    op.create_table(
        "market_settlements",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_market_settlements"),
    )
    op.create_index("ix_market_settlements_market", "market_settlements", ["market_id", "settled_at"])
    op.create_table(
        "non_runners",
        sa.Column("selection_id", sa.Uuid, nullable=False),
        sa.Column("market_id", sa.Uuid, nullable=False),
        sa.Column("odds_at_withdrawal", sa.Numeric(10, 2), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("selection_id", name="pk_non_runners"),
    )
    op.create_index("ix_non_runners_market", "non_runners", ["market_id"])


def downgrade() -> None:
    op.drop_index("ix_non_runners_market", table_name="non_runners")
    op.drop_table("non_runners")
    op.drop_index("ix_market_settlements_market", table_name="market_settlements")
    op.drop_table("market_settlements")
    op.drop_index("ix_bet_legs_market", table_name="bet_legs")
    op.drop_table("bet_legs")
    op.drop_index("ix_bets_pending", table_name="bets")
    op.drop_index("ix_bets_player", table_name="bets")
    op.drop_table("bets")

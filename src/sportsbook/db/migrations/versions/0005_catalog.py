"""Catalogue: events, markets and selections.

Revision ID: 0005_catalog
Revises: 0004_wallet
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_catalog"
down_revision = "0004_wallet"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sport", sa.String(40), nullable=False),
        sa.Column("competition", sa.String(200), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("competitors", sa.JSON(), nullable=True),
        sa.Column("runners", sa.JSON(), nullable=True),
        sa.Column("score_home", sa.Integer(), nullable=True),
        sa.Column("score_away", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_events"),
        sa.CheckConstraint(
            "status IN ('upcoming', 'live', 'ended', 'cancelled')", name="ck_catalog_events_status_known"
        ),
        sa.CheckConstraint(
            "(competitors IS NULL) <> (runners IS NULL)", name="ck_catalog_events_competitors_xor_runners"
        ),
        sa.CheckConstraint("(score_home IS NULL) = (score_away IS NULL)", name="ck_catalog_events_score_whole"),
        sa.CheckConstraint("version >= 1", name="ck_catalog_events_version_positive"),
    )
    op.create_index("ix_catalog_events_sport_status_start", "catalog_events", ["sport", "status", "start_time"])
    op.create_index("ix_catalog_events_status_start", "catalog_events", ["status", "start_time"])

    op.create_table(
        "catalog_markets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("specifiers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("in_play_delay_s", sa.Integer(), nullable=False),
        sa.Column("each_way_fraction", sa.String(8), nullable=True),
        sa.Column("each_way_places", sa.Integer(), nullable=True),
        sa.Column("min_stake", sa.BigInteger(), nullable=False),
        sa.Column("max_stake", sa.BigInteger(), nullable=False),
        sa.Column("max_payout", sa.BigInteger(), nullable=False),
        sa.Column("selection_liability_limit", sa.BigInteger(), nullable=False),
        sa.Column("market_liability_limit", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_markets"),
        sa.ForeignKeyConstraint(["event_id"], ["catalog_events.id"], name="fk_catalog_markets_event_id_catalog_events"),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'settled', 'cancelled')", name="ck_catalog_markets_status_known"
        ),
        sa.CheckConstraint("in_play_delay_s BETWEEN 0 AND 30", name="ck_catalog_markets_in_play_delay_range"),
        sa.CheckConstraint(
            "(each_way_fraction IS NULL) = (each_way_places IS NULL)", name="ck_catalog_markets_each_way_whole"
        ),
        sa.CheckConstraint(
            "min_stake > 0 AND min_stake <= max_stake AND max_payout > 0 "
            "AND selection_liability_limit > 0 AND market_liability_limit > 0",
            name="ck_catalog_markets_limits_positive",
        ),
        sa.CheckConstraint("version >= 1", name="ck_catalog_markets_version_positive"),
    )
    op.create_index("ix_catalog_markets_event_id", "catalog_markets", ["event_id"])

    op.create_table(
        "catalog_selections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("market_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(100), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("odds", sa.Numeric(7, 2), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalog_selections"),
        sa.ForeignKeyConstraint(
            ["market_id"], ["catalog_markets.id"], name="fk_catalog_selections_market_id_catalog_markets"
        ),
        sa.UniqueConstraint("market_id", "outcome", name="uq_catalog_selections_market_outcome"),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'non_runner', 'won', 'placed', 'lost', 'void')",
            name="ck_catalog_selections_status_known",
        ),
        sa.CheckConstraint("odds >= 1.01 AND odds <= 1001", name="ck_catalog_selections_odds_range"),
    )


def downgrade() -> None:
    op.drop_table("catalog_selections")
    op.drop_index("ix_catalog_markets_event_id", table_name="catalog_markets")
    op.drop_table("catalog_markets")
    op.drop_index("ix_catalog_events_status_start", table_name="catalog_events")
    op.drop_index("ix_catalog_events_sport_status_start", table_name="catalog_events")
    op.drop_table("catalog_events")

"""Catalogue: a market a trader has suspended or priced holds against the odds feed until the trader releases it
(`trader_override`).

Revision ID: 0018_market_trader_override
Revises: 0017_event_external_ids
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_market_trader_override"
down_revision = "0017_event_external_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_markets") as batch:
        batch.add_column(sa.Column("trader_override", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("catalog_markets") as batch:
        batch.drop_column("trader_override")

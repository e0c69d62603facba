"""Catalogue: events carry their ids at odds feeds (`external_ids`, e.g. {"uof": "sr:match:10927088"}), so a feed's
message finds its event. One row per (provider, id), naming one event; an event has at most one id per provider.

Revision ID: 0017_event_external_ids
Revises: 0016_ledger_seals
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_event_external_ids"
down_revision = "0016_ledger_seals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_event_external_ids",
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("external_id", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.Uuid, sa.ForeignKey("catalog_events.id"), nullable=False),
        sa.UniqueConstraint("event_id", "provider", name="uq_catalog_event_external_ids_event"),
    )


def downgrade() -> None:
    op.drop_table("catalog_event_external_ids")

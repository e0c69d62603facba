"""Events: the outbox drops its unique index on event ids. Every event id is a fresh random UUID and nothing
reads the outbox by it (the relay reads and deletes by seq; consumers deduplicate in their inbox), so the index
only cost each event an index entry: about 90 bytes of WAL per placed bet.

Revision ID: 0015_outbox_event_id_unindexed
Revises: 0014_ledger_shards
"""

from alembic import op

revision = "0015_outbox_event_id_unindexed"
down_revision = "0014_ledger_shards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_constraint("uq_outbox_event_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.create_unique_constraint("uq_outbox_event_id", ["event_id"])

"""Events: an outbox row lives only until it is published. The relay deletes what the bus confirmed, in one
statement per batch, instead of rewriting each row with its `published_at` (a new row version and new index
entries per event) and purging it later; so the partial index on the unpublished rows and the column go, and
rows an earlier version marked published are deleted now.

Revision ID: 0012_outbox_without_published
Revises: 0011_bet_answers
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_outbox_without_published"
down_revision = "0011_bet_answers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("published_at")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )

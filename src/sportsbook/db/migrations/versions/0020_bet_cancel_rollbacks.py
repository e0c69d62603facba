"""Betting: a feed's bet cancel can be rolled back (`rollback_bet_cancel`): the window is stamped
`rolled_back_at` and voids nothing from then on; a settlement job's kind takes `rollback_bet_cancel` (32
characters, up from 16).

Revision ID: 0020_bet_cancel_rollbacks
Revises: 0019_feed
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_bet_cancel_rollbacks"
down_revision = "0019_feed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bet_cancellations") as batch:
        batch.add_column(sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("settlement_jobs") as batch:
        batch.alter_column("kind", type_=sa.String(32), existing_type=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("settlement_jobs") as batch:
        batch.alter_column("kind", type_=sa.String(16), existing_type=sa.String(32), existing_nullable=False)
    with op.batch_alter_table("bet_cancellations") as batch:
        batch.drop_column("rolled_back_at")

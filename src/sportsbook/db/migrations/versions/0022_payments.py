"""Payments: deposits, withdrawals, refunds and chargebacks with their attempts at the connectors, the PSPs'
webhooks (each once), the card block list, and the players' KYC status.

Revision ID: 0022_payments
Revises: 0021_pricing_margins
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_payments"
down_revision = "0021_pricing_margins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("kyc_status", sa.String(16), nullable=False, server_default="unverified"))
        batch.create_check_constraint(
            "kyc_status_known", "kyc_status IN ('unverified', 'pending', 'verified', 'rejected')"
        )
    op.create_table(
        "payments",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("player_id", sa.Uuid, nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("connector", sa.String(40), nullable=True),
        sa.Column("psp_reference", sa.String(100), nullable=True),
        sa.Column("decline_code", sa.String(40), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("card_fingerprint", sa.String(32), nullable=True),
        sa.Column("card_bin", sa.String(8), nullable=True),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("card_scheme", sa.String(16), nullable=True),
        sa.Column("card_type", sa.String(16), nullable=True),
        sa.Column("card_prepaid", sa.Boolean, nullable=True),
        sa.Column("card_country", sa.String(2), nullable=True),
        sa.Column("three_ds", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("next_action_url", sa.String(500), nullable=True),
        sa.Column("refunded", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name="payment_amount_positive"),
        sa.CheckConstraint("refunded >= 0 AND refunded <= amount", name="payment_refunded_in_range"),
        sa.CheckConstraint(
            "direction IN ('deposit', 'withdrawal', 'refund', 'chargeback')", name="payment_direction_known"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'requires_action', 'succeeded', 'failed')", name="payment_status_known"
        ),
        sa.UniqueConstraint("player_id", "direction", "idempotency_key", name="uq_payments_idempotency"),
    )
    op.create_index("ix_payments_player", "payments", ["player_id", "created_at"])
    op.create_index("ix_payments_open", "payments", ["status", "updated_at"])
    op.create_index("ix_payments_parent", "payments", ["parent_id"])
    op.create_table(
        "payment_attempts",
        sa.Column("reference", sa.Uuid, primary_key=True),
        sa.Column("payment_id", sa.Uuid, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("connector", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("decline_code", sa.String(40), nullable=True),
        sa.Column("advice_code", sa.String(4), nullable=True),
        sa.Column("psp_reference", sa.String(100), nullable=True),
        sa.Column("three_ds", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("card_fingerprint", sa.String(32), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("payment_id", "seq", name="uq_payment_attempts_seq"),
    )
    op.create_index("ix_payment_attempts_card", "payment_attempts", ["card_fingerprint", "started_at"])
    op.create_index("ix_payment_attempts_open", "payment_attempts", ["outcome", "started_at"])
    op.create_index("ix_payment_attempts_psp", "payment_attempts", ["connector", "psp_reference"])
    op.create_table(
        "payment_webhooks",
        sa.Column("connector", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payment_blocks",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(32), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid, nullable=True),
        sa.CheckConstraint("kind IN ('fingerprint', 'bin')", name="payment_block_kind_known"),
    )
    op.create_table(
        "payment_connectors",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("outage", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("approval_rate", sa.Float, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("payment_connectors")
    op.drop_table("payment_blocks")
    op.drop_table("payment_webhooks")
    op.drop_index("ix_payment_attempts_psp", "payment_attempts")
    op.drop_index("ix_payment_attempts_open", "payment_attempts")
    op.drop_index("ix_payment_attempts_card", "payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_index("ix_payments_parent", "payments")
    op.drop_index("ix_payments_open", "payments")
    op.drop_index("ix_payments_player", "payments")
    op.drop_table("payments")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("kyc_status_known", type_="check")
        batch.drop_column("kyc_status")

"""Ledger: accounts, transfers (hash-chained), open holds and the chain head.

Revision ID: 0001_ledger
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", BigIntKey, primary_key=True, autoincrement=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sub", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("non_negative", sa.Boolean, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("owner", "kind", "sub", "currency", name="uq_ledger_accounts_key"),
        sa.CheckConstraint("NOT non_negative OR balance >= 0", name="ck_ledger_accounts_balance_non_negative"),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("debit_account_id", sa.BigInteger, nullable=False),
        sa.Column("credit_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("flags", sa.SmallInteger, nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("debit_balance_after", sa.BigInteger, nullable=False),
        sa.Column("credit_balance_after", sa.BigInteger, nullable=False),
        sa.Column("pending_id", sa.Uuid, nullable=True),
        sa.Column("resolves", sa.Uuid, nullable=True),
        sa.Column("target_account_id", sa.BigInteger, nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_transfers"),
        sa.UniqueConstraint("id", name="uq_ledger_transfers_id"),
        sa.CheckConstraint("amount > 0", name="ck_ledger_transfers_amount_positive"),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name="ck_ledger_transfers_accounts_differ"),
    )
    # at most one row closes each pending transfer; the partial index skips the many rows that close none
    op.create_index(
        "uq_ledger_transfers_resolves",
        "ledger_transfers",
        ["resolves"],
        unique=True,
        postgresql_where=sa.text("resolves IS NOT NULL"),
        sqlite_where=sa.text("resolves IS NOT NULL"),
    )
    op.create_index("ix_ledger_transfers_debit", "ledger_transfers", ["debit_account_id", "seq"])
    op.create_index("ix_ledger_transfers_credit", "ledger_transfers", ["credit_account_id", "seq"])
    op.create_table(
        "ledger_holds",
        sa.Column("pending_id", sa.Uuid, nullable=False),
        sa.Column("holding_account_id", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pending_id", name="pk_ledger_holds"),
        sa.ForeignKeyConstraint(
            ["holding_account_id"],
            ["ledger_accounts.id"],
            name="fk_ledger_holds_holding_account_id_ledger_accounts",
        ),
    )
    op.create_index("ix_ledger_holds_expires_at", "ledger_holds", ["expires_at"])
    chain = op.create_table(
        "ledger_chain",
        sa.Column("id", sa.SmallInteger, nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_chain"),
    )
    op.bulk_insert(chain, [{"id": 1, "seq": 0, "head": bytes(32)}])


def downgrade() -> None:
    op.drop_table("ledger_chain")
    op.drop_index("ix_ledger_holds_expires_at", table_name="ledger_holds")
    op.drop_table("ledger_holds")
    op.drop_index("ix_ledger_transfers_credit", table_name="ledger_transfers")
    op.drop_index("ix_ledger_transfers_debit", table_name="ledger_transfers")
    op.drop_index("uq_ledger_transfers_resolves", table_name="ledger_transfers")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")

"""Ledger: shards. The shard is a column of every ledger table; each shard has its own chain row.

A player's accounts live on one shard, house accounts once per shard (the accounts' key includes the shard,
and a partial unique index keeps a player's accounts on one shard); a transfer and a hold are on their
accounts' shard, and the journal's primary key is (shard, seq), each shard numbering its own chain. The
statement's two indexes on the journal leave out the entries of holding (reserved) accounts: nothing reads those
rows by account, and each stake placed and each hold closed wrote one. Everything that exists goes to shard 0:
the chain row 1 becomes shard 0's, and its hashes stay valid (the shard is not in the hashed content).

Revision ID: 0014_ledger_shards
Revises: 0013_settlement_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_ledger_shards"
down_revision = "0013_settlement_jobs"
branch_labels = None
depends_on = None


def _shard() -> sa.Column[int]:
    return sa.Column("shard", sa.SmallInteger, nullable=False, server_default="0")


def upgrade() -> None:
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.add_column(_shard())
        batch.drop_constraint("uq_ledger_accounts_key", type_="unique")
        batch.create_unique_constraint("uq_ledger_accounts_key", ["owner", "kind", "sub", "currency", "shard"])
    op.create_index(
        "uq_ledger_accounts_player",
        "ledger_accounts",
        ["owner", "kind", "sub", "currency"],
        unique=True,
        postgresql_where=sa.text("owner <> 'house'"),
        sqlite_where=sa.text("owner <> 'house'"),
    )
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.add_column(_shard())
        batch.drop_constraint("pk_ledger_transfers", type_="primary")
        batch.create_primary_key("pk_ledger_transfers", ["shard", "seq"])
    with op.batch_alter_table("ledger_holds") as batch:
        batch.add_column(_shard())
    # the statement's indexes leave out the entries of holding accounts, which nothing reads by account
    for side, where in (("debit", "flags < 2"), ("credit", "flags <> 1")):
        op.drop_index(f"ix_ledger_transfers_{side}", table_name="ledger_transfers")
        op.create_index(
            f"ix_ledger_transfers_{side}",
            "ledger_transfers",
            [f"{side}_account_id", "seq"],
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )
    op.execute("UPDATE ledger_chain SET id = 0 WHERE id = 1")
    with op.batch_alter_table("ledger_chain") as batch:
        batch.alter_column("id", new_column_name="shard", existing_type=sa.SmallInteger, existing_nullable=False)


def downgrade() -> None:
    # only a ledger that never used more than shard 0 goes back to one chain
    with op.batch_alter_table("ledger_chain") as batch:
        batch.alter_column("shard", new_column_name="id", existing_type=sa.SmallInteger, existing_nullable=False)
    op.execute("DELETE FROM ledger_chain WHERE id <> 0")
    op.execute("UPDATE ledger_chain SET id = 1 WHERE id = 0")
    for side in ("debit", "credit"):
        op.drop_index(f"ix_ledger_transfers_{side}", table_name="ledger_transfers")
        op.create_index(f"ix_ledger_transfers_{side}", "ledger_transfers", [f"{side}_account_id", "seq"])
    with op.batch_alter_table("ledger_holds") as batch:
        batch.drop_column("shard")
    with op.batch_alter_table("ledger_transfers") as batch:
        batch.drop_constraint("pk_ledger_transfers", type_="primary")
        batch.create_primary_key("pk_ledger_transfers", ["seq"])
        batch.drop_column("shard")
    op.drop_index("uq_ledger_accounts_player", table_name="ledger_accounts")
    with op.batch_alter_table("ledger_accounts") as batch:
        batch.drop_constraint("uq_ledger_accounts_key", type_="unique")
        batch.create_unique_constraint("uq_ledger_accounts_key", ["owner", "kind", "sub", "currency"])
        batch.drop_column("shard")

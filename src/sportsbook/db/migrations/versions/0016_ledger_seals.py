"""Ledger: the hash chain is sealed per batch. Each journal row's hash covers its own content only, and a new
table, `ledger_seals`, holds one seal per written batch of a shard's rows: a hash over the previous seal's hash
and the batch's row hashes. A set of rows can then be hashed at once, by the database, in a set-based write.

Upgrading verifies each shard's chain as it was (each row hashed over the previous row's hash and its content),
stops if it is broken, and seals it anew: every row rehashed on its own, in seals of at most 10,000 rows.
Downgrading links the rows again as before (it checks each row's own hash first) and drops the seals.

Revision ID: 0016_ledger_seals
Revises: 0015_outbox_event_id_unindexed
"""

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0016_ledger_seals"
down_revision = "0015_outbox_event_id_unindexed"
branch_labels = None
depends_on = None

_GENESIS = bytes(32)
_SEAL_ROWS = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The journal as this migration reads and rewrites it (typed, so that both backends give uuids and times alike).
_journal = sa.Table(
    "ledger_transfers",
    sa.MetaData(),
    sa.Column("shard", sa.SmallInteger),
    sa.Column("seq", sa.BigInteger),
    sa.Column("id", sa.Uuid),
    sa.Column("debit_account_id", sa.BigInteger),
    sa.Column("credit_account_id", sa.BigInteger),
    sa.Column("amount", sa.BigInteger),
    sa.Column("currency", sa.String),
    sa.Column("code", sa.String),
    sa.Column("flags", sa.SmallInteger),
    sa.Column("reference", sa.String),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("debit_balance_after", sa.BigInteger),
    sa.Column("credit_balance_after", sa.BigInteger),
    sa.Column("pending_id", sa.Uuid),
    sa.Column("target_account_id", sa.BigInteger),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("hash", sa.LargeBinary),
)
_chain = sa.Table(
    "ledger_chain", sa.MetaData(), sa.Column("shard", sa.SmallInteger), sa.Column("seq", sa.BigInteger),
    sa.Column("head", sa.LargeBinary),
)  # fmt: skip
_seals = sa.Table(
    "ledger_seals", sa.MetaData(), sa.Column("shard", sa.SmallInteger), sa.Column("seq", sa.BigInteger),
    sa.Column("first_seq", sa.BigInteger), sa.Column("hash", sa.LargeBinary),
)  # fmt: skip


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:  # SQLite gives the stored UTC time without its zone
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _content(r: Any) -> bytes:
    """A row's canonical content, as the ledger hashes it (frozen here as of this revision)."""
    pending = r.pending_id.hex if r.pending_id else ""
    target = r.target_account_id if r.target_account_id is not None else ""
    expires = _micros(r.expires_at) if r.expires_at else ""
    return (
        f"{r.seq}|{r.id.hex}|{r.debit_account_id}|{r.credit_account_id}|{r.amount}|{r.currency}|{r.code}|"
        f"{r.flags}|{r.reference}|{_micros(r.created_at)}|{r.debit_balance_after}|{r.credit_balance_after}|"
        f"{pending}|{target}|{expires}"
    ).encode()


def _rows(conn: sa.Connection, shard: int) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(
            sa.select(_journal).where(_journal.c.shard == shard, _journal.c.seq > after).order_by(_journal.c.seq)
            .limit(_SEAL_ROWS)
        ).all()  # fmt: skip
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def _set_hashes(conn: sa.Connection, shard: int, hashes: list[tuple[int, bytes]]) -> None:
    if hashes:
        conn.execute(
            _journal.update()
            .where(_journal.c.shard == sa.bindparam("s"), _journal.c.seq == sa.bindparam("q"))
            .values(hash=sa.bindparam("h")),
            [{"s": shard, "q": seq, "h": h} for seq, h in hashes],
        )


def _broken(shard: int, r: Any) -> RuntimeError:
    return RuntimeError(
        f"ledger shard {shard}: transfer {r.id} (seq {r.seq}) breaks the hash chain; run `sportsbook reconcile` "
        "on the previous version and repair the journal before migrating"
    )


def upgrade() -> None:
    op.create_table(
        "ledger_seals",
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("shard", "seq", name="pk_ledger_seals"),
    )
    conn = op.get_bind()
    for shard in [int(s) for s in conn.execute(sa.select(_journal.c.shard).distinct()).scalars()]:
        linked = sealed = _GENESIS  # the old chain's last link; the new chain's last seal
        expected = 1
        batch: list[tuple[int, bytes]] = []  # (seq, own hash) of the rows of the seal under way
        for r in _rows(conn, shard):
            content = _content(r)
            if r.seq != expected or hashlib.sha256(linked + content).digest() != bytes(r.hash):
                raise _broken(shard, r)
            linked, expected = bytes(r.hash), r.seq + 1
            batch.append((r.seq, hashlib.sha256(content).digest()))
            if len(batch) == _SEAL_ROWS:
                sealed = _seal(conn, shard, sealed, batch)
                batch = []
        if batch:
            sealed = _seal(conn, shard, sealed, batch)
        stored = conn.execute(sa.select(_chain.c.seq, _chain.c.head).where(_chain.c.shard == shard)).first()
        if stored is not None and (stored.seq, bytes(stored.head)) != (expected - 1, linked):
            raise RuntimeError(f"ledger shard {shard}: the chain head does not match the journal's last transfer")
        conn.execute(_chain.update().where(_chain.c.shard == shard).values(seq=expected - 1, head=sealed))


def _seal(conn: sa.Connection, shard: int, prev: bytes, batch: list[tuple[int, bytes]]) -> bytes:
    """Rewrite these rows' hashes (each its own) and seal them after `prev`: the new seal's hash."""
    _set_hashes(conn, shard, batch)
    sealed = hashlib.sha256(prev + b"".join(h for _seq, h in batch)).digest()
    conn.execute(_seals.insert().values(shard=shard, seq=batch[-1][0], first_seq=batch[0][0], hash=sealed))
    return sealed


def downgrade() -> None:
    conn = op.get_bind()
    shards = [int(s) for s in conn.execute(sa.select(_journal.c.shard).distinct()).scalars()]
    for shard in shards:
        prev, expected = _GENESIS, 1
        rewritten: list[tuple[int, bytes]] = []
        for r in _rows(conn, shard):
            content = _content(r)
            if r.seq != expected or hashlib.sha256(content).digest() != bytes(r.hash):
                raise _broken(shard, r)
            prev, expected = hashlib.sha256(prev + content).digest(), r.seq + 1
            rewritten.append((r.seq, prev))
            if len(rewritten) == _SEAL_ROWS:
                _set_hashes(conn, shard, rewritten)
                rewritten = []
        _set_hashes(conn, shard, rewritten)
        conn.execute(_chain.update().where(_chain.c.shard == shard).values(seq=expected - 1, head=prev))
    op.drop_table("ledger_seals")

"""Migration 0016 on a ledger whose chain links each row to the one before, SQLite and PostgreSQL alike: it checks
that chain, then hashes every row on its own and seals the rows per shard; reconcile is then sound and new
transfers go on from the seals. A broken chain stops the migration; a downgrade links the rows again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import select, text

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.db.migrate import alembic_config, upgrade
from sportsbook.ledger.model import GENESIS_HASH, Account, AccountKind, LedgerBatch, LedgerState, TransferRequest
from sportsbook.ledger.service import ChainReport, Ledger
from sportsbook.ledger.store import accounts, chain, transfers
from sportsbook.ledger.verbs import Result
from tests.integration.ledger.shards import linked

BEFORE_SEALS = "0015_outbox_event_id_unindexed"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _ledger_before_seals(database_url: str, *, forge: bool = False) -> list[tuple[int, int]]:
    """Two shards' worth of transfers written as the ledger wrote them before seals (shard 1's 7th row forged
    when `forge`). The accounts of shard s: house 10 + s, player 20 + s."""
    command.downgrade(alembic_config(database_url), BEFORE_SEALS)
    state = LedgerState()
    for s in (0, 1):
        state.accounts[10 + s] = Account(10 + s, "house", AccountKind.EQUITY, "EUR", False, 0, s)
        state.accounts[20 + s] = Account(20 + s, f"player:{uuid.uuid4()}", AccountKind.CASH, "EUR", True, 0, s)
    batch = LedgerBatch(state, NOW)
    batch.apply([TransferRequest(uuid.uuid4(), 10 + i % 2, 20 + i % 2, 100 + i) for i in range(25)])
    outcome = batch.seal_chains({0: (0, GENESIS_HASH), 1: (0, GENESIS_HASH)})
    heads = {s: linked([r for r in outcome.rows if r.shard == s]) for s in (0, 1)}
    if forge:
        [r for r in outcome.rows if r.shard == 1][6].reference = "forged"
    db = Database(database_url)
    try:
        async with db.transaction() as conn:
            for a in state.accounts.values():
                values = {c: getattr(a, c) for c in ("id", "owner", "kind", "currency", "non_negative", "shard")}
                values.update(sub="", balance=outcome.balances[a.id], created_at=NOW)
                await conn.execute(accounts.insert().inline().values(values))
            for row in outcome.rows:
                values = {c.name: getattr(row, c.name) for c in transfers.columns}
                values["resolves"] = None
                await conn.execute(transfers.insert().inline().values(values))
            for s, head in heads.items():
                seq = max(r.seq for r in outcome.rows if r.shard == s)
                # shard 0's chain row exists from the start
                await conn.execute(text("DELETE FROM ledger_chain WHERE shard = :s"), {"s": s})
                await conn.execute(
                    text("INSERT INTO ledger_chain (shard, seq, head) VALUES (:s, :seq, :head)"),
                    {"s": s, "seq": seq, "head": head},
                )
    finally:
        await db.dispose()
    return [(s, max(r.seq for r in outcome.rows if r.shard == s)) for s in (0, 1)]


async def test_a_linked_chain_is_checked_and_sealed_anew(database_url: str) -> None:
    ends = await _ledger_before_seals(database_url)
    upgrade(database_url)
    db = Database(database_url)
    try:
        ledger = Ledger(db, ManualClock(NOW), shards=2)
        report = await ledger.reconcile()
        assert report.sound, report.faults
        assert report.chains == tuple(ChainReport(s, seq, seq) for s, seq in ends)
        assert await ledger.transfer(TransferRequest(uuid.uuid4(), 11, 21, 7)) is Result.OK
        assert (await ledger.reconcile()).sound
        # and back: the rows are linked again, each over the one before
        command.downgrade(alembic_config(database_url), BEFORE_SEALS)
        async with db.read() as conn:
            heads = {int(r.shard): (int(r.seq), bytes(r.head)) for r in await conn.execute(select(chain))}
            rows = await ledger.store.stream_transfers(conn, 0, 100, shard=1)
        assert heads[1] == (ends[1][1] + 1, linked(rows))
    finally:
        await db.dispose()


async def test_a_broken_chain_stops_the_migration(database_url: str) -> None:
    await _ledger_before_seals(database_url, forge=True)
    with pytest.raises(RuntimeError, match=r"ledger shard 1: transfer .* \(seq 7\) breaks the hash chain"):
        upgrade(database_url)

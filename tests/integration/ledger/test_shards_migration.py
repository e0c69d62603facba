"""Migration 0014 on a ledger written before shards, SQLite and PostgreSQL alike: everything existing goes to
shard 0, its chain still verifies (the shard is not in the hashed content), and new transfers go on from it.
(Migration 0016 then seals it anew: see test_seals_migration.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.db.migrate import alembic_config, upgrade
from sportsbook.ledger.model import GENESIS_HASH, Account, AccountKind, LedgerBatch, LedgerState, TransferRequest
from sportsbook.ledger.service import ChainReport, Ledger
from sportsbook.ledger.store import accounts, transfers
from sportsbook.ledger.verbs import Result
from tests.integration.ledger.shards import linked

BEFORE_SHARDS = "0012_outbox_without_published"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def test_a_ledger_from_before_shards_is_shard_0_and_still_verifies(database_url: str) -> None:
    command.downgrade(alembic_config(database_url), BEFORE_SHARDS)
    state = LedgerState(
        accounts={
            1: Account(1, "house", AccountKind.EQUITY, "EUR", False, 0),
            2: Account(2, f"player:{uuid.uuid4()}", AccountKind.CASH, "EUR", True, 0),
        }
    )
    batch = LedgerBatch(state, NOW)
    requests = [TransferRequest(uuid.uuid4(), 1, 2, 100 * (i + 1)) for i in range(5)]
    requests.append(TransferRequest(uuid.uuid4(), 2, 1, 50))
    batch.apply(requests)
    outcome = batch.seal(0, GENESIS_HASH)
    head = linked(outcome.rows)  # the chain as it was then: each row's hash over the one before
    db = Database(database_url)
    try:
        async with db.transaction() as conn:  # the rows as the ledger wrote them then: no shard anywhere
            for a in state.accounts.values():
                values = {c: getattr(a, c) for c in ("id", "owner", "kind", "currency", "non_negative")}
                values.update(sub="", balance=outcome.balances[a.id], created_at=NOW)
                await conn.execute(accounts.insert().inline().values(values))
            for row in outcome.rows:
                values = {c.name: getattr(row, c.name) for c in transfers.columns if c.name != "shard"}
                await conn.execute(transfers.insert().inline().values(values))
            await conn.execute(
                text("UPDATE ledger_chain SET seq = :seq, head = :head WHERE id = 1"),
                {"seq": outcome.head_seq, "head": head},
            )
    finally:
        await db.dispose()

    upgrade(database_url)

    db = Database(database_url)
    try:
        ledger = Ledger(db, ManualClock(), shards=4)
        report = await ledger.reconcile()
        assert report.sound, report.faults
        assert report.chains == (ChainReport(0, 6, 6),)
        more = TransferRequest(uuid.uuid4(), 1, 2, 7)
        assert await ledger.transfer(more) is Result.OK  # the house account and the player are on shard 0
        stored = await ledger.get_transfer(more.id)
        assert stored is not None
        assert (stored.shard, stored.seq) == (0, 7)
        assert (await ledger.reconcile()).sound
    finally:
        await db.dispose()

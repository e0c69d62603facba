"""Durability and tamper evidence, on a ledger of four shards: a process killed mid-storm loses no acknowledged
transfer, and a change made behind the engine's back makes reconcile fail and name what was changed, and on
which shard's chain."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from sportsbook.core.clock import ManualClock, SystemClock
from sportsbook.db.engine import Database
from sportsbook.ledger.model import AccountKind, Phase, Result, TransferRequest, row_hash
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import AccountKey, holds, seals, transfers
from tests.integration.ledger.shards import SHARDS, player_on

ROOT = Path(__file__).resolve().parents[3]


async def _funded_accounts(db: Database, n: int) -> list[list[int]]:
    """`n` funded cash accounts on each shard, by shard (a transfer is between two accounts of one shard)."""
    ledger = Ledger(db, SystemClock(), shards=SHARDS)
    by_shard: list[list[int]] = []
    for shard in range(SHARDS):
        equity = await ledger.account(AccountKey("house", AccountKind.EQUITY, "EUR"), shard=shard)
        owners = [f"player:{player_on(shard)}" for _ in range(n)]
        ids = [await ledger.account(AccountKey(owner, AccountKind.CASH, "EUR")) for owner in owners]
        results = await ledger.create_transfers([TransferRequest(uuid.uuid4(), equity, a, 100_000) for a in ids])
        assert results == [Result.OK] * n
        by_shard.append(ids)
    return by_shard


@pytest.mark.slow
async def test_acknowledged_transfers_survive_sigkill_mid_storm(database_url: str) -> None:
    db = Database(database_url)
    by_shard = await _funded_accounts(db, 3)
    await db.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    groups = [",".join(map(str, ids)) for ids in by_shard]  # the worker moves money within each shard
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.integration.ledger.crash_worker", database_url, *groups,
        cwd=ROOT, env=env, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    acknowledged: list[uuid.UUID] = []
    try:
        assert (await asyncio.wait_for(proc.stdout.readline(), 60)).strip() == b"ready"
        while len(acknowledged) < 400:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            acknowledged.append(uuid.UUID(line.decode().strip()))
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-storm: commits in flight, nothing flushed politely
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    db = Database(database_url)
    try:
        async with db.read() as conn:
            stored = {r.id for r in await conn.execute(select(transfers.c.id))}
        assert set(acknowledged) <= stored
        report = await Ledger(db, SystemClock()).reconcile()
        assert report.sound, report.faults
        assert [c.shard for c in report.chains if c.transfers > 3] == list(range(SHARDS))  # the storm hit them all
        # and the ledger takes new work after the restart, on every shard
        after = Ledger(db, SystemClock(), shards=SHARDS)
        for ids in by_shard:
            assert await after.transfer(TransferRequest(uuid.uuid4(), ids[0], ids[1], 1)) is Result.OK
    finally:
        await db.dispose()


async def _ledger_with_history(db: Database) -> tuple[Ledger, list[TransferRequest]]:
    """Ten transfers, the i-th on shard i % SHARDS."""
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    by_shard = await _funded_accounts(db, 2)
    pairs = [by_shard[i % SHARDS] for i in range(10)]
    requests = [TransferRequest(uuid.uuid4(), debit, credit, 100 + i) for i, (debit, credit) in enumerate(pairs)]
    assert await ledger.create_transfers(requests) == [Result.OK] * 10
    assert (await ledger.reconcile()).sound
    return ledger, requests


async def test_changed_amount_makes_reconcile_fail_naming_the_transfer(db: Database) -> None:
    ledger, requests = await _ledger_with_history(db)
    victim = requests[4].id
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.id == victim).values(amount=transfers.c.amount + 1))
    report = await ledger.reconcile()
    assert not report.sound
    assert ("hash_mismatch", f"transfer {victim}", 4 % SHARDS) in {(f.kind, f.subject, f.shard) for f in report.faults}
    assert {f.kind for f in report.faults} >= {"hash_mismatch", "balance_mismatch"}


async def test_a_changed_transfer_given_a_matching_hash_breaks_its_seal(db: Database) -> None:
    # a forger who rewrites a row and its own hash still breaks the seal over the batch it was written in
    ledger, requests = await _ledger_with_history(db)
    victim = requests[6].id
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.id == victim).values(reference="forged"))
    forged = await ledger.get_transfer(victim)
    assert forged is not None
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.id == victim).values(hash=row_hash(forged)))
    report = await ledger.reconcile()
    shard = 6 % SHARDS
    assert [(f.kind, f.shard) for f in report.faults] == [("seal_mismatch", shard)]
    first, last = map(int, report.faults[0].subject.removeprefix("seal of seq ").split("-"))
    assert first <= forged.seq <= last


async def test_a_deleted_seal_breaks_the_chain(db: Database) -> None:
    ledger, _requests = await _ledger_with_history(db)
    async with db.transaction() as conn:
        first = (await conn.execute(select(func.min(seals.c.seq)).where(seals.c.shard == 1))).scalar_one()
        await conn.execute(seals.delete().where(seals.c.shard == 1, seals.c.seq == first))
    faults = {(f.kind, f.shard) for f in (await ledger.reconcile()).faults}
    assert faults == {("seal_gap", 1), ("seal_mismatch", 1)}


async def test_transfer_naming_an_unknown_account_is_named(db: Database) -> None:
    ledger, requests = await _ledger_with_history(db)
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.id == requests[1].id).values(credit_account_id=99_999))
    faults = {(f.kind, f.subject) for f in (await ledger.reconcile()).faults}
    assert ("unknown_account", f"transfer {requests[1].id}") in faults


@pytest.mark.parametrize("where", ["unknown", "cash"])
async def test_a_hold_on_an_account_that_is_not_a_reserved_account_is_named(db: Database, where: str) -> None:
    # Holds carry no foreign key (for speed, as the journal): reconcile is what refuses a hold moved elsewhere.
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    a, b = (await _funded_accounts(db, 2))[SHARDS - 1]
    pending = TransferRequest(uuid.uuid4(), a, b, 500, phase=Phase.PENDING)
    assert await ledger.create_transfers([pending]) == [Result.OK]
    assert (await ledger.reconcile()).sound
    elsewhere = 99_999 if where == "unknown" else a  # no such account, or the player's cash account
    async with db.transaction() as conn:
        await conn.execute(holds.update().where(holds.c.pending_id == pending.id).values(holding_account_id=elsewhere))
    faults = {(f.kind, f.subject) for f in (await ledger.reconcile()).faults}
    assert ("unknown_account", f"hold {pending.id}") in faults
    assert "holds_mismatch" in {kind for kind, _subject in faults}  # the reserved account lost its hold


async def test_balance_changed_behind_the_engine_is_named(db: Database) -> None:
    ledger, requests = await _ledger_with_history(db)
    account = requests[0].credit_account_id
    async with db.transaction() as conn:
        await conn.execute(text("UPDATE ledger_accounts SET balance = balance + 5 WHERE id = :id"), {"id": account})
    report = await ledger.reconcile()
    kinds = {(f.kind, f.subject.split(" (")[0]) for f in report.faults}
    assert ("balance_mismatch", f"account {account}") in kinds
    assert ("currency_unbalanced", "currency EUR") in kinds


async def test_deleted_transfer_breaks_the_chain(db: Database) -> None:
    ledger, _requests = await _ledger_with_history(db)
    async with db.transaction() as conn:
        last = (await conn.execute(select(transfers.c.seq).order_by(transfers.c.seq.desc()).limit(1))).scalar_one()
        await conn.execute(transfers.delete().where(transfers.c.seq == last))
    faults = {f.kind for f in (await ledger.reconcile()).faults}
    assert {"seal_mismatch", "balance_mismatch"} <= faults  # the last seal no longer matches its rows
    async with db.transaction() as conn:  # and the forger deletes the seal too: the head no longer matches
        await conn.execute(seals.delete().where(seals.c.seq >= last))
    faults = {f.kind for f in (await ledger.reconcile()).faults}
    assert "chain_head_mismatch" in faults


def test_reconcile_command_exits_1_and_names_the_transfer(sqlite_url: str) -> None:
    async def tamper() -> uuid.UUID:
        db = Database(sqlite_url)
        try:
            _ledger, requests = await _ledger_with_history(db)
            async with db.transaction() as conn:
                await conn.execute(transfers.update().where(transfers.c.id == requests[2].id).values(code="forged"))
            return requests[2].id
        finally:
            await db.dispose()

    env = {**os.environ, "SPORTSBOOK_DATABASE_URL": sqlite_url}
    clean = subprocess.run([sys.executable, "-m", "sportsbook.cli", "reconcile"], env=env, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert clean.returncode == 0, clean.stdout + clean.stderr
    victim = asyncio.run(tamper())
    result = subprocess.run([sys.executable, "-m", "sportsbook.cli", "reconcile"], env=env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"[shard {2 % SHARDS}] hash_mismatch: transfer {victim}" in result.stdout
    assert f"shard {2 % SHARDS}: 4 transfers, head at seq 4: 1 faults" in result.stdout  # per-shard findings

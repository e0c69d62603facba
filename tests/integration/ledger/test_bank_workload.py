"""Jepsen's bank workload on the ledger, on SQLite and PostgreSQL.

Sixteen workers across four ledger instances (as if four API nodes) move money at random among a handful of
accounts (every row hot), some through the group committers and some in transactions of their own, with
holds that are posted or voided; with one shard, and with four (each move between two players of one shard,
each shard's equity funding its players, every chain verified). A fifth of the requests are sent again with
the same id, sometimes at the same moment, as a client does when a response is lost. Readers check the total
at every step."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import func, select

from sportsbook.core.clock import SystemClock
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.model import AccountKind, Phase, Result, TransferRequest
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import AccountKey, accounts, transfers
from tests.integration.ledger.shards import SHARDS, player_on

pytestmark = pytest.mark.slow

PLAYERS_PER_SHARD = 5
OPENING = 1_000
WORKERS = 16
NODES = 4
OPS_PER_WORKER = 40


@pytest.mark.parametrize("shards", [1, SHARDS])
async def test_bank_workload_conserves_money_and_applies_each_transfer_once(database_url: str, shards: int) -> None:
    dbs = [Database(database_url, pool_size=4) for _ in range(NODES)]
    ledgers = [Ledger(db, SystemClock(), batch_max=64, shards=shards) for db in dbs]
    for ledger in ledgers:
        await ledger.start(sweep_s=3600)
    try:
        await _workload(dbs, ledgers, shards)
    finally:
        for ledger in ledgers:
            await ledger.stop()
        for db in dbs:
            await db.dispose()


async def _workload(dbs: list[Database], ledgers: list[Ledger], shards: int) -> None:
    setup = ledgers[0]
    players = PLAYERS_PER_SHARD * shards
    equity = [await setup.account(AccountKey("house", AccountKind.EQUITY, "EUR"), shard=s) for s in range(shards)]
    owners = [player_on(s, shards) for s in range(shards) for _ in range(PLAYERS_PER_SHARD)]
    async with dbs[0].transaction() as conn:
        for owner in owners:
            await setup.open_player_accounts(UnitOfWork(conn), owner, "EUR")
    cash = [await setup.player_account(o, AccountKind.CASH, "EUR") for o in owners]
    ids = [c for c in cash if c is not None]
    by_shard = [ids[s * PLAYERS_PER_SHARD : (s + 1) * PLAYERS_PER_SHARD] for s in range(shards)]
    opening = [
        TransferRequest(uuid.uuid4(), equity[s], c, OPENING, code="opening") for s in range(shards) for c in by_shard[s]
    ]
    assert await setup.create_transfers(opening) == [Result.OK] * players

    acknowledged: dict[uuid.UUID, TransferRequest] = {}
    refused: set[uuid.UUID] = set()
    stop_reading = asyncio.Event()
    totals_seen: list[int] = []

    async def send(ledger: Ledger, db: Database, request: TransferRequest, rng: random.Random) -> Result:
        if rng.random() < 0.25:  # a transaction of its own, as a feature's unit of work does
            async with db.transaction() as conn:
                return (await ledger.create_transfers_in(UnitOfWork(conn), [request]))[0]
        return await ledger.transfer(request)

    async def worker(n: int) -> None:
        rng = random.Random(n)
        ledger, db = ledgers[n % NODES], dbs[n % NODES]
        for _ in range(OPS_PER_WORKER):
            debit, credit = rng.sample(rng.choice(by_shard), 2)  # two players of one shard
            phase = Phase.PENDING if rng.random() < 0.3 else Phase.SINGLE
            request = TransferRequest(uuid.uuid4(), debit, credit, rng.randint(1, 400), phase=phase, code="bank")
            if rng.random() < 0.1:  # the response is lost and the client retries at once, concurrently
                first, second = await asyncio.gather(send(ledger, db, request, rng), send(ledger, db, request, rng))
                outcomes = {first, second}
                # never applied twice: at most one OK; a refusal is not stored, so its twin may still succeed
                assert [first, second].count(Result.OK) <= 1, outcomes
                assert outcomes <= {Result.OK, Result.EXISTS, Result.INSUFFICIENT_FUNDS}, outcomes
                result = Result.OK if Result.OK in outcomes else first
            else:
                result = await send(ledger, db, request, rng)
                if rng.random() < 0.2:  # lost response, retried later with the same id
                    again = await send(ledgers[(n + 1) % NODES], dbs[(n + 1) % NODES], request, rng)
                    if result is Result.OK:
                        assert again is Result.EXISTS, again
                    else:  # the refusal was not stored: the retry is decided afresh
                        assert again in {result, Result.OK}, again
                        result = again
            if result is Result.OK:
                acknowledged[request.id] = request
                if phase is Phase.PENDING:
                    second_phase = Phase.POST if rng.random() < 0.5 else Phase.VOID
                    amount = rng.randint(0, request.amount) if second_phase is Phase.POST else 0
                    close = TransferRequest(uuid.uuid4(), amount=amount, phase=second_phase, pending_id=request.id)
                    closed = await send(ledger, db, close, rng)
                    assert closed is Result.OK, closed
                    acknowledged[close.id] = close
            else:
                assert result is Result.INSUFFICIENT_FUNDS, result
                refused.add(request.id)

    async def reader() -> None:
        player_owners = [f"player:{o}" for o in owners]
        while not stop_reading.is_set():
            async with dbs[0].read() as conn:
                total = (
                    await conn.execute(select(func.sum(accounts.c.balance)).where(accounts.c.owner.in_(player_owners)))
                ).scalar_one()
            totals_seen.append(int(total))
            await asyncio.sleep(0.005)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(worker(n) for n in range(WORKERS)))
    stop_reading.set()
    await reading

    # money never appeared or vanished, at any moment a reader looked
    assert set(totals_seen) == {players * OPENING}
    async with dbs[0].read() as conn:
        rows = (await conn.execute(select(transfers.c.id, transfers.c.pending_id, transfers.c.flags))).all()
        balances = dict((await conn.execute(select(accounts.c.id, accounts.c.balance))).all())
    stored_ids = [r.id for r in rows]
    # each acknowledged transfer is there exactly once; nothing refused slipped in
    assert len(stored_ids) == len(set(stored_ids))
    assert set(acknowledged) <= set(stored_ids)
    assert not refused & set(stored_ids)
    assert all(balances[c] >= 0 for c in ids)
    assert sum(v for k, v in balances.items() if k not in equity) == -sum(balances[e] for e in equity)
    report = await ledgers[1].reconcile()
    assert report.sound, report.faults
    assert report.transfers == len(rows)
    assert [c.shard for c in report.chains] == list(range(shards))
    assert all(c.transfers > PLAYERS_PER_SHARD for c in report.chains)  # every chain took part

"""The sharded ledger on a real database, SQLite and PostgreSQL alike: each shard's own chain, head and house
accounts, batches that span shards, reconcile naming a broken chain by its shard, players that never move when
the setting changes; and on PostgreSQL, writers on different shards that never wait on each other's lock."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, unit_of_work
from sportsbook.ledger.model import AccountKind, shard_for
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import accounts, chain, transfers
from sportsbook.ledger.verbs import Counterpart, Movements, Result
from tests.integration.ledger.shards import SHARDS, player_on


async def _open(ledger: Ledger, player: uuid.UUID, funds: int = 10_000) -> None:
    async with unit_of_work(ledger.db) as uow:
        await ledger.open_player_accounts(uow, player, "EUR")
    moves = Movements()
    moves.credit_cash(uuid.uuid4(), player, "EUR", funds, "deposit", "opening", Counterpart.EQUITY)
    async with unit_of_work(ledger.db) as uow:
        assert await ledger.apply(uow, moves) == [Result.OK]


async def _heads(db: Database) -> dict[int, int]:
    async with db.read() as conn:
        return {int(r.shard): int(r.seq) for r in await conn.execute(select(chain.c.shard, chain.c.seq))}


async def test_one_apply_over_four_shards_seals_each_shards_transfers_on_its_own_chain(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    players = [player_on(s) for s in range(SHARDS)]
    for p in players:
        await _open(ledger, p)
    assert [ledger.shard_of(p) for p in players] == list(range(SHARDS))
    before = await _heads(db)
    assert before == dict.fromkeys(range(SHARDS), 1)  # each shard's one opening credit
    moves = Movements()  # a settlement chunk's shape: bets of many players, on every shard, in one batch
    holds = {p: uuid.uuid4() for p in players}
    for p in players:
        moves.reserve_stake(holds[p], p, "EUR", 1_000, f"bet:{p}")
        moves.pay_return(uuid.uuid4(), p, "EUR", 50, f"bet:{p}")
    async with unit_of_work(db) as uow:
        assert await ledger.apply(uow, moves) == [Result.OK] * 2 * SHARDS
        moves = Movements()
        for p in players[1:]:  # closing holds in the same unit of work goes on from the heads it moved
            moves.post_stake(uuid.uuid4(), holds[p], 400)
        assert await ledger.apply(uow, moves) == [Result.OK] * (SHARDS - 1)
    assert await _heads(db) == {0: 3, 1: 5, 2: 5, 3: 5}  # a post of part of a hold writes two rows
    async with db.read() as conn:
        rows = (await conn.execute(select(transfers.c.shard, transfers.c.debit_account_id))).all()
        shard_of_account = dict((await conn.execute(select(accounts.c.id, accounts.c.shard))).all())
    assert all(shard_of_account[debit] == shard for shard, debit in rows)
    for p in players:
        assert (await ledger.wallet(p, "EUR")).reserved == (1_000 if p == players[0] else 0)
    report = await ledger.reconcile()
    assert report.sound, report.faults
    assert [(c.shard, c.transfers, c.head_seq) for c in report.chains] == [(0, 3, 3), (1, 5, 5), (2, 5, 5), (3, 5, 5)]


async def test_house_accounts_exist_on_every_shard_and_read_as_their_sum(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    players = [player_on(s) for s in range(SHARDS)]
    for p in players:
        await _open(ledger, p)
    moves = Movements()
    for i, p in enumerate(players):
        moves.reserve_stake(uuid.uuid4(), p, "EUR", 100 * (i + 1), "bet")
        moves.pay_return(uuid.uuid4(), p, "EUR", 10, "bet")
    async with unit_of_work(db) as uow:
        await ledger.apply(uow, moves)
    async with db.read() as conn:
        revenue = (
            await conn.execute(
                select(accounts.c.shard, accounts.c.balance).where(
                    accounts.c.owner == "house", accounts.c.kind == AccountKind.REVENUE
                )
            )
        ).all()
    assert sorted(revenue) == [(s, -10) for s in range(SHARDS)]  # the stakes are held, the returns are paid
    assert await ledger.house_balance(AccountKind.REVENUE, "EUR") == -10 * SHARDS
    assert await ledger.house_balance(AccountKind.EQUITY, "EUR") == -10_000 * SHARDS


async def test_reconcile_names_a_broken_chain_by_its_shard(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    players = [player_on(s) for s in range(SHARDS)]
    for p in players:
        await _open(ledger, p)
    async with db.read() as conn:
        victim = (await conn.execute(select(transfers.c.id).where(transfers.c.shard == 2))).scalar_one()
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.id == victim).values(reference="forged"))
    report = await ledger.reconcile()
    assert not report.sound
    assert [(f.kind, f.subject, f.shard) for f in report.faults] == [("hash_mismatch", f"transfer {victim}", 2)]
    async with db.transaction() as conn:  # and a deleted tail, on another shard
        await conn.execute(transfers.delete().where(transfers.c.shard == 3))
    faults = {(f.kind, f.shard) for f in (await ledger.reconcile()).faults}
    assert ("chain_head_mismatch", 3) in faults
    assert ("balance_mismatch", 3) in faults  # its accounts no longer equal their entries


async def test_currencies_must_sum_to_zero_on_each_shard_not_only_across_them(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    players = [player_on(1), player_on(2)]
    for p in players:
        await _open(ledger, p)
    cash = [await ledger.player_account(p, AccountKind.CASH, "EUR") for p in players]
    async with db.transaction() as conn:  # money moved from shard 2 to shard 1 behind the engine's back
        await conn.execute(accounts.update().where(accounts.c.id == cash[0]).values(balance=accounts.c.balance + 5))
        await conn.execute(accounts.update().where(accounts.c.id == cash[1]).values(balance=accounts.c.balance - 5))
    faults = [(f.kind, f.subject, f.shard) for f in (await ledger.reconcile()).faults if f.kind != "balance_mismatch"]
    assert faults == [("currency_unbalanced", "currency EUR", 1), ("currency_unbalanced", "currency EUR", 2)]


async def test_a_transfer_moved_to_another_shard_is_named(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    await _open(ledger, player_on(1))
    async with db.transaction() as conn:
        await conn.execute(transfers.update().where(transfers.c.shard == 1).values(shard=2))
    faults = {(f.kind, f.shard) for f in (await ledger.reconcile()).faults}
    assert ("shard_mismatch", 2) in faults
    assert ("chain_head_mismatch", 1) in faults  # shard 1's head names a row its chain no longer has


async def test_changing_the_number_of_shards_never_moves_a_player(db: Database) -> None:
    before = Ledger(db, ManualClock(), shards=SHARDS)
    player = player_on(3)
    await _open(before, player)
    after = Ledger(db, ManualClock(), shards=2)  # another node, or a restart, with a smaller setting
    assert after.shard_of(player) == shard_for(player, 2) != 3  # a guess from memory, before it reads the player
    async with unit_of_work(db) as uow:
        await after.open_player_accounts(uow, player, "USD")  # a new currency opens where the player lives
    moves = Movements()
    moves.reserve_stake(uuid.uuid4(), player, "EUR", 700, "bet")
    async with unit_of_work(db) as uow:
        await after.lock(uow, players=[player])
        assert await after.apply(uow, moves) == [Result.OK]
    assert after.shard_of(player) == 3  # read once: from memory from then on
    async with db.read() as conn:
        owned = select(accounts.c.shard).where(accounts.c.owner == f"player:{player}")
        shards = set((await conn.execute(owned)).scalars())
        moved = set((await conn.execute(select(transfers.c.shard))).scalars())
    assert shards == moved == {3}
    assert (await after.reconcile()).sound


async def test_a_player_cannot_hold_accounts_on_two_shards(db: Database) -> None:
    ledger = Ledger(db, ManualClock(), shards=SHARDS)
    player = player_on(1)
    await _open(ledger, player)
    row = {
        "owner": f"player:{player}",
        "kind": AccountKind.CASH.value,
        "sub": "",
        "currency": "EUR",
        "non_negative": True,
        "balance": 0,
        "created_at": ManualClock().now(),
        "shard": 2,
    }
    with pytest.raises((IntegrityError, asyncpg.UniqueViolationError)):
        async with db.transaction() as conn:
            await conn.execute(accounts.insert().values(row))


@pytest.mark.postgres
async def test_two_writers_on_different_shards_never_wait_on_each_others_lock(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        ledger = Ledger(db, ManualClock(), shards=SHARDS)
        players = [player_on(0), player_on(1), player_on(0)]
        for p in players:
            await _open(ledger, p)

        def stake(player: uuid.UUID) -> Movements:
            moves = Movements()
            moves.reserve_stake(uuid.uuid4(), player, "EUR", 100, "bet")
            return moves

        holding = asyncio.Event()
        release = asyncio.Event()

        async def first_writer() -> None:  # shard 0's lock, held until told
            async with unit_of_work(db) as uow:
                assert await ledger.apply(uow, stake(players[0])) == [Result.OK]
                holding.set()
                await release.wait()

        async def writer(player: uuid.UUID) -> list[Result]:
            async with unit_of_work(db) as uow:
                return await ledger.apply(uow, stake(player))

        first = asyncio.create_task(first_writer())
        await holding.wait()
        # shard 1's writer commits while shard 0's lock is held
        assert await asyncio.wait_for(writer(players[1]), timeout=5) == [Result.OK]
        # and the test can fail: a writer on shard 0 does wait for it, as does the barrier of every shard
        same_shard = asyncio.create_task(writer(players[2]))
        barrier = asyncio.create_task(_lock_every_shard(ledger))
        done, _pending = await asyncio.wait({same_shard, barrier}, timeout=0.5)
        assert not done
        release.set()
        await first
        assert await asyncio.wait_for(same_shard, timeout=5) == [Result.OK]
        await asyncio.wait_for(barrier, timeout=5)
        assert (await ledger.reconcile()).sound
    finally:
        await db.dispose()


async def _lock_every_shard(ledger: Ledger) -> None:
    async with ledger.db.transaction() as conn:
        await ledger.lock(UnitOfWork(conn))

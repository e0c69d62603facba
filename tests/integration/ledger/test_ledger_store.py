"""The ledger on a real database, SQLite and PostgreSQL alike: persistence, holds, expiry, statements."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from sportsbook.core.clock import ManualClock
from sportsbook.core.ids import derived_id
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.model import AccountKind, BatchOutcome, Flag, Phase, Result, Seal, Transfer, TransferRequest
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import (
    JOURNAL_COLUMNS,
    AccountKey,
    PostgresLedgerStore,
    SqliteLedgerStore,
    holds,
    transfers,
)


async def _setup(db: Database, clock: ManualClock) -> tuple[Ledger, uuid.UUID, int, int, int]:
    ledger = Ledger(db, clock)
    player = uuid.uuid4()
    async with db.transaction() as conn:
        await ledger.open_player_accounts(UnitOfWork(conn), player, "EUR")
    cash = await ledger.player_account(player, AccountKind.CASH, "EUR")
    assert cash is not None
    equity = await ledger.house_account(AccountKind.EQUITY, "EUR")
    bets = await ledger.house_account(AccountKind.BETS_IN_PLAY, "EUR")
    assert await ledger.transfer(TransferRequest(uuid.uuid4(), equity, cash, 10_000, code="deposit")) is Result.OK
    return ledger, player, cash, equity, bets


async def test_transfers_persist_and_replays_are_recognised_across_transactions(db: Database) -> None:
    ledger, _player, cash, _equity, bets = await _setup(db, ManualClock())
    request = TransferRequest(uuid.uuid4(), cash, bets, 2_500, code="stake", reference="bet-1")
    assert await ledger.transfer(request) is Result.OK
    assert await ledger.transfer(request) is Result.EXISTS
    changed = TransferRequest(request.id, cash, bets, 2_501, code="stake", reference="bet-1")
    assert await ledger.transfer(changed) is Result.EXISTS_WITH_DIFFERENT_FIELDS
    assert await ledger.balances([cash, bets]) == {cash: 7_500, bets: 2_500}
    stored = await ledger.get_transfer(request.id)
    assert stored is not None
    assert (stored.amount, stored.debit_balance_after, stored.credit_balance_after) == (2_500, 7_500, 2_500)


async def test_two_phase_transfer_holds_then_posts_part_and_releases_the_rest(db: Database) -> None:
    ledger, player, cash, _equity, bets = await _setup(db, ManualClock())
    player_wallet = (await ledger.statement(player, "EUR", limit=1))[0]
    pending = TransferRequest(uuid.uuid4(), cash, bets, 3_000, phase=Phase.PENDING, code="withdrawal")
    assert await ledger.transfer(pending) is Result.OK
    reserved = (await ledger.wallet(player, "EUR")).reserved
    assert reserved == 3_000
    post = TransferRequest(uuid.uuid4(), amount=1_000, phase=Phase.POST, pending_id=pending.id, code="withdrawal")
    assert await ledger.transfer(post) is Result.OK
    assert await ledger.transfer(post) is Result.EXISTS
    again = TransferRequest(uuid.uuid4(), phase=Phase.VOID, pending_id=pending.id)
    assert await ledger.transfer(again) is Result.PENDING_TRANSFER_ALREADY_POSTED
    wallet = await ledger.wallet(player, "EUR")
    assert (wallet.cash, wallet.reserved) == (9_000, 0)
    assert await ledger.balances([bets]) == {bets: 1_000}
    assert player_wallet.balance_after == 10_000
    assert (await ledger.reconcile()).sound


async def test_hold_expires_after_its_timeout_and_money_returns(db: Database) -> None:
    clock = ManualClock()
    ledger, player, cash, _equity, bets = await _setup(db, clock)
    pending = TransferRequest(uuid.uuid4(), cash, bets, 4_000, phase=Phase.PENDING, timeout_s=30)
    assert await ledger.transfer(pending) is Result.OK
    assert await ledger.expire_due() == 0
    clock.advance(30)
    assert await ledger.expire_due() == 1
    assert await ledger.expire_due() == 0
    post = TransferRequest(uuid.uuid4(), phase=Phase.POST, pending_id=pending.id)
    assert await ledger.transfer(post) is Result.PENDING_TRANSFER_EXPIRED
    assert (await ledger.wallet(player, "EUR")).cash == 10_000
    expired = await ledger.get_transfer(derived_id(pending.id, "expire"))
    assert expired is not None
    assert expired.code == "expiry"
    async with db.read() as conn:
        assert (await conn.execute(select(holds))).first() is None
    assert (await ledger.reconcile()).sound


async def test_linked_batch_is_all_or_nothing_in_the_database(db: Database) -> None:
    ledger, player, cash, equity, bets = await _setup(db, ManualClock())
    first = TransferRequest(uuid.uuid4(), cash, bets, 6_000, linked=True)
    second = TransferRequest(uuid.uuid4(), cash, bets, 6_000)
    independent = TransferRequest(uuid.uuid4(), equity, bets, 1)
    results = await ledger.create_transfers([first, second, independent])
    assert results == [Result.LINKED_EVENT_FAILED, Result.INSUFFICIENT_FUNDS, Result.OK]
    assert await ledger.get_transfer(first.id) is None
    assert (await ledger.wallet(player, "EUR")).cash == 10_000


async def test_database_refuses_a_negative_player_balance_written_behind_the_engine(db: Database) -> None:
    _ledger, _player, cash, _equity, _bets = await _setup(db, ManualClock())
    with pytest.raises(IntegrityError):
        async with db.transaction() as conn:
            await conn.execute(text("UPDATE ledger_accounts SET balance = -1 WHERE id = :id"), {"id": cash})


async def test_a_pending_transfer_cannot_be_closed_twice_even_behind_the_engine(db: Database) -> None:
    ledger, _player, cash, _equity, bets = await _setup(db, ManualClock())
    pending = TransferRequest(uuid.uuid4(), cash, bets, 100, phase=Phase.PENDING)
    await ledger.transfer(pending)
    await ledger.transfer(TransferRequest(uuid.uuid4(), phase=Phase.VOID, pending_id=pending.id))
    async with db.read() as conn:
        row = (await conn.execute(select(transfers).where(transfers.c.resolves == pending.id))).one()
    values = dict(row._mapping)
    values.update(seq=values["seq"] + 1000, id=uuid.uuid4())
    async with db.transaction() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(transfers.insert().values(values))


async def test_statement_pages_newest_first_with_balance_after(db: Database) -> None:
    ledger, player, cash, _equity, bets = await _setup(db, ManualClock())
    for amount in (100, 200, 300, 400):
        await ledger.transfer(TransferRequest(uuid.uuid4(), cash, bets, amount, code="stake"))
    first = await ledger.statement(player, "EUR", limit=2)
    assert [(line.amount, line.balance_after) for line in first] == [(-400, 9_000), (-300, 9_400)]
    rest = await ledger.statement(player, "EUR", limit=10, before_seq=first[-1].seq)
    assert [(line.amount, line.balance_after) for line in rest] == [(-200, 9_700), (-100, 9_900), (10_000, 10_000)]
    assert await ledger.statement(uuid.uuid4(), "EUR") == []  # no such player
    assert await ledger.statement(player, "GBP") == []  # no account in that currency


async def test_accounts_are_unique_per_owner_kind_and_currency(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    key = AccountKey("house", AccountKind.REVENUE, "GBP")
    first = await ledger.account(key)
    assert await Ledger(db, ManualClock()).account(key) == first
    assert await ledger.account(AccountKey("house", AccountKind.REVENUE, "EUR")) != first


@pytest.mark.parametrize("size", [3, 200])
async def test_small_and_large_batches_write_the_same_way(db: Database, size: int) -> None:
    """Both write paths (one statement for small batches, COPY for large ones on PostgreSQL) agree."""
    ledger, _player, cash, equity, bets = await _setup(db, ManualClock())
    requests = [TransferRequest(uuid.uuid4(), equity, bets if i % 2 else cash, 7 + i) for i in range(size)]
    assert await ledger.create_transfers(requests) == [Result.OK] * size
    to_cash = sum(7 + i for i in range(size) if i % 2 == 0)
    to_bets = sum(7 + i for i in range(size) if i % 2)
    assert await ledger.balances([cash, bets]) == {cash: 10_000 + to_cash, bets: to_bets}
    report = await ledger.reconcile()
    assert report.sound, report.faults
    assert report.transfers == size + 1


async def test_an_account_created_in_a_rolled_back_transaction_is_not_remembered(db: Database) -> None:
    # Found by running two API processes: a house account created in a transaction that then failed stayed in
    # the node's memory, and every later transfer on it was refused `account_not_found`.
    ledger, _player, cash, _equity, _bets = await _setup(db, ManualClock())
    key = AccountKey("house", AccountKind.ADJUSTMENTS, "EUR")

    async def create_then_fail() -> None:
        async with db.transaction() as conn:
            created = await ledger.store.get_or_create_account(conn, key, ManualClock().now())
            assert await ledger.store.get_or_create_account(conn, key, ManualClock().now()) == created
            assert await ledger.store.find_account(conn, key) == created  # read again before the rollback
            raise RuntimeError("the rest of the transaction failed")

    with pytest.raises(RuntimeError):
        await create_then_fail()
    async with db.read() as conn:
        assert await ledger.store.find_account(conn, key) is None
    house = await ledger.house_account(AccountKind.ADJUSTMENTS, "EUR")
    assert await ledger.transfer(TransferRequest(uuid.uuid4(), house, cash, 100, code="adjustment")) is Result.OK


async def test_pending_rows_read_before_the_lock_still_close_only_once(db: Database) -> None:
    # Settlement reads the pending rows of a chunk early (rows never change); whether each is still open is
    # read under the lock, so a hold closed in between is not closed again.
    ledger, _player, cash, _equity, bets = await _setup(db, ManualClock())
    pending = TransferRequest(uuid.uuid4(), cash, bets, 1_000, phase=Phase.PENDING, code="stake")
    assert await ledger.transfer(pending) is Result.OK
    async with db.read() as conn:
        rows = await ledger.pending_transfers(UnitOfWork(conn), [pending.id])
    assert set(rows) == {pending.id}
    post = TransferRequest(uuid.uuid4(), phase=Phase.POST, pending_id=pending.id, code="settle")
    assert await ledger.transfer(post) is Result.OK  # closed by someone else in between
    again = TransferRequest(uuid.uuid4(), phase=Phase.VOID, pending_id=pending.id, code="settle")
    async with db.transaction() as conn:
        await ledger.lock(UnitOfWork(conn))
        assert await ledger.create_transfers_in(UnitOfWork(conn), [again], known_pending=rows) == [
            Result.PENDING_TRANSFER_ALREADY_POSTED
        ]
    assert await ledger.balances([cash, bets]) == {cash: 9_000, bets: 1_000}


async def test_new_ids_skip_the_lookup_and_a_stored_id_still_never_applies_twice(db: Database) -> None:
    # Settlement vouches that its derived ids are new; if one were stored after all, the journal's primary
    # key refuses the whole transaction rather than moving the money a second time.
    ledger, _player, cash, equity, _bets = await _setup(db, ManualClock())
    first = TransferRequest(uuid.uuid4(), equity, cash, 500, code="bonus")
    async with db.transaction() as conn:
        assert await ledger.create_transfers_in(UnitOfWork(conn), [first], new_ids=True) == [Result.OK]
    assert await ledger.balances([cash]) == {cash: 10_500}
    with pytest.raises((IntegrityError, asyncpg.UniqueViolationError)):  # through SQLAlchemy, or the driver
        async with db.transaction() as conn:
            await ledger.create_transfers_in(UnitOfWork(conn), [first], new_ids=True)
    async with db.transaction() as conn:
        assert await ledger.create_transfers_in(UnitOfWork(conn), [first]) == [Result.EXISTS]
    assert await ledger.balances([cash]) == {cash: 10_500}
    assert (await ledger.reconcile()).sound


async def test_an_account_created_here_is_cached_at_its_first_read_once_committed(db: Database) -> None:
    # The marker of an account created in a transaction leaves with that transaction, so the first read by any
    # later transaction caches it (a later transaction reusing the freed one's address once kept it uncached).
    ledger = Ledger(db, ManualClock())
    player = uuid.uuid4()
    async with db.transaction() as conn:
        await ledger.open_player_accounts(UnitOfWork(conn), player, "EUR")
        key = AccountKey(f"player:{player}", AccountKind.RESERVED, "EUR")
        assert key in ledger.store._fresh  # not cached while only this transaction sees it
        assert await ledger.store.find_account(conn, key) is not None
        assert key not in ledger.store._ids
    assert not ledger.store._fresh  # nothing kept for transactions that are over
    async with db.transaction() as conn:
        found = await ledger.store.find_account(conn, key)
    assert ledger.store._ids[key] == found


async def test_the_migrated_journal_has_the_declared_columns_in_their_order(db: Database) -> None:
    async with db.read() as conn:
        columns = await conn.run_sync(lambda sync: inspect(sync).get_columns("ledger_transfers"))
    assert tuple(c["name"] for c in columns) == JOURNAL_COLUMNS


@pytest.mark.parametrize("size", [3, 100])
async def test_every_field_of_a_transfer_reads_back_as_written(db: Database, size: int) -> None:
    """Through each write path (one statement for small batches, COPY for large ones on PostgreSQL) and each
    reader, a transfer with every field set comes back equal."""
    ledger = Ledger(db, ManualClock())
    account = await ledger.account(AccountKey("house", AccountKind.EQUITY, "EUR"))
    stamp = ManualClock().now()
    rows = [
        Transfer(
            id=uuid.uuid4(),
            debit_account_id=account,
            credit_account_id=account + 1,
            amount=100 + i,
            currency="EUR",
            code="bet_stake",
            flags=Flag.POST if i % 2 else Flag.PENDING,
            reference=f"bet:{i}",
            created_at=stamp if i else stamp + timedelta(seconds=1),
            debit_balance_after=-i,
            credit_balance_after=i,
            pending_id=uuid.uuid4() if i % 2 else None,
            target_account_id=account + 2 if i % 2 == 0 else None,
            expires_at=stamp + timedelta(minutes=i) if i % 2 == 0 else None,
            seq=i + 1,
            hash=bytes([i]) * 32,
            shard=3,
        )
        for i in range(size)
    ]
    seal = Seal(3, 1, size, bytes(32))
    outcome = BatchOutcome(rows, {account: 0}, [], [], {3: (size, seal.hash)}, [seal])
    async with db.transaction() as conn:
        await ledger.store.write(conn, outcome)
    async with db.read() as conn:
        by_id = {t.id: t for t in await ledger.store.transfers_by_id(conn, [t.id for t in rows])}
        streamed = await ledger.store.stream_transfers(conn, 0, size, shard=3)
        resolving = (await conn.execute(select(transfers.c.seq).where(transfers.c.resolves.is_not(None)))).all()
    assert [by_id[t.id] for t in rows] == rows
    assert streamed == rows
    assert await ledger.get_transfer(rows[0].id) == rows[0]
    assert sorted(r.seq for r in resolving) == [t.seq for t in rows if t.resolves is not None]


async def test_the_ledger_builds_the_store_of_its_backend(db: Database) -> None:
    expected = PostgresLedgerStore if db.dialect == "postgresql" else SqliteLedgerStore
    assert type(Ledger(db, ManualClock()).store) is expected

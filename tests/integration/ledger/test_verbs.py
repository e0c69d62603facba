"""The ledger's verbs on a real database, SQLite and PostgreSQL alike: the money each moves, replays, the
take-back split, and one chain lock and one seal per `apply`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.model import AccountKind, ChainHeads
from sportsbook.ledger.service import Ledger, Wallet
from sportsbook.ledger.store import accounts
from sportsbook.ledger.verbs import Counterpart, Movements, Result

FUNDS = 10_000


def tid() -> uuid.UUID:
    return uuid.uuid4()


async def _apply(ledger: Ledger, moves: Movements, **kwargs: Any) -> list[Result]:
    async with ledger.db.transaction() as conn:
        return await ledger.apply(UnitOfWork(conn), moves, **kwargs)


async def _player(ledger: Ledger, funds: int = FUNDS) -> uuid.UUID:
    player = uuid.uuid4()
    async with ledger.db.transaction() as conn:
        await ledger.open_player_accounts(UnitOfWork(conn), player, "EUR")
    if funds:
        moves = Movements()
        moves.credit_cash(tid(), player, "EUR", funds, "deposit", "opening", Counterpart.EQUITY)
        assert await _apply(ledger, moves) == [Result.OK]
    return player


async def _wallet(ledger: Ledger, player: uuid.UUID) -> tuple[int, int]:
    wallet: Wallet = await ledger.wallet(player, "EUR")
    return wallet.cash, wallet.reserved


async def _revenue(ledger: Ledger) -> int:
    revenue = await ledger.house_account(AccountKind.REVENUE, "EUR")  # the engine's raw surface: a test's eye
    return (await ledger.balances([revenue]))[revenue]


async def _sound(ledger: Ledger) -> None:
    report = await ledger.reconcile()
    assert report.sound, report.faults


async def _head(ledger: Ledger) -> tuple[int, bytes]:
    async with ledger.db.read() as conn:
        return await ledger.store.chain_head(conn)


async def _stake(ledger: Ledger, player: uuid.UUID, amount: int) -> uuid.UUID:
    hold = tid()
    moves = Movements()
    moves.reserve_stake(hold, player, "EUR", amount, f"bet:{hold}")
    assert await _apply(ledger, moves) == [Result.OK]
    return hold


async def test_reserve_stake_holds_cash_and_a_replay_moves_nothing(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    moves = Movements()
    moves.reserve_stake(tid(), player, "EUR", 2_500, "bet:1")
    assert await _apply(ledger, moves) == [Result.OK]
    assert await _wallet(ledger, player) == (7_500, 2_500)
    assert await _apply(ledger, moves) == [Result.EXISTS]
    assert await _wallet(ledger, player) == (7_500, 2_500)
    too_much = Movements()
    too_much.reserve_stake(tid(), player, "EUR", 7_501, "bet:2")
    assert await _apply(ledger, too_much) == [Result.INSUFFICIENT_FUNDS]
    await _sound(ledger)


async def test_a_player_without_a_cash_account_is_account_not_found_and_nothing_is_created(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    moves = Movements()
    moves.reserve_stake(tid(), uuid.uuid4(), "EUR", 100, "bet:1")  # no such player
    moves.reserve_stake(tid(), player, "GBP", 100, "bet:2")  # no account in that currency
    moves.credit_cash(tid(), player, "GBP", 100, "adjustment", "a")
    moves.reserve_stake(tid(), player, "EUR", 100, "bet:3")
    assert await _apply(ledger, moves) == [Result.ACCOUNT_NOT_FOUND] * 3 + [Result.OK]
    async with db.read() as conn:
        gbp = (await conn.execute(select(func.count()).where(accounts.c.currency == "GBP"))).scalar_one()
    assert gbp == 0  # no house account opened for a currency no player of the batch holds
    await _sound(ledger)


async def test_reserving_500_stakes_in_one_call_takes_one_lock_and_one_seal(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    players = [await _player(ledger, 1_000) for _ in range(5)]
    seq, _ = await _head(ledger)
    moves = Movements()
    for i in range(500):
        moves.reserve_stake(tid(), players[i % 5], "EUR", 10, f"bet:{i}")
    locks = _count_locks(ledger)
    assert await _apply(ledger, moves, new_ids=True) == [Result.OK] * 500
    assert locks() == 1
    assert (await _head(ledger))[0] == seq + 500
    for player in players:
        assert await _wallet(ledger, player) == (0, 1_000)
    await _sound(ledger)


async def test_void_hold_returns_the_stake_and_closes_under_the_holds_code(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    hold = await _stake(ledger, player, 3_000)
    void = tid()
    moves = Movements()
    moves.void_hold(void, hold)
    assert await _apply(ledger, moves) == [Result.OK]
    assert await _wallet(ledger, player) == (FUNDS, 0)
    stored = await ledger.get_transfer(void)
    assert stored is not None
    assert stored.code == "bet_stake"
    assert await _apply(ledger, moves) == [Result.EXISTS]
    again = Movements()
    again.void_hold(tid(), hold)
    assert await _apply(ledger, again) == [Result.PENDING_TRANSFER_ALREADY_VOIDED]
    assert await _wallet(ledger, player) == (FUNDS, 0)
    await _sound(ledger)


async def test_post_stake_keeps_part_for_revenue_and_releases_the_rest(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    hold = await _stake(ledger, player, 3_000)
    refused = Movements()
    refused.post_stake(tid(), hold, 0)
    refused.post_stake(tid(), hold, 3_001)
    assert await _apply(ledger, refused) == [Result.AMOUNT_MUST_BE_POSITIVE, Result.EXCEEDS_PENDING_TRANSFER_AMOUNT]
    moves = Movements()
    moves.post_stake(tid(), hold, 1_000)
    assert await _apply(ledger, moves) == [Result.OK]
    assert await _wallet(ledger, player) == (FUNDS - 1_000, 0)
    assert await _revenue(ledger) == 1_000
    assert await _apply(ledger, moves) == [Result.EXISTS]
    assert await _wallet(ledger, player) == (FUNDS - 1_000, 0)
    await _sound(ledger)


async def test_settling_a_winner_posts_the_stake_and_pays_the_return_in_one_call(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    hold = await _stake(ledger, player, 1_000)
    async with db.read() as conn:
        pending = await ledger.pending_transfers(UnitOfWork(conn), [hold])
    moves = Movements()
    moves.post_stake(tid(), hold, 1_000)
    moves.pay_return(tid(), player, "EUR", 2_500, "bet:1")
    assert await _apply(ledger, moves, known_pending=pending) == [Result.OK, Result.OK]
    assert await _wallet(ledger, player) == (FUNDS + 1_500, 0)
    assert await _revenue(ledger) == -1_500
    assert await _apply(ledger, moves) == [Result.EXISTS, Result.EXISTS]
    assert await _wallet(ledger, player) == (FUNDS + 1_500, 0)
    await _sound(ledger)


async def test_take_back_comes_from_cash_first_and_the_rest_is_owed(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger, 1_000)
    covered = Movements()
    covered.take_back_return((tid(), tid()), player, "EUR", 600, "bet:1")
    assert await _apply(ledger, covered) == [Result.OK]
    assert (await _wallet(ledger, player), await ledger.owed(player, "EUR")) == ((400, 0), 0)
    # a player whose cash covered every take-back has no receivable at all
    async with db.read() as conn:
        receivables = (await conn.execute(select(func.count()).where(accounts.c.kind == "receivable"))).scalar_one()
    assert receivables == 0
    split = Movements()
    split.take_back_return((tid(), tid()), player, "EUR", 1_000, "bet:2")
    assert await _apply(ledger, split) == [Result.OK]
    assert (await _wallet(ledger, player), await ledger.owed(player, "EUR")) == ((0, 0), 600)
    assert await _revenue(ledger) == 1_600
    await _sound(ledger)


async def test_two_take_backs_for_one_player_in_one_batch_split_on_what_the_first_left(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger, 1_000)
    other = await _player(ledger, 50)
    cash_ids = [tid() for _ in range(3)]
    owed_ids = [tid() for _ in range(3)]
    moves = Movements()
    moves.take_back_return((cash_ids[0], owed_ids[0]), player, "EUR", 700, "bet:1")  # 700 from cash
    moves.pay_return(tid(), player, "EUR", 100, "bet:9")  # the batch's own movements count too
    moves.take_back_return((cash_ids[1], owed_ids[1]), player, "EUR", 900, "bet:2")  # 400 from cash, 500 owed
    moves.take_back_return((cash_ids[2], owed_ids[2]), other, "EUR", 80, "bet:3")  # 50 from cash, 30 owed
    locks = _count_locks(ledger)
    assert await _apply(ledger, moves) == [Result.OK] * 4
    assert locks() == 1
    amounts = {}
    for t in (*cash_ids, *owed_ids):
        stored = await ledger.get_transfer(t)
        amounts[t] = stored.amount if stored is not None else 0
    assert [amounts[t] for t in cash_ids] == [700, 400, 50]
    assert [amounts[t] for t in owed_ids] == [0, 500, 30]
    assert (await _wallet(ledger, player), await ledger.owed(player, "EUR")) == ((0, 0), 500)
    assert (await _wallet(ledger, other), await ledger.owed(other, "EUR")) == ((0, 0), 30)
    await _sound(ledger)
    # replayed after the player has cash again: answered from what is stored, nothing moves
    top_up = Movements()
    top_up.credit_cash(tid(), player, "EUR", 5_000, "adjustment", "a")
    assert await _apply(ledger, top_up) == [Result.OK]
    assert await _apply(ledger, moves) == [Result.EXISTS] * 4
    assert (await _wallet(ledger, player), await ledger.owed(player, "EUR")) == ((5_000, 0), 500)
    changed = Movements()
    changed.take_back_return((cash_ids[1], owed_ids[1]), player, "EUR", 901, "bet:2")
    assert await _apply(ledger, changed) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    await _sound(ledger)


async def test_reserve_stake_again_refunds_and_holds_all_or_nothing(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    first = await _stake(ledger, player, 2_000)
    post = Movements()
    post.post_stake(tid(), first, 2_000)
    assert await _apply(ledger, post) == [Result.OK]
    assert (await _wallet(ledger, player), await _revenue(ledger)) == ((FUNDS - 2_000, 0), 2_000)
    refund, hold = tid(), tid()
    again = Movements()
    again.reserve_stake_again(refund, hold, player, "EUR", 2_000, "bet:1")
    assert await _apply(ledger, again) == [Result.OK]
    assert (await _wallet(ledger, player), await _revenue(ledger)) == ((FUNDS - 2_000, 2_000), 0)
    assert await _apply(ledger, again) == [Result.EXISTS]
    # the new hold is a stake like the first: settlement voids or posts it the same way
    void = Movements()
    void.void_hold(tid(), hold)
    assert await _apply(ledger, void) == [Result.OK]
    assert await _wallet(ledger, player) == (FUNDS, 0)
    # half of it stored already (its refund id used by another transfer): nothing of it applies
    taken = tid()
    other = Movements()
    other.pay_return(taken, player, "EUR", 1, "bet:2")
    assert await _apply(ledger, other) == [Result.OK]
    partial = Movements()
    partial.reserve_stake_again(taken, tid(), player, "EUR", 500, "bet:2")
    assert await _apply(ledger, partial) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert await _wallet(ledger, player) == (FUNDS + 1, 0)
    await _sound(ledger)


async def test_credit_and_debit_cash_against_a_house_counterpart(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger, 0)
    credit, debit = Movements(), Movements()
    credit.credit_cash(tid(), player, "EUR", 700, "adjustment", "adjustment:1")
    debit.debit_cash(tid(), player, "EUR", 300, "adjustment", "adjustment:2")
    assert await _apply(ledger, credit) == [Result.OK]
    assert await _apply(ledger, debit) == [Result.OK]
    assert await _apply(ledger, credit) == [Result.EXISTS]
    assert await _apply(ledger, debit) == [Result.EXISTS]
    assert await _wallet(ledger, player) == (400, 0)
    house = await ledger.house_account(AccountKind.ADJUSTMENTS, "EUR")
    assert await ledger.balances([house]) == {house: -400}
    beyond = Movements()
    beyond.debit_cash(tid(), player, "EUR", 401, "adjustment", "adjustment:3")
    assert await _apply(ledger, beyond) == [Result.INSUFFICIENT_FUNDS]
    lines = await ledger.statement(player, "EUR")
    assert [(line.kind, line.amount, line.balance_after) for line in lines] == [
        ("adjustment", -300, 400),
        ("adjustment", 700, 700),
    ]
    await _sound(ledger)


async def test_every_verb_in_one_apply_is_one_lock_and_one_seal(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    held, lost = await _stake(ledger, player, 1_000), await _stake(ledger, player, 1_000)
    posted = await _stake(ledger, player, 1_000)
    post = Movements()
    post.post_stake(tid(), posted, 1_000)
    assert await _apply(ledger, post) == [Result.OK]
    before_seq, _ = await _head(ledger)
    moves = Movements()
    moves.reserve_stake(tid(), player, "EUR", 500, "bet:new")
    moves.void_hold(tid(), held)
    moves.post_stake(tid(), lost, 400)  # two rows: the post and the release
    moves.pay_return(tid(), player, "EUR", 250, "bet:won")
    moves.take_back_return((tid(), tid()), player, "EUR", 100, "bet:rolled-back")
    moves.reserve_stake_again(tid(), tid(), player, "EUR", 1_000, "bet:reopened")  # two rows
    moves.credit_cash(tid(), player, "EUR", 10, "adjustment", "a")
    moves.debit_cash(tid(), player, "EUR", 10, "adjustment", "b")
    locks = _count_locks(ledger)
    assert await _apply(ledger, moves) == [Result.OK] * 8
    assert locks() == 1
    seq, head = await _head(ledger)
    assert seq == before_seq + 10
    assert await _seals_after(ledger, before_seq) == [(before_seq + 1, seq, head)]  # the head is the one seal's
    await _sound(ledger)


async def test_an_empty_batch_takes_no_lock(db: Database) -> None:
    ledger = Ledger(db, ManualClock())
    locks = _count_locks(ledger)
    assert await _apply(ledger, Movements()) == []
    assert locks() == 0


def _count_locks(ledger: Ledger) -> Callable[[], int]:
    """Count the times chain locks are taken from now on (one statement locks every shard a call needs)."""
    calls = [0]
    original: Callable[..., Awaitable[ChainHeads]] = ledger.store.lock_chains

    async def counting(conn: Any, shards: Any, ensure: Any = ()) -> ChainHeads:
        calls[0] += 1
        return await original(conn, shards, ensure)

    ledger.store.lock_chains = counting  # type: ignore[method-assign]
    return lambda: calls[0]


async def _seals_after(ledger: Ledger, seq: int) -> list[tuple[int, int, bytes]]:
    async with ledger.db.read() as conn:
        return [(s.first_seq, s.seq, s.hash) for s in await ledger.store.stream_seals(conn, seq, 1_000)]


@pytest.mark.parametrize("amount", [0, -1])
async def test_a_take_back_of_nothing_is_refused_and_moves_nothing(db: Database, amount: int) -> None:
    ledger = Ledger(db, ManualClock())
    player = await _player(ledger)
    moves = Movements()
    moves.take_back_return((tid(), tid()), player, "EUR", amount, "bet:1")
    assert await _apply(ledger, moves) == [Result.AMOUNT_MUST_BE_POSITIVE]
    assert await _wallet(ledger, player) == (FUNDS, 0)

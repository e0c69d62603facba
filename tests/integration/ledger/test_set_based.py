"""A settlement's transfers written set-based (PostgreSQL: the database adds the balances, hashes the rows and seals
them) are the very rows, balances and seals the model writes for the same batch, on SQLite and PostgreSQL alike
(SQLite always decides the usual way); a hold closed meanwhile makes the set-based write write nothing and the
batch is decided the usual way."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.model import Seal
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import accounts, chain, seals, transfers
from sportsbook.ledger.verbs import Counterpart, Movements, Result
from tests.integration.ledger.shards import SHARDS, player_on

NOW = datetime(2026, 12, 4, 18, 0, 0, 123456, tzinfo=UTC)


class _Rollback(Exception):
    pass


def _ledger(db: Database) -> tuple[Ledger, list[Seal | None]]:
    """A ledger whose set-based writes are recorded: the seals written, None where it wrote nothing."""
    ledger = Ledger(db, ManualClock(NOW), shards=SHARDS)
    written: list[Seal | None] = []
    original = ledger.store.write_set

    async def recording(*args: Any) -> list[Seal] | None:
        got = await original(*args)
        written.extend(got if got is not None else [None])
        return got

    ledger.store.write_set = recording  # type: ignore[method-assign,assignment]
    return ledger, written


async def _players_with_holds(ledger: Ledger, stakes: list[int]) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """A player per stake, on shards in turn, each funded and holding that stake: (player, hold, stake)."""
    out = []
    async with ledger.db.transaction() as conn:
        uow = UnitOfWork(conn)
        moves = Movements()
        for i, stake in enumerate(stakes):
            player, hold = player_on(i % SHARDS), uuid.uuid4()
            await ledger.open_player_accounts(uow, player, "EUR")
            moves.credit_cash(uuid.uuid4(), player, "EUR", 100_000, "deposit", "opening", Counterpart.EQUITY)
            moves.reserve_stake(hold, player, "EUR", stake, f"bet:{hold}")
            out.append((player, hold, stake))
        assert set(await ledger.apply(uow, moves)) == {Result.OK}
    return out


def _settlement(bets: list[tuple[uuid.UUID, uuid.UUID, int]], returns: list[int]) -> Movements:
    """Each bet settled as a settlement chunk settles it (its hold voided, posted in part or in full, and the
    rest of its return paid), for the return drawn."""
    moves = Movements()
    for (player, hold, stake), paid in zip(bets, returns, strict=True):
        if paid == stake:
            moves.void_hold(uuid.uuid4(), hold)
        elif paid < stake:
            moves.post_stake(uuid.uuid4(), hold, stake - paid)
        else:
            moves.post_stake(uuid.uuid4(), hold, stake)
            moves.pay_return(uuid.uuid4(), player, "EUR", paid - stake, f"bet:{hold}")
    return moves


async def _journal_after(conn: Any, heads: dict[int, int]) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The rows and seals written after these heads, every balance and every head."""
    rows = []
    for s, q in heads.items():
        rows += (await conn.execute(
            select(transfers).where(transfers.c.shard == s, transfers.c.seq > q).order_by(transfers.c.seq)
        )).all()  # fmt: skip
    sealed = []
    for s, q in heads.items():
        sealed += (await conn.execute(select(seals).where(seals.c.shard == s, seals.c.seq > q))).all()
    balances = (await conn.execute(select(accounts.c.id, accounts.c.balance).order_by(accounts.c.id))).all()
    chains = (await conn.execute(select(chain).order_by(chain.c.shard))).all()
    return rows, sealed, balances, chains


async def _settle(ledger: Ledger, moves: Movements, pending: Any, keep: bool) -> tuple[list[Result], Any]:
    """Apply a settlement batch as a chunk does (fresh ids, holds read before); what it wrote, kept or not."""
    out: list[Any] = []
    with contextlib.suppress(_Rollback):
        async with ledger.db.transaction() as conn:
            heads = {s: seq for s, (seq, _h) in (await ledger.store.chain_heads(conn)).items()}
            uow = UnitOfWork(conn)
            out.append(await ledger.apply(uow, moves, known_pending=pending, new_ids=True))
            out.append(await _journal_after(conn, heads))
            if not keep:
                raise _Rollback
    return out[0], out[1]


stakes = st.lists(st.integers(1, 5_000), min_size=1, max_size=12)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stakes, st.data())
async def test_a_settlement_written_set_based_is_the_batch_the_model_writes(
    db: Database, stakes: list[int], data: st.DataObject
) -> None:
    ledger, written = _ledger(db)
    bets = await _players_with_holds(ledger, stakes)
    returns = [data.draw(st.sampled_from([0, stake, stake // 2, stake * 3, stake + 1])) for stake in stakes]
    moves = _settlement(bets, returns)
    async with db.read() as conn:
        pending = {t.id: t for t in await ledger.store.transfers_by_id(conn, [hold for _p, hold, _s in bets])}

    ledger.set_based = True
    results, set_based = await _settle(ledger, moves, pending, keep=False)
    assert results == [Result.OK] * len(moves)
    took_sets = db.dialect == "postgresql"
    assert (written != [] and None not in written) is took_sets
    ledger.set_based = False
    results, decided = await _settle(ledger, moves, pending, keep=True)
    assert results == [Result.OK] * len(moves)
    assert set_based == decided  # rows (hashes and balances after included), seals, balances, heads
    report = await ledger.reconcile()
    assert report.sound, report.faults


async def test_a_hold_closed_meanwhile_writes_nothing_set_based_and_is_answered_as_usual(db: Database) -> None:
    ledger, written = _ledger(db)
    bets = await _players_with_holds(ledger, [1_000, 2_000])
    async with db.read() as conn:
        pending = {t.id: t for t in await ledger.store.transfers_by_id(conn, [hold for _p, hold, _s in bets])}
    first = Movements()
    first.void_hold(uuid.uuid4(), bets[1][1])
    async with db.transaction() as conn:
        assert await ledger.apply(UnitOfWork(conn), first, known_pending=pending, new_ids=True) == [Result.OK]
    written.clear()
    moves = _settlement(bets, [0, 0])  # the second hold was voided by then
    results, _journal = await _settle(ledger, moves, pending, keep=True)
    assert results == [Result.OK, Result.PENDING_TRANSFER_ALREADY_VOIDED]
    assert written == [None]  # on PostgreSQL the guard found a hold closed; SQLite writes no sets
    report = await ledger.reconcile()
    assert report.sound, report.faults

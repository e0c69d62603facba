"""Shards in the pure model: where a player opens, that a transfer never crosses shards, and that each shard's
rows are sealed on a chain of their own."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.ledger.model import (
    GENESIS_HASH,
    Account,
    AccountKind,
    LedgerBatch,
    LedgerState,
    Phase,
    Result,
    TransferRequest,
    shard_for,
    verify_chain,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SHARDS = 4


@given(st.uuids(), st.integers(min_value=1, max_value=256))
def test_a_player_opens_on_a_shard_in_range_and_always_the_same(player: uuid.UUID, shards: int) -> None:
    shard = shard_for(player, shards)
    assert 0 <= shard < shards
    assert shard_for(player, shards) == shard
    assert shard_for(uuid.UUID(bytes=player.bytes), shards) == shard  # the id's value, not the object


def test_the_shard_of_a_player_is_the_same_in_every_process() -> None:
    # a stable hash, not Python's salted one: every node and every restart routes a player alike
    player = uuid.UUID("00000000-0000-4000-8000-000000000000")
    assert [shard_for(player, n) for n in (1, 2, 4, 8)] == [0, 1, 3, 3]


def test_new_players_spread_evenly_over_the_shards() -> None:
    counts = Counter(shard_for(uuid.uuid4(), SHARDS) for _ in range(8_000))
    assert set(counts) == set(range(SHARDS))
    assert all(1_700 < n < 2_300 for n in counts.values()), counts


def test_a_ledger_has_at_least_one_shard() -> None:
    with pytest.raises(ValueError, match="at least one shard"):
        shard_for(uuid.uuid4(), 0)


def _state() -> LedgerState:
    """Per shard: a house equity account (id 10 + shard) and one player's cash (20 + shard) and reserved (30 +)."""
    accounts: dict[int, Account] = {}
    holding: dict[tuple[str, str], int] = {}
    for s in range(SHARDS):
        accounts[20 + s] = Account(20 + s, f"player:{s}", AccountKind.CASH, "EUR", True, 1_000_000, s)
        accounts[30 + s] = Account(30 + s, f"player:{s}", AccountKind.RESERVED, "EUR", True, 0, s)
        accounts[10 + s] = Account(10 + s, "house", AccountKind.EQUITY, "EUR", False, -1_000_000, s)
        holding[(f"player:{s}", "EUR")] = 30 + s
    return LedgerState(accounts=accounts, holding=holding)


def test_a_transfer_between_accounts_of_two_shards_is_refused() -> None:
    batch = LedgerBatch(_state(), NOW)
    results = batch.apply([TransferRequest(uuid.uuid4(), 20, 11, 100), TransferRequest(uuid.uuid4(), 20, 10, 100)])
    assert results == [Result.ACCOUNTS_MUST_BE_ON_THE_SAME_SHARD, Result.OK]
    outcome = batch.seal_chains({0: (0, GENESIS_HASH)})
    assert [r.shard for r in outcome.rows] == [0]


def test_a_pending_transfer_held_on_another_shard_is_refused() -> None:
    state = _state()
    state.holding[("player:0", "EUR")] = 31  # a reserved account of shard 1
    batch = LedgerBatch(state, NOW)
    pending = TransferRequest(uuid.uuid4(), 20, 10, 100, phase=Phase.PENDING)
    assert batch.apply([pending]) == [Result.ACCOUNTS_MUST_BE_ON_THE_SAME_SHARD]


moves = st.lists(
    st.tuples(st.integers(0, SHARDS - 1), st.booleans(), st.integers(1, 500), st.sampled_from(list(Phase)[:2])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60)
@given(moves, st.lists(st.integers(0, 50), min_size=SHARDS, max_size=SHARDS))
def test_each_shard_seals_its_rows_on_its_own_chain(
    requests: list[tuple[int, bool, int, Phase]], start_seqs: list[int]
) -> None:
    """Whatever the mix of shards in a batch, each shard's rows number on from its own head without a gap and
    are sealed as one batch after its own head; the outcome's heads are each moved chain's seal; no other chain
    moves."""
    heads = {s: (seq, bytes([s + 1]) * 32) for s, seq in enumerate(start_seqs)}
    batch = LedgerBatch(_state(), NOW)
    for shard, to_player, amount, phase in requests:
        debit, credit = (10 + shard, 20 + shard) if to_player else (20 + shard, 10 + shard)
        if phase is Phase.PENDING:
            debit, credit = 20 + shard, 10 + shard
        assert batch.apply([TransferRequest(uuid.uuid4(), debit, credit, amount, phase=phase)]) == [Result.OK]
    outcome = batch.seal_chains(heads)
    moved = {r.shard for r in outcome.rows}
    assert moved == {shard for shard, *_ in requests}
    assert set(outcome.heads) == moved
    for shard in moved:
        rows = [r for r in outcome.rows if r.shard == shard]
        assert all(r.debit_account_id % 10 == shard and r.credit_account_id % 10 == shard for r in rows)
        prev_seq, prev_hash = heads[shard]
        sealed = [s for s in outcome.seals if s.shard == shard]
        assert [(s.first_seq, s.seq) for s in sealed] == [(prev_seq + 1, prev_seq + len(rows))]
        assert verify_chain(rows, sealed, prev_seq, prev_hash, shard) == []
        assert outcome.heads[shard] == (rows[-1].seq, sealed[0].hash)


def test_a_broken_row_is_named_with_its_shard() -> None:
    batch = LedgerBatch(_state(), NOW)
    batch.apply([TransferRequest(uuid.uuid4(), 12, 22, 100), TransferRequest(uuid.uuid4(), 12, 22, 200)])
    outcome = batch.seal_chains({2: (0, GENESIS_HASH)})
    outcome.rows[0].amount += 1
    faults = verify_chain(outcome.rows, outcome.seals, 0, GENESIS_HASH, 2)
    assert [(f.kind, f.subject, f.shard) for f in faults] == [("hash_mismatch", f"transfer {outcome.rows[0].id}", 2)]
    assert "shard 2" in faults[0].detail

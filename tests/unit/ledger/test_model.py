"""The ledger's rules, without a database: results, two-phase transfers, linked chains, the hash chain."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.core.ids import derived_id
from sportsbook.ledger.model import (
    GENESIS_HASH,
    Account,
    AccountKind,
    Flag,
    LedgerBatch,
    LedgerState,
    PendingState,
    Phase,
    Resolution,
    Result,
    Seal,
    Transfer,
    TransferRequest,
    row_hash,
    verify_chain,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUSE, ALICE, ALICE_HOLD, BOB, BOB_HOLD, DOLLARS = 1, 2, 3, 4, 5, 6


class MemoryLedger:
    """A ledger kept in memory: applies batches with the model and folds the outcome back into its state."""

    def __init__(self, balances: dict[int, int] | None = None) -> None:
        self.state = LedgerState(
            accounts={
                HOUSE: Account(HOUSE, "house", AccountKind.EQUITY, "EUR", False, 0),
                ALICE: Account(ALICE, "player:a", AccountKind.CASH, "EUR", True, 0),
                ALICE_HOLD: Account(ALICE_HOLD, "player:a", AccountKind.RESERVED, "EUR", True, 0),
                BOB: Account(BOB, "player:b", AccountKind.CASH, "EUR", True, 0),
                BOB_HOLD: Account(BOB_HOLD, "player:b", AccountKind.RESERVED, "EUR", True, 0),
                DOLLARS: Account(DOLLARS, "house", AccountKind.EQUITY, "USD", False, 0),
            },
            holding={("player:a", "EUR"): ALICE_HOLD, ("player:b", "EUR"): BOB_HOLD},
        )
        for account_id, balance in (balances or {}).items():
            self.state.accounts[account_id] = replace(self.state.accounts[account_id], balance=balance)
        self.seq, self.head = 0, GENESIS_HASH
        self.rows: list[Transfer] = []
        self.seals: list[Seal] = []
        self.now = NOW

    def apply(self, *requests: TransferRequest) -> list[Result]:
        batch = LedgerBatch(self.state, self.now)
        results = batch.apply(requests)
        self._fold(batch)
        return results

    def expire(self, *pending_ids: uuid.UUID) -> list[uuid.UUID]:
        batch = LedgerBatch(self.state, self.now)
        expired = batch.expire(pending_ids)
        self._fold(batch)
        return expired

    def _fold(self, batch: LedgerBatch) -> None:
        outcome = batch.seal(self.seq, self.head)
        for account_id, balance in outcome.balances.items():
            self.state.accounts[account_id] = replace(self.state.accounts[account_id], balance=balance)
        for row in outcome.opened:
            self.state.pendings[row.id] = PendingState(row, Resolution.OPEN)
        self.rows.extend(outcome.rows)
        self.seals.extend(outcome.seals)
        self.seq, self.head = outcome.head_seq, outcome.head_hash

    def balance(self, account_id: int) -> int:
        return self.state.accounts[account_id].balance

    def total(self, currency: str = "EUR") -> int:
        return sum(a.balance for a in self.state.accounts.values() if a.currency == currency)


def tid() -> uuid.UUID:
    return uuid.uuid4()


def test_single_transfer_moves_money_and_records_balances_after() -> None:
    ledger = MemoryLedger({HOUSE: 0})
    assert ledger.apply(TransferRequest(tid(), HOUSE, ALICE, 1050, code="deposit")) == [Result.OK]
    assert (ledger.balance(HOUSE), ledger.balance(ALICE)) == (-1050, 1050)
    row = ledger.rows[0]
    assert (row.debit_balance_after, row.credit_balance_after, row.seq) == (-1050, 1050, 1)


def test_player_balance_cannot_go_negative() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    assert ledger.apply(TransferRequest(tid(), ALICE, HOUSE, 101)) == [Result.INSUFFICIENT_FUNDS]
    assert ledger.apply(TransferRequest(tid(), ALICE, HOUSE, 100)) == [Result.OK]
    assert ledger.balance(ALICE) == 0


def test_house_account_may_go_negative() -> None:
    ledger = MemoryLedger()
    assert ledger.apply(TransferRequest(tid(), HOUSE, BOB, 5)) == [Result.OK]
    assert ledger.balance(HOUSE) == -5


def test_refusals_have_their_own_result_codes() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    cases = [
        (TransferRequest(tid(), ALICE, HOUSE, 0), Result.AMOUNT_MUST_BE_POSITIVE),
        (TransferRequest(tid(), ALICE, HOUSE, -5), Result.AMOUNT_MUST_BE_POSITIVE),
        (TransferRequest(tid(), ALICE, HOUSE, 10**16), Result.AMOUNT_TOO_LARGE),
        (TransferRequest(tid(), ALICE, ALICE, 5), Result.ACCOUNTS_MUST_BE_DIFFERENT),
        (TransferRequest(tid(), ALICE, 999, 5), Result.ACCOUNT_NOT_FOUND),
        (TransferRequest(tid(), 999, ALICE, 5), Result.ACCOUNT_NOT_FOUND),
        (TransferRequest(tid(), DOLLARS, ALICE, 5), Result.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY),
        (TransferRequest(tid(), ALICE, HOUSE, 5, code=""), Result.INVALID_CODE),
        (TransferRequest(tid(), ALICE, HOUSE, 5, reference="x" * 129), Result.REFERENCE_TOO_LONG),
        (TransferRequest(tid(), ALICE, HOUSE, 5, timeout_s=5), Result.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER),
        (TransferRequest(tid(), ALICE, HOUSE, 5, phase=Phase.PENDING, timeout_s=-1), Result.TIMEOUT_OUT_OF_RANGE),
        (TransferRequest(tid(), phase=Phase.POST), Result.PENDING_ID_REQUIRED),
        (TransferRequest(tid(), phase=Phase.POST, pending_id=tid()), Result.PENDING_TRANSFER_NOT_FOUND),
    ]
    for request, expected in cases:
        assert ledger.apply(request) == [expected], request
    assert ledger.rows == []
    assert ledger.balance(ALICE) == 100


def test_holding_accounts_move_only_through_two_phase_transfers() -> None:
    ledger = MemoryLedger({ALICE_HOLD: 50, HOUSE: -50})
    for request in (
        TransferRequest(tid(), ALICE_HOLD, HOUSE, 5, phase=Phase.PENDING),
        TransferRequest(tid(), ALICE_HOLD, HOUSE, 5),
        TransferRequest(tid(), HOUSE, ALICE_HOLD, 5),
        TransferRequest(tid(), HOUSE, BOB_HOLD, 5, phase=Phase.PENDING),
    ):
        assert ledger.apply(request) == [Result.HOLDING_ACCOUNT_RESERVED_FOR_PENDING]


def test_replay_with_same_fields_is_exists_and_changes_nothing() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    request = TransferRequest(tid(), ALICE, HOUSE, 40, code="stake", reference="bet-1")
    assert ledger.apply(request) == [Result.OK]
    assert ledger.apply(request) == [Result.EXISTS]
    assert ledger.apply(replace(request, amount=41)) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert ledger.apply(replace(request, reference="bet-2")) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert ledger.balance(ALICE) == 60
    assert len(ledger.rows) == 1


def test_same_id_twice_in_one_batch_applies_once() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    request = TransferRequest(tid(), ALICE, HOUSE, 40)
    assert ledger.apply(request, request) == [Result.OK, Result.EXISTS]
    assert ledger.balance(ALICE) == 60


def test_pending_holds_money_in_the_reserved_account_until_posted() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING, code="stake")
    assert ledger.apply(pending) == [Result.OK]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD), ledger.balance(HOUSE)) == (70, 30, -100)
    assert ledger.apply(TransferRequest(tid(), phase=Phase.POST, pending_id=pending.id)) == [Result.OK]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD), ledger.balance(HOUSE)) == (70, 0, -70)


def test_partial_post_releases_the_rest_to_the_debit_account() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING)
    post = TransferRequest(tid(), amount=20, phase=Phase.POST, pending_id=pending.id)
    assert ledger.apply(pending, post) == [Result.OK, Result.OK]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD), ledger.balance(HOUSE)) == (80, 0, -80)
    release = ledger.rows[-1]
    assert release.flags == Flag.RELEASE
    assert release.id == derived_id(post.id, "release")
    assert release.amount == 10


def test_void_releases_everything() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING)
    ledger.apply(pending)
    assert ledger.apply(TransferRequest(tid(), phase=Phase.VOID, pending_id=pending.id)) == [Result.OK]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD)) == (100, 0)


def test_a_post_or_void_without_a_code_takes_the_code_of_its_pending_transfer() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    first = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING, code="bet_stake")
    second = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING, code="withdrawal")
    post = TransferRequest(tid(), amount=20, phase=Phase.POST, pending_id=first.id, code="")
    void = TransferRequest(tid(), phase=Phase.VOID, pending_id=second.id, code="")
    assert ledger.apply(first, second, post, void) == [Result.OK] * 4
    assert [(row.flags, row.code) for row in ledger.rows[2:]] == [
        (Flag.POST, "bet_stake"),
        (Flag.RELEASE, "bet_stake"),
        (Flag.VOID, "withdrawal"),
    ]
    assert ledger.apply(post, void) == [Result.EXISTS, Result.EXISTS]  # replays compare the code taken
    assert ledger.apply(replace(void, code="other")) == [Result.EXISTS_WITH_DIFFERENT_FIELDS]
    assert ledger.apply(TransferRequest(tid(), ALICE, HOUSE, 5, code="")) == [Result.INVALID_CODE]


def test_a_pending_transfer_resolves_only_once() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING)
    ledger.apply(pending)
    ledger.apply(TransferRequest(tid(), phase=Phase.POST, pending_id=pending.id))
    assert ledger.apply(TransferRequest(tid(), phase=Phase.POST, pending_id=pending.id)) == [
        Result.PENDING_TRANSFER_ALREADY_POSTED
    ]
    assert ledger.apply(TransferRequest(tid(), phase=Phase.VOID, pending_id=pending.id)) == [
        Result.PENDING_TRANSFER_ALREADY_POSTED
    ]
    other = TransferRequest(tid(), ALICE, HOUSE, 5, phase=Phase.PENDING)
    ledger.apply(other, TransferRequest(tid(), phase=Phase.VOID, pending_id=other.id))
    assert ledger.apply(TransferRequest(tid(), phase=Phase.POST, pending_id=other.id)) == [
        Result.PENDING_TRANSFER_ALREADY_VOIDED
    ]


def test_post_beyond_the_pending_amount_is_refused() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING)
    ledger.apply(pending)
    post = TransferRequest(tid(), amount=31, phase=Phase.POST, pending_id=pending.id)
    assert ledger.apply(post) == [Result.EXCEEDS_PENDING_TRANSFER_AMOUNT]
    void = TransferRequest(tid(), amount=29, phase=Phase.VOID, pending_id=pending.id)
    assert ledger.apply(void) == [Result.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT]


def test_posting_a_plain_transfer_is_refused() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    plain = TransferRequest(tid(), ALICE, HOUSE, 30)
    ledger.apply(plain)
    ledger.state.transfers[plain.id] = ledger.rows[-1]
    assert ledger.apply(TransferRequest(tid(), phase=Phase.POST, pending_id=plain.id)) == [
        Result.PENDING_TRANSFER_NOT_PENDING
    ]


def test_expired_pending_is_released_and_cannot_be_posted() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING, timeout_s=60)
    ledger.apply(pending)
    assert ledger.expire(pending.id) == []  # not yet due
    ledger.now = NOW + timedelta(seconds=60)
    post = TransferRequest(tid(), phase=Phase.POST, pending_id=pending.id)
    assert ledger.apply(post) == [Result.PENDING_TRANSFER_EXPIRED]
    assert ledger.expire(pending.id) == [pending.id]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD)) == (100, 0)
    assert ledger.rows[-1].flags == Flag.EXPIRE
    assert ledger.apply(post) == [Result.PENDING_TRANSFER_EXPIRED]


def test_linked_chain_is_all_or_nothing() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    ok = TransferRequest(tid(), ALICE, BOB, 60, linked=True)
    too_much = TransferRequest(tid(), ALICE, BOB, 60, linked=True)
    tail = TransferRequest(tid(), HOUSE, BOB, 1)
    independent = TransferRequest(tid(), ALICE, BOB, 10)
    results = ledger.apply(ok, too_much, tail, independent)
    assert results == [Result.LINKED_EVENT_FAILED, Result.INSUFFICIENT_FUNDS, Result.LINKED_EVENT_FAILED, Result.OK]
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (90, 10)
    assert [r.id for r in ledger.rows] == [independent.id]


def test_linked_chain_left_open_fails() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    first = TransferRequest(tid(), ALICE, BOB, 10, linked=True)
    last = TransferRequest(tid(), ALICE, BOB, 10, linked=True)
    assert ledger.apply(first, last) == [Result.LINKED_EVENT_FAILED, Result.LINKED_EVENT_CHAIN_OPEN]
    assert ledger.balance(ALICE) == 100


def test_failed_chain_undoes_a_pending_opened_and_posted_inside_it() -> None:
    ledger = MemoryLedger({ALICE: 100, HOUSE: -100})
    pending = TransferRequest(tid(), ALICE, HOUSE, 30, phase=Phase.PENDING, linked=True)
    post = TransferRequest(tid(), phase=Phase.POST, pending_id=pending.id, linked=True)
    fails = TransferRequest(tid(), BOB, HOUSE, 1)
    assert ledger.apply(pending, post, fails) == [
        Result.LINKED_EVENT_FAILED,
        Result.LINKED_EVENT_FAILED,
        Result.INSUFFICIENT_FUNDS,
    ]
    assert (ledger.balance(ALICE), ledger.balance(ALICE_HOLD), ledger.balance(HOUSE)) == (100, 0, -100)
    assert ledger.rows == []
    assert pending.id not in ledger.state.transfers
    # the ids are free again: the same chain with a good tail now applies
    good_tail = TransferRequest(tid(), HOUSE, BOB, 1)
    assert ledger.apply(pending, post, good_tail) == [Result.OK, Result.OK, Result.OK]


def test_chain_verifies_and_a_changed_row_is_named() -> None:
    ledger = MemoryLedger({ALICE: 1000, HOUSE: -1000})
    for i in range(5):
        ledger.apply(TransferRequest(tid(), ALICE, BOB, 10 + i), TransferRequest(tid(), BOB, ALICE, 1))
    rows, seals = ledger.rows, ledger.seals
    assert [(s.first_seq, s.seq) for s in seals] == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
    assert verify_chain(rows, seals) == []
    # a changed row no longer matches its own hash
    tampered = list(rows)
    tampered[2] = replace(tampered[2], amount=999)
    assert [(f.kind, f.subject) for f in verify_chain(tampered, seals)] == [("hash_mismatch", f"transfer {rows[2].id}")]
    # a changed row given a hash of its own no longer matches its seal
    tampered[2] = replace(tampered[2], hash=row_hash(tampered[2]))
    assert [(f.kind, f.subject) for f in verify_chain(tampered, seals)] == [("seal_mismatch", "seal of seq 3-4")]
    # a deleted row shows as a gap, and its seal no longer matches
    gap = rows[:2] + rows[3:]
    assert [(f.kind, f.subject) for f in verify_chain(gap, seals)] == [
        ("chain_gap", f"transfer {rows[3].id}"),
        ("seal_mismatch", "seal of seq 3-4"),
    ]
    # a deleted seal shows as a gap, and the seal after it no longer chains to its predecessor
    assert [(f.kind, f.subject) for f in verify_chain(rows, seals[:1] + seals[2:])] == [
        ("seal_gap", "seal of seq 5-6"),
        ("seal_mismatch", "seal of seq 5-6"),
    ]
    # rows after the last seal are named
    assert [(f.kind, f.subject) for f in verify_chain(rows, seals[:4])] == [
        ("unsealed_transfer", f"transfer {rows[8].id}"),
        ("unsealed_transfer", f"transfer {rows[9].id}"),
    ]


def test_a_stretch_of_the_chain_verifies_after_the_seal_before_it() -> None:
    ledger = MemoryLedger({ALICE: 1000, HOUSE: -1000})
    for i in range(4):
        ledger.apply(TransferRequest(tid(), ALICE, BOB, 10 + i))
    before = ledger.seals[1]
    assert verify_chain(ledger.rows[2:], ledger.seals[2:], before.seq, before.hash) == []
    assert [f.kind for f in verify_chain(ledger.rows[2:], ledger.seals[2:], before.seq, GENESIS_HASH)] == [
        "seal_mismatch"
    ]


# ---- properties ----

_ACCOUNTS = [HOUSE, ALICE, ALICE_HOLD, BOB, BOB_HOLD]


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, int, int, int, bool]]:
    """Random operations: (kind, debit index, credit index, amount, linked)."""
    kinds = st.sampled_from(["single", "pending", "post", "void", "expire", "advance"])
    op = st.tuples(
        kinds,
        st.integers(0, len(_ACCOUNTS) - 1),
        st.integers(0, len(_ACCOUNTS) - 1),
        st.integers(-5, 300),
        st.booleans(),
    )
    return draw(st.lists(op, min_size=1, max_size=60))


@settings(max_examples=300, deadline=None)
@given(operations(), st.integers(1, 4))
def test_any_sequence_keeps_currency_at_zero_and_players_non_negative(
    ops: list[tuple[str, int, int, int, bool]], batch_size: int
) -> None:
    ledger = MemoryLedger({ALICE: 500, BOB: 200, HOUSE: -700})
    pendings: list[uuid.UUID] = []
    batch: list[TransferRequest] = []
    for kind, d, c, amount, linked in ops:
        if kind == "advance":
            ledger.now += timedelta(seconds=amount % 120)
            continue
        if kind == "expire":
            ledger.expire(*pendings)
            continue
        if kind in ("post", "void") and pendings:
            phase = Phase.POST if kind == "post" else Phase.VOID
            pid = pendings[amount % len(pendings)]
            post_amount = max(amount, 0) if kind == "post" else 0
            batch.append(TransferRequest(tid(), amount=post_amount, phase=phase, pending_id=pid, linked=linked))
        elif kind == "pending":
            request = TransferRequest(
                tid(), _ACCOUNTS[d], _ACCOUNTS[c], amount, phase=Phase.PENDING, timeout_s=amount % 90,
                linked=linked,
            )  # fmt: skip
            pendings.append(request.id)
            batch.append(request)
        else:
            batch.append(TransferRequest(tid(), _ACCOUNTS[d], _ACCOUNTS[c], amount, linked=linked))
        if len(batch) >= batch_size:
            ledger.apply(*batch)
            batch = []
        assert ledger.total() == 0
        for account in ledger.state.accounts.values():
            assert not account.non_negative or account.balance >= 0
    if batch:
        ledger.apply(*batch)
    assert ledger.total() == 0
    # balances equal credits minus debits of the recorded rows, and the chain verifies
    sums = dict.fromkeys(_ACCOUNTS, 0)
    sums[ALICE], sums[BOB], sums[HOUSE] = 500, 200, -700
    for row in ledger.rows:
        sums[row.debit_account_id] -= row.amount
        sums[row.credit_account_id] += row.amount
    assert all(sums[a] == ledger.balance(a) for a in _ACCOUNTS)
    assert verify_chain(ledger.rows, ledger.seals) == []
    # what is held equals the open pending amounts
    open_held = sum(p.transfer.amount for p in ledger.state.pendings.values() if p.resolution is Resolution.OPEN)
    assert ledger.balance(ALICE_HOLD) + ledger.balance(BOB_HOLD) == open_held

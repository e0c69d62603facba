"""The verbs' translation into transfer requests, without a database: which accounts, which phase, which ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from sportsbook.ledger.model import HOUSE, AccountKey, AccountKind, Flag, Phase, Result, Transfer, TransferRequest
from sportsbook.ledger.verbs import (
    Counterpart,
    MoveCash,
    Movements,
    PayReturn,
    PostStake,
    ReserveStake,
    ReserveStakeAgain,
    TakeBackReturn,
    Verb,
    VoidHold,
    verb_result,
)

PLAYER = uuid.UUID("00000000-0000-4000-8000-000000000001")
T1, T2, HOLD = (uuid.UUID(int=n) for n in (11, 12, 13))
CASH, REVENUE, RECEIVABLE, ADJUSTMENTS = 101, 901, 902, 903
REF = "bet:1"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

PLAYER_CASH = AccountKey(f"player:{PLAYER}", AccountKind.CASH, "EUR")
HOUSE_REVENUE = AccountKey(HOUSE, AccountKind.REVENUE, "EUR")
PLAYER_RECEIVABLE = AccountKey(HOUSE, AccountKind.RECEIVABLE, "EUR", str(PLAYER))


@pytest.mark.parametrize(
    ("verb", "accounts", "ids", "expected"),
    [
        pytest.param(
            ReserveStake(T1, PLAYER, "EUR", 500, REF),
            (PLAYER_CASH, HOUSE_REVENUE),
            [CASH, REVENUE],
            (TransferRequest(T1, CASH, REVENUE, 500, Phase.PENDING, code="bet_stake", reference=REF),),
            id="reserve_stake: pending cash -> revenue",
        ),
        pytest.param(
            VoidHold(T1, HOLD),
            (),
            [],
            (TransferRequest(T1, phase=Phase.VOID, pending_id=HOLD, code=""),),
            id="void_hold: void under the hold's code",
        ),
        pytest.param(
            PostStake(T1, HOLD, 300),
            (),
            [],
            (TransferRequest(T1, amount=300, phase=Phase.POST, pending_id=HOLD, code=""),),
            id="post_stake: post part, the rest released",
        ),
        pytest.param(
            PayReturn(T1, PLAYER, "EUR", 1_800, REF),
            (PLAYER_CASH, HOUSE_REVENUE),
            [CASH, REVENUE],
            (TransferRequest(T1, REVENUE, CASH, 1_800, code="bet_return", reference=REF),),
            id="pay_return: revenue -> cash",
        ),
        pytest.param(
            ReserveStakeAgain(T1, T2, PLAYER, "EUR", 500, REF),
            (PLAYER_CASH, HOUSE_REVENUE),
            [CASH, REVENUE],
            (
                TransferRequest(T1, REVENUE, CASH, 500, code="bet_stake_refund", reference=REF, linked=True),
                TransferRequest(T2, CASH, REVENUE, 500, Phase.PENDING, code="bet_stake", reference=REF),
            ),
            id="reserve_stake_again: refund then hold, linked",
        ),
        pytest.param(
            MoveCash(T1, PLAYER, "EUR", 250, "adjustment", "adjustment:1"),
            (PLAYER_CASH, AccountKey(HOUSE, AccountKind.ADJUSTMENTS, "EUR")),
            [CASH, ADJUSTMENTS],
            (TransferRequest(T1, ADJUSTMENTS, CASH, 250, code="adjustment", reference="adjustment:1"),),
            id="credit_cash: adjustments -> cash",
        ),
        pytest.param(
            MoveCash(T1, PLAYER, "EUR", 250, "adjustment", "adjustment:1", credit=False),
            (PLAYER_CASH, AccountKey(HOUSE, AccountKind.ADJUSTMENTS, "EUR")),
            [CASH, ADJUSTMENTS],
            (TransferRequest(T1, CASH, ADJUSTMENTS, 250, code="adjustment", reference="adjustment:1"),),
            id="debit_cash: cash -> adjustments",
        ),
        pytest.param(
            MoveCash(T1, PLAYER, "EUR", 250, "deposit", "", Counterpart.EQUITY),
            (PLAYER_CASH, AccountKey(HOUSE, AccountKind.EQUITY, "EUR")),
            [CASH, 904],
            (TransferRequest(T1, 904, CASH, 250, code="deposit"),),
            id="credit_cash: another counterpart",
        ),
    ],
)
def test_each_verb_makes_its_transfers(
    verb: Verb, accounts: tuple[AccountKey, ...], ids: list[int | None], expected: tuple[TransferRequest, ...]
) -> None:
    assert not isinstance(verb, TakeBackReturn)
    assert verb.accounts() == accounts
    assert verb.transfers(ids) == expected


@pytest.mark.parametrize(
    "verb",
    [
        ReserveStake(T1, PLAYER, "EUR", 500, REF),
        PayReturn(T1, PLAYER, "EUR", 500, REF),
        ReserveStakeAgain(T1, T2, PLAYER, "EUR", 500, REF),
        MoveCash(T1, PLAYER, "EUR", 500, "adjustment", ""),
        MoveCash(T1, PLAYER, "EUR", 500, "adjustment", "", credit=False),
    ],
)
def test_a_player_without_a_cash_account_is_account_not_found_not_a_sentinel_id(verb: Verb) -> None:
    assert not isinstance(verb, TakeBackReturn)
    assert verb.transfers([None, REVENUE]) is Result.ACCOUNT_NOT_FOUND


@pytest.mark.parametrize(
    ("amount", "expected"), [(0, Result.AMOUNT_MUST_BE_POSITIVE), (10**16, Result.AMOUNT_TOO_LARGE)]
)
def test_a_post_of_nothing_or_too_much_is_refused_before_the_engine(amount: int, expected: Result) -> None:
    # the engine reads a post of 0 as "all of it": the verb never sends one
    assert PostStake(T1, HOLD, amount).transfers([]) is expected


def test_take_back_names_cash_revenue_and_the_players_receivable() -> None:
    verb = TakeBackReturn((T1, T2), PLAYER, "EUR", 900, REF)
    assert verb.accounts() == (PLAYER_CASH, HOUSE_REVENUE, PLAYER_RECEIVABLE)
    assert verb.ids == (T1, T2)


@pytest.mark.parametrize(
    ("cash_balance", "expected"),
    [
        pytest.param(
            2_000,
            (TransferRequest(T1, CASH, REVENUE, 900, code="bet_resettle", reference=REF),),
            id="cash covers it: one transfer from cash",
        ),
        pytest.param(
            900,
            (TransferRequest(T1, CASH, REVENUE, 900, code="bet_resettle", reference=REF),),
            id="cash covers it exactly",
        ),
        pytest.param(
            400,
            (
                TransferRequest(T1, CASH, REVENUE, 400, code="bet_resettle", reference=REF, linked=True),
                TransferRequest(T2, RECEIVABLE, REVENUE, 500, code="bet_resettle", reference=REF),
            ),
            id="cash covers part: the rest is owed, linked",
        ),
        pytest.param(
            0,
            (TransferRequest(T2, RECEIVABLE, REVENUE, 900, code="bet_resettle", reference=REF),),
            id="no cash: all of it owed",
        ),
    ],
)
def test_take_back_splits_between_cash_and_what_is_owed(
    cash_balance: int, expected: tuple[TransferRequest, ...]
) -> None:
    verb = TakeBackReturn((T1, T2), PLAYER, "EUR", 900, REF)
    assert verb.refusal([CASH, REVENUE, RECEIVABLE]) is None
    assert verb.split([CASH, REVENUE, RECEIVABLE], cash_balance) == expected


@pytest.mark.parametrize(
    ("ids", "amount", "expected"),
    [
        ([None, REVENUE, None], 900, Result.ACCOUNT_NOT_FOUND),
        ([CASH, REVENUE, None], 0, Result.AMOUNT_MUST_BE_POSITIVE),
        ([CASH, REVENUE, None], -5, Result.AMOUNT_MUST_BE_POSITIVE),
        ([CASH, REVENUE, None], 10**16, Result.AMOUNT_TOO_LARGE),
        ([CASH, REVENUE, None], 900, None),  # the receivable is created only when something is owed
    ],
)
def test_take_back_refusals(ids: list[int | None], amount: int, expected: Result | None) -> None:
    assert TakeBackReturn((T1, T2), PLAYER, "EUR", amount, REF).refusal(ids) is expected


def _row(tid: uuid.UUID, debit: int, amount: int, *, reference: str = REF, code: str = "bet_resettle") -> Transfer:
    return Transfer(tid, debit, REVENUE, amount, "EUR", code, Flag.NONE, reference, NOW, 0, 0)


@pytest.mark.parametrize(
    ("cash_part", "owed_part", "expected"),
    [
        pytest.param(_row(T1, CASH, 900), None, Result.EXISTS, id="all from cash"),
        pytest.param(_row(T1, CASH, 400), _row(T2, RECEIVABLE, 500), Result.EXISTS, id="split"),
        pytest.param(None, _row(T2, RECEIVABLE, 900), Result.EXISTS, id="all owed"),
        pytest.param(_row(T1, CASH, 400), None, Result.EXISTS_WITH_DIFFERENT_FIELDS, id="another amount"),
        pytest.param(
            _row(T1, CASH, 900, reference="bet:2"), None, Result.EXISTS_WITH_DIFFERENT_FIELDS, id="another reference"
        ),
        pytest.param(_row(T1, 555, 900), None, Result.EXISTS_WITH_DIFFERENT_FIELDS, id="another account"),
        pytest.param(
            _row(T1, CASH, 900, code="bet_return"), None, Result.EXISTS_WITH_DIFFERENT_FIELDS, id="another code"
        ),
    ],
)
def test_a_replayed_take_back_answers_from_what_is_stored_whatever_the_cash_is_now(
    cash_part: Transfer | None, owed_part: Transfer | None, expected: Result
) -> None:
    verb = TakeBackReturn((T1, T2), PLAYER, "EUR", 900, REF)
    assert verb.replay([CASH, REVENUE, RECEIVABLE], cash_part, owed_part) is expected


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([Result.OK], Result.OK),
        ([Result.INSUFFICIENT_FUNDS], Result.INSUFFICIENT_FUNDS),
        ([Result.OK, Result.OK], Result.OK),
        ([Result.EXISTS, Result.EXISTS], Result.EXISTS),
        ([Result.LINKED_EVENT_FAILED, Result.INSUFFICIENT_FUNDS], Result.INSUFFICIENT_FUNDS),
        ([Result.EXISTS_WITH_DIFFERENT_FIELDS, Result.LINKED_EVENT_FAILED], Result.EXISTS_WITH_DIFFERENT_FIELDS),
    ],
)
def test_a_verb_answers_its_first_real_refusal_else_exists_or_ok(results: list[Result], expected: Result) -> None:
    assert verb_result(results) is expected


def test_movements_keep_the_verbs_in_the_order_they_were_added() -> None:
    moves = Movements()
    moves.reserve_stake(T1, PLAYER, "EUR", 500, REF)
    moves.post_stake(T2, HOLD, 200)
    moves.pay_return(T2, PLAYER, "EUR", 100, REF)
    moves.void_hold(T1, HOLD)
    moves.take_back_return((T1, T2), PLAYER, "EUR", 100, REF)
    moves.reserve_stake_again(T1, T2, PLAYER, "EUR", 500, REF)
    moves.credit_cash(T1, PLAYER, "EUR", 5, "adjustment", "a")
    moves.debit_cash(T1, PLAYER, "EUR", 5, "adjustment", "a", counterpart=Counterpart.EQUITY)
    assert [type(v) for v in moves] == [
        ReserveStake,
        PostStake,
        PayReturn,
        VoidHold,
        TakeBackReturn,
        ReserveStakeAgain,
        MoveCash,
        MoveCash,
    ]
    assert len(moves) == 8
    assert moves[-1] == MoveCash(T1, PLAYER, "EUR", 5, "adjustment", "a", Counterpart.EQUITY, credit=False)
    assert moves[5].ids == (T1, T2)

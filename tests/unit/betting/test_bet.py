"""The Bet entity: which transitions each status allows, what they change, and the events they cause."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.betting.model import (
    RESULTED,
    SETTLED,
    Bet,
    BetStatus,
    InvalidTransition,
    Leg,
    StakeState,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _bet(status: BetStatus = BetStatus.OPEN, **changes: Any) -> Bet:
    fields: dict[str, Any] = {
        "id": uuid4(),
        "player_id": uuid4(),
        "currency": "EUR",
        "type": "multiple",
        "system": None,
        "each_way": False,
        "odds_change": "none",
        "stake": 1_000,
        "lines": 1,
        "total_stake": 1_000,
        "potential_return": 4_750,
        "status": status,
        "reject_code": None,
        "return_amount": None,
        "request_hash": "0" * 64,
        "placed_at": NOW - timedelta(hours=1),
        "accept_at": None,
        "settled_at": None,
        "stake_transfer_id": uuid4(),
        "legs": (
            Leg(uuid4(), uuid4(), uuid4(), Decimal("2.50"), None, None),
            Leg(uuid4(), uuid4(), uuid4(), Decimal("1.90"), None, None),
        ),
    }
    fields.update(changes)
    return Bet(**fields)


Move = Callable[[Bet], object]
MOVES: dict[str, Move] = {
    "accept": lambda b: b.accept(NOW),
    "reject": lambda b: b.reject("odds_changed", NOW),
    "restrike": lambda b: b.restrike([Decimal("2.40"), Decimal("1.90")], 4_560),
    "settle": lambda b: b.settle(BetStatus.WON, 4_750, NOW),
    "void": lambda b: b.void(NOW),
    "cash_out": lambda b: b.cash_out(800, NOW),
    "reopen": lambda b: b.reopen(NOW),
}
ALLOWED = {
    "accept": {BetStatus.PENDING},
    "reject": {BetStatus.PENDING},
    "restrike": {BetStatus.PENDING},
    "settle": {BetStatus.OPEN},
    "void": {BetStatus.OPEN},
    "cash_out": {BetStatus.OPEN},
    "reopen": set(RESULTED),
}


@pytest.mark.parametrize("status", list(BetStatus))
@pytest.mark.parametrize("move", list(MOVES))
def test_each_transition_is_allowed_exactly_from_its_statuses(status: BetStatus, move: str) -> None:
    bet = _bet(status)
    if status in ALLOWED[move]:
        MOVES[move](bet)
    else:
        with pytest.raises(InvalidTransition):
            MOVES[move](bet)


def test_accept_opens_a_pending_bet_and_says_so() -> None:
    bet = _bet(BetStatus.PENDING)
    opened, event = bet.accept(NOW)
    assert opened.status is BetStatus.OPEN
    assert (event.to_event().type, event.to_event().payload) == (
        "bet.accepted",
        {"bet_id": str(bet.id), "player_id": str(bet.player_id)},
    )


def test_reject_records_its_code() -> None:
    rejected, event = _bet(BetStatus.PENDING).reject("liability_exceeded", NOW)
    assert (rejected.status, rejected.reject_code) == (BetStatus.REJECTED, "liability_exceeded")
    assert event.to_event().payload["reject_code"] == "liability_exceeded"


def test_restrike_moves_every_leg_in_order_and_the_return() -> None:
    moved = _bet(BetStatus.PENDING).restrike([Decimal("2.40"), Decimal("2.00")], 4_800)
    assert [leg.odds for leg in moved.legs] == [Decimal("2.40"), Decimal("2.00")]
    assert moved.potential_return == 4_800
    with pytest.raises(InvalidTransition):
        _bet(BetStatus.PENDING).restrike([Decimal("2.40")], 2_400)


@pytest.mark.parametrize("status", sorted(RESULTED))
def test_settle_closes_with_the_return_and_takes_the_stake(status: BetStatus) -> None:
    bet = _bet()
    closed, event = bet.settle(status, 1_234, NOW)
    assert (closed.status, closed.return_amount, closed.settled_at) == (status, 1_234, NOW)
    assert (closed.stake_state, closed.settle_count) == (StakeState.TAKEN, 1)
    wire = event.to_event()
    assert (wire.type, wire.payload["status"], wire.payload["return"]) == ("bet.settled", status.value, 1_234)


def test_a_settlement_cannot_close_a_bet_as_cashed_out_or_open() -> None:
    for status in (BetStatus.CASHED_OUT, BetStatus.OPEN, BetStatus.PENDING, BetStatus.REJECTED):
        with pytest.raises(InvalidTransition):
            _bet().settle(status, 0, NOW)


def test_void_pays_every_stake_back() -> None:
    closed, _event = _bet(total_stake=3_000).void(NOW)
    assert (closed.status, closed.return_amount) == (BetStatus.VOID, 3_000)


def test_cash_out_is_final() -> None:
    cashed, event = _bet().cash_out(900, NOW)
    assert (cashed.status, cashed.return_amount) == (BetStatus.CASHED_OUT, 900)
    assert event.to_event().payload["status"] == "cashed_out"
    with pytest.raises(InvalidTransition):
        cashed.reopen(NOW)


def test_placed_event_says_pending_or_accepted() -> None:
    assert _bet(BetStatus.PENDING).placed().to_event().payload["status"] == "pending"
    wire = _bet().placed().to_event()
    assert (wire.type, wire.payload["status"], wire.payload["legs"][0]["odds"]) == ("bet.placed", "accepted", "2.50")


def test_every_status_is_settled_or_unsettled_or_rejected() -> None:
    assert SETTLED | {BetStatus.PENDING, BetStatus.OPEN, BetStatus.REJECTED} == set(BetStatus)


@given(
    result=st.sampled_from(sorted(RESULTED)),
    amount=st.integers(min_value=0, max_value=10**12),
    times=st.integers(min_value=1, max_value=5),
)
def test_settle_and_reopen_leave_the_bet_as_it_was_but_for_its_count(
    result: BetStatus, amount: int, times: int
) -> None:
    bet = _bet()
    current = bet
    for _ in range(times):
        settled, _settled_event = current.settle(result, amount, NOW)
        current, _reopened_event = settled.reopen(NOW)
    assert current.status is BetStatus.OPEN
    assert (current.return_amount, current.settled_at, current.settle_count) == (None, None, times)
    assert current.legs == bet.legs
    assert current.total_stake == bet.total_stake

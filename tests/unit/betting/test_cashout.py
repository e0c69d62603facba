"""Cash-out pricing: re-pricing open legs at current odds, settled legs, margin, and when it is not offered."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.betting.cashout import LegState, OpenLeg, SettledLeg, cashout_value, within_tolerance
from sportsbook.betting.model import BetType, LegSpec, Line, expand_lines, potential_return
from sportsbook.core.markets import EachWayTerms
from sportsbook.core.odds import InvalidOdds

NO_MARGIN = Decimal(0)
FIVE_PERCENT = Decimal("0.05")
ONE_FIFTH = EachWayTerms(Fraction(1, 5), 3)


def legs_at(*odds: str, each_way: EachWayTerms | None = None) -> list[LegSpec]:
    return [LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), Decimal(o), each_way) for o in odds]


def test_single_is_worth_the_stake_times_odds_taken_over_current_odds_less_the_margin() -> None:
    legs, lines = legs_at("3.00"), [Line((0,))]
    state: list[LegState] = [OpenLeg(Decimal("1.50"))]
    assert cashout_value(stake=1_000, lines=lines, legs=legs, leg_states=state, margin=NO_MARGIN) == 2_000
    assert cashout_value(stake=1_000, lines=lines, legs=legs, leg_states=state, margin=FIVE_PERCENT) == 1_900


def test_a_drifting_price_lowers_the_value_below_the_stake() -> None:
    state: list[LegState] = [OpenLeg(Decimal("4.00"))]
    value = cashout_value(stake=1_000, lines=[Line((0,))], legs=legs_at("2.00"), leg_states=state, margin=NO_MARGIN)
    assert value == 500


def test_multiple_with_a_won_leg_carries_its_winnings_onto_the_open_leg() -> None:
    legs = legs_at("2.00", "3.00")
    states: list[LegState] = [SettledLeg(Fraction(2)), OpenLeg(Decimal("1.50"))]
    value = cashout_value(stake=1_000, lines=[Line((0, 1))], legs=legs, leg_states=states, margin=FIVE_PERCENT)
    assert value == 3_800  # 1000 * 2 * 3 / 1.5 * 0.95


def test_void_leg_counts_as_one() -> None:
    legs = legs_at("2.00", "3.00")
    states: list[LegState] = [SettledLeg(Fraction(1)), OpenLeg(Decimal("3.00"))]
    assert cashout_value(stake=1_000, lines=[Line((0, 1))], legs=legs, leg_states=states, margin=NO_MARGIN) == 1_000


def test_multiple_with_a_lost_leg_is_worth_zero() -> None:
    legs = legs_at("2.00", "3.00")
    states: list[LegState] = [SettledLeg(Fraction(0)), OpenLeg(Decimal("1.50"))]
    assert cashout_value(stake=1_000, lines=[Line((0, 1))], legs=legs, leg_states=states, margin=NO_MARGIN) == 0


def test_not_offered_while_an_open_leg_market_is_suspended() -> None:
    legs = legs_at("2.00", "3.00")
    states: list[LegState] = [OpenLeg(Decimal("2.00")), OpenLeg(Decimal("3.00"), active=False)]
    assert cashout_value(stake=100, lines=[Line((0, 1))], legs=legs, leg_states=states, margin=NO_MARGIN) is None


def test_not_offered_when_nothing_is_open() -> None:
    legs = legs_at("2.00", "3.00")
    states: list[LegState] = [SettledLeg(Fraction(2)), SettledLeg(Fraction(3))]
    assert cashout_value(stake=100, lines=[Line((0, 1))], legs=legs, leg_states=states, margin=NO_MARGIN) is None


def test_each_way_place_line_uses_place_odds_on_both_sides() -> None:
    legs = legs_at("11.00", each_way=ONE_FIFTH)
    lines = expand_lines(BetType.SINGLE, None, 1, each_way=True)
    states: list[LegState] = [OpenLeg(Decimal("6.00"))]
    # win: 100 * 11 / 6 = 183.33 -> 183; place: 100 * 3 / 2 = 150 (place odds 1 + 10/5 taken, 1 + 5/5 now)
    assert cashout_value(stake=100, lines=lines, legs=legs, leg_states=states, margin=NO_MARGIN) == 333


def test_each_way_settled_leg_uses_its_place_multiplier_on_the_place_line() -> None:
    legs = legs_at("11.00", "5.00", each_way=ONE_FIFTH)
    lines = expand_lines(BetType.MULTIPLE, None, 2, each_way=True)
    # first leg placed but did not win: the win line is dead, the place line carries 3 onto the open leg
    states: list[LegState] = [SettledLeg(Fraction(0), Fraction(3)), OpenLeg(Decimal("5.00"))]
    assert cashout_value(stake=100, lines=lines, legs=legs, leg_states=states, margin=NO_MARGIN) == 300
    with pytest.raises(ValueError, match="place multiplier"):
        cashout_value(
            stake=100, lines=lines, legs=legs, leg_states=[SettledLeg(Fraction(0)), states[1]], margin=NO_MARGIN
        )


def test_settled_lines_of_a_system_bet_are_paid_in_full_without_margin() -> None:
    legs = legs_at("2.00", "3.00", "4.00")
    lines = expand_lines(BetType.SYSTEM, "patent", 3, each_way=False)
    states: list[LegState] = [SettledLeg(Fraction(2)), OpenLeg(Decimal("3.00")), OpenLeg(Decimal("4.00"))]
    half = Decimal("0.5")
    # singles: 200 (settled: in full), 100 * 0.5 twice; doubles: 200 * 0.5 twice, 100 * 0.5; treble: 200 * 0.5
    assert (
        cashout_value(stake=100, lines=lines, legs=legs, leg_states=states, margin=half)
        == 200 + 50 + 50 + 100 + 100 + 50 + 100
    )


def test_bad_inputs_are_programming_errors() -> None:
    legs = legs_at("2.00")
    with pytest.raises(ValueError, match="margin"):
        cashout_value(stake=1, lines=[Line((0,))], legs=legs, leg_states=[OpenLeg(Decimal(2))], margin=Decimal(1))
    with pytest.raises(ValueError, match="one state per leg"):
        cashout_value(stake=1, lines=[Line((0,))], legs=legs, leg_states=[], margin=NO_MARGIN)
    with pytest.raises(InvalidOdds):
        OpenLeg(Decimal("0.90"))


@pytest.mark.parametrize(
    ("quoted", "current", "ok"),
    [(1_000, 1_000, True), (1_000, 1_001, True), (1_000, 999, False), (1_000, None, False)],
)
def test_a_quote_is_accepted_only_if_the_value_has_not_fallen(quoted: int, current: int | None, ok: bool) -> None:
    assert within_tolerance(quoted, current) is ok


# --- properties ---------------------------------------------------------------------------------------------

odds_st = st.decimals(min_value=Decimal("1.01"), max_value=Decimal("1001"), places=2)


@st.composite
def bets(draw: st.DrawFn) -> tuple[list[Line], list[LegSpec], list[LegState]]:
    odds = draw(st.lists(odds_st, min_size=1, max_size=5))
    legs = [LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), o, ONE_FIFTH) for o in odds]
    n = len(legs)
    bet_type = draw(st.sampled_from([BetType.SINGLE, BetType.MULTIPLE, BetType.SYSTEM]))
    if bet_type is BetType.MULTIPLE and n < 2:
        bet_type = BetType.SINGLE
    system = f"{draw(st.integers(1, n))}/{n}" if bet_type is BetType.SYSTEM else None
    lines = expand_lines(bet_type, system, n, draw(st.booleans()))
    states: list[LegState] = []
    for leg in legs:
        taken = Fraction(leg.odds)
        place = 1 + (taken - 1) * ONE_FIFTH.fraction
        # every settled multiplier a leg can have is at most its odds taken: lost, half lost, void, half won, won
        win = draw(st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(1), (1 + taken) / 2, taken]))
        states.append(
            draw(
                st.one_of(
                    st.builds(OpenLeg, odds_st, st.booleans()),
                    st.just(SettledLeg(win, draw(st.sampled_from([Fraction(0), Fraction(1), place])))),
                )
            )
        )
    return lines, legs, states


margin_st = st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=3)


@given(bets(), st.integers(1, 10**7), margin_st)
def test_cashout_never_exceeds_the_potential_return(
    bet: tuple[list[Line], list[LegSpec], list[LegState]], stake: int, margin: Decimal
) -> None:
    lines, legs, states = bet
    value = cashout_value(stake=stake, lines=lines, legs=legs, leg_states=states, margin=margin)
    assert value is None or 0 <= value <= potential_return(lines, legs, stake)


@given(bets(), st.integers(1, 10**7), margin_st)
def test_none_means_suspended_or_nothing_open_and_zero_means_every_line_is_lost(
    bet: tuple[list[Line], list[LegSpec], list[LegState]], stake: int, margin: Decimal
) -> None:
    lines, legs, states = bet
    value = cashout_value(stake=stake, lines=lines, legs=legs, leg_states=states, margin=margin)
    opens = [s for s in states if isinstance(s, OpenLeg)]
    assert (value is None) == (not opens or not all(s.active for s in opens))

    def lost(line: Line, i: int) -> bool:
        state = states[i]
        if not isinstance(state, SettledLeg):
            return False
        return (state.win if line.part == "win" else state.place) == 0

    if value is not None and all(any(lost(line, i) for i in line.legs) for line in lines):
        assert value == 0


@given(bets(), st.integers(1, 10**7), margin_st, margin_st)
def test_a_larger_margin_never_pays_more(
    bet: tuple[list[Line], list[LegSpec], list[LegState]], stake: int, a: Decimal, b: Decimal
) -> None:
    lines, legs, states = bet
    low, high = sorted((a, b))
    more = cashout_value(stake=stake, lines=lines, legs=legs, leg_states=states, margin=low)
    less = cashout_value(stake=stake, lines=lines, legs=legs, leg_states=states, margin=high)
    assert (more is None) == (less is None)
    if more is not None and less is not None:
        assert less <= more

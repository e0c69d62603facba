"""Bet placement rules without I/O: system-bet line counts, line odds and returns, related legs, the odds-change
policy and stake limits."""

from __future__ import annotations

import uuid
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.betting.model import (
    MAX_LINES,
    SYSTEMS,
    BetType,
    LegSpec,
    Line,
    LinePart,
    OddsChange,
    StakeLimits,
    accept_odds,
    check_each_way,
    check_related,
    check_stake,
    expand_lines,
    line_odds,
    max_stake_for_payout,
    potential_return,
    system_combinations,
)
from sportsbook.betting.refusals import (
    DuplicateSelection,
    EachWayNotOffered,
    InvalidBet,
    OddsChanged,
    RelatedLegs,
    StakeTooHigh,
    StakeTooLow,
)
from sportsbook.core.markets import EachWayTerms
from sportsbook.core.odds import InvalidOdds

ONE_FIFTH = EachWayTerms(Fraction(1, 5), 3)


def leg(odds: str, *, event: uuid.UUID | None = None, each_way: EachWayTerms | None = None) -> LegSpec:
    return LegSpec(uuid.uuid4(), event or uuid.uuid4(), uuid.uuid4(), Decimal(odds), each_way)


def legs_at(*odds: str, each_way: EachWayTerms | None = None) -> list[LegSpec]:
    return [leg(o, each_way=each_way) for o in odds]


# Line counts and make-up of the named systems, each with where it is published:
# - trixie, yankee, canadian, heinz: Sportradar MTS "Bet Type Values"
#   (docs.sportradar.com/mts/transaction-3.0-api/additional-transaction-details/bet-type-values): sizes [2,3],
#   [2,3,4], [2,3,4,5], [2,3,4,5,6].
# - patent: Unibet's bet calculator, www.unibet.nu/betting/bet-calculator/patent/ (3 singles, 3 doubles, 1 treble).
# - canadian: Unibet's bet calculator, www.unibet.co.uk/betting/bet-calculator/canadian/ (a.k.a. Super Yankee:
#   10 doubles, 10 trebles, 5 fourfolds, 1 fivefold).
# - lucky15, lucky31, lucky63 (and trixie to heinz again): Elitebet's full-cover guide, elitebet.co.ug/full_cover.php
#   (Lucky 15 = 4 singles, 6 doubles, 4 trebles, 1 four-fold; Lucky 31 adds the five singles to a Canadian;
#   Lucky 63 adds the six singles to a Heinz); the same page: "The Goliath ... goes up to 247 different bets".
# - super_heinz, goliath make-up: bookiebashing.net/glossary/multiples/ (Super Heinz: 21 doubles, 35 trebles,
#   35 fourfolds, 21 fivefolds, 7 sixfolds, 1 sevenfold; Goliath: 28, 56, 70, 56, 28, 8 and 1 eightfold), the same
#   ladder as betcalc365.com/system-bets-calculator.
NAMED_SYSTEMS = [
    # name, legs, lines, {fold size: count}
    ("trixie", 3, 4, {2: 3, 3: 1}),
    ("patent", 3, 7, {1: 3, 2: 3, 3: 1}),
    ("yankee", 4, 11, {2: 6, 3: 4, 4: 1}),
    ("lucky15", 4, 15, {1: 4, 2: 6, 3: 4, 4: 1}),
    ("canadian", 5, 26, {2: 10, 3: 10, 4: 5, 5: 1}),
    ("lucky31", 5, 31, {1: 5, 2: 10, 3: 10, 4: 5, 5: 1}),
    ("heinz", 6, 57, {2: 15, 3: 20, 4: 15, 5: 6, 6: 1}),
    ("lucky63", 6, 63, {1: 6, 2: 15, 3: 20, 4: 15, 5: 6, 6: 1}),
    ("super_heinz", 7, 120, {2: 21, 3: 35, 4: 35, 5: 21, 6: 7, 7: 1}),
    ("goliath", 8, 247, {2: 28, 3: 56, 4: 70, 5: 56, 6: 28, 7: 8, 8: 1}),
]


@pytest.mark.parametrize(("name", "n_legs", "lines", "folds"), NAMED_SYSTEMS)
def test_named_system_has_its_published_line_count_and_make_up(
    name: str, n_legs: int, lines: int, folds: dict[int, int]
) -> None:
    combos = system_combinations(name, n_legs)
    assert len(combos) == lines
    assert Counter(len(c) for c in combos) == folds
    assert len(set(combos)) == lines  # no combination twice
    assert all(list(c) == sorted(set(c)) for c in combos)


def test_every_named_system_is_in_the_table() -> None:
    assert {row[0] for row in NAMED_SYSTEMS} == set(SYSTEMS)


# Each-way doubles the bets: "an each way Trixie counts as 8 bets", a Patent "14 if you go each way"
# (tiptime.co.uk/horse-racing-multiple-bets/); API.md: "an each-way line counts twice".
@pytest.mark.parametrize(("name", "n_legs", "lines", "folds"), NAMED_SYSTEMS)
def test_each_way_system_has_a_win_and_a_place_line_per_combination(
    name: str, n_legs: int, lines: int, folds: dict[int, int]
) -> None:
    expanded = expand_lines(BetType.SYSTEM, name, n_legs, each_way=True)
    assert len(expanded) == 2 * lines
    assert Counter(line.part for line in expanded) == {LinePart.WIN: lines, LinePart.PLACE: lines}
    assert [line.legs for line in expanded[::2]] == [line.legs for line in expanded[1::2]]


@pytest.mark.parametrize(
    ("system", "n_legs", "lines"),
    [("1/1", 1, 1), ("2/3", 3, 3), ("2/4", 4, 6), ("3/4", 4, 4), ("3/5", 5, 10), ("4/6", 6, 15), ("20/20", 20, 1)],
)
def test_k_of_n_is_every_k_fold_of_n_legs(system: str, n_legs: int, lines: int) -> None:
    combos = system_combinations(system, n_legs)
    assert len(combos) == lines
    k = int(system.split("/")[0])
    assert all(len(c) == k for c in combos)


@given(st.integers(1, 20).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_k_of_n_line_count_is_n_choose_k(k_n: tuple[int, int]) -> None:
    k, n = k_n
    count = comb(n, k)
    if count > MAX_LINES:
        with pytest.raises(InvalidBet):
            system_combinations(f"{k}/{n}", n)
    else:
        assert len(system_combinations(f"{k}/{n}", n)) == count


@pytest.mark.parametrize(
    ("system", "n_legs"),
    [
        ("trixie", 4),  # a trixie is exactly three legs
        ("goliath", 7),
        ("2/4", 5),  # N must be the number of legs
        ("0/3", 3),
        ("4/3", 4),
        ("2/21", 21),
        ("banker", 3),
        ("2-4", 4),
        ("02/4", 4),
        ("2/4\n", 4),
        ("Trixie", 3),  # names are the API's lower-case spelling
    ],
)
def test_system_refuses_a_wrong_leg_count_or_an_unknown_name(system: str, n_legs: int) -> None:
    with pytest.raises(InvalidBet) as exc:
        system_combinations(system, n_legs)
    assert exc.value.code == "invalid_bet"
    assert exc.value.status == 422


def test_singles_are_one_line_per_leg_and_a_multiple_one_line_of_all_legs() -> None:
    assert expand_lines(BetType.SINGLE, None, 3, each_way=False) == [Line((0,)), Line((1,)), Line((2,))]
    assert expand_lines(BetType.MULTIPLE, None, 3, each_way=False) == [Line((0, 1, 2))]
    assert expand_lines(BetType.MULTIPLE, None, 2, each_way=True) == [
        Line((0, 1), LinePart.WIN),
        Line((0, 1), LinePart.PLACE),
    ]


@pytest.mark.parametrize(
    ("bet_type", "system", "n_legs"),
    [
        (BetType.SINGLE, None, 0),
        (BetType.SINGLE, None, 21),
        (BetType.MULTIPLE, None, 1),
        (BetType.MULTIPLE, None, 21),
        (BetType.SYSTEM, None, 3),
        (BetType.SINGLE, "trixie", 3),
        (BetType.MULTIPLE, "2/3", 3),
        (BetType.SYSTEM, "10/20", 20),  # 184,756 lines
    ],
)
def test_bad_leg_counts_and_combinations_are_invalid_bets(bet_type: BetType, system: str | None, n_legs: int) -> None:
    with pytest.raises(InvalidBet):
        expand_lines(bet_type, system, n_legs, each_way=False)


def test_each_way_needs_terms_on_every_market() -> None:
    legs = [leg("3.00", each_way=ONE_FIFTH), leg("4.00")]
    check_each_way(legs, each_way=False)
    with pytest.raises(EachWayNotOffered) as exc:
        check_each_way(legs, each_way=True)
    assert (exc.value.code, exc.value.status) == ("each_way_not_offered", 422)
    with pytest.raises(EachWayNotOffered):
        line_odds(Line((1,), LinePart.PLACE), legs)


# --- odds and returns ---------------------------------------------------------------------------------------


def test_line_odds_are_the_exact_product_and_place_odds_take_the_fraction_of_the_profit() -> None:
    legs = legs_at("1.95", "2.10", "11.00", each_way=ONE_FIFTH)
    assert line_odds(Line((0, 1)), legs) == Fraction(4095, 1000)
    assert line_odds(Line((2,), LinePart.PLACE), legs) == 3  # 1 + 10 / 5
    assert line_odds(Line((0, 2), LinePart.PLACE), legs) == Fraction(119, 100) * 3  # (1 + 0.95 / 5) * 3


def test_single_return_is_floored_to_the_minor_unit() -> None:
    assert potential_return([Line((0,))], legs_at("1.95"), 1) == 1  # 1.95 -> 1
    assert potential_return([Line((0,))], legs_at("1.95"), 333) == 649  # 649.35 -> 649


def test_multiple_is_floored_once_not_per_leg() -> None:
    # 3 * 1.33 * 1.33 = 5.3067: flooring after each leg would give floor(floor(3.99) * 1.33) = 3
    assert potential_return([Line((0, 1))], legs_at("1.33", "1.33"), 3) == 5


def test_patent_example_from_unibet_pays_467_for_one_euro_a_line() -> None:
    # Unibet's Patent example: 5.50, 7.00 and 8.00 at 1 EUR a line return 467 EUR if all three win.
    legs = legs_at("5.50", "7.00", "8.00")
    lines = expand_lines(BetType.SYSTEM, "patent", 3, each_way=False)
    assert potential_return(lines, legs, 100) == 46_700


def test_canadian_example_from_unibet_pays_318_75_for_one_pound_a_line() -> None:
    # Unibet's Canadian example: evens, 6/4, 6/4, evens, evens at 1 GBP a line, up to 318.75 GBP.
    legs = legs_at("2.00", "2.50", "2.50", "2.00", "2.00")
    lines = expand_lines(BetType.SYSTEM, "canadian", 5, each_way=False)
    assert potential_return(lines, legs, 100) == 31_875


def test_trixie_of_three_winners_at_3_1_returns_112() -> None:
    # tiptime.co.uk: a 1 GBP Trixie, three winners at 3/1: treble 64 + three doubles of 16.
    lines = expand_lines(BetType.SYSTEM, "trixie", 3, each_way=False)
    assert potential_return(lines, legs_at("4.00", "4.00", "4.00"), 100) == 11_200


def test_each_way_single_returns_the_win_and_the_place_part() -> None:
    lines = expand_lines(BetType.SINGLE, None, 1, each_way=True)
    assert potential_return(lines, legs_at("11.00", each_way=ONE_FIFTH), 100) == 1_100 + 300


def test_leg_odds_must_be_a_valid_price() -> None:
    for bad in ("1.00", "0.50", "1002", "NaN"):
        with pytest.raises(InvalidOdds):
            leg(bad)


odds_st = st.decimals(min_value=Decimal("1.01"), max_value=Decimal("1001"), places=2)


@given(st.lists(odds_st, min_size=1, max_size=6), st.integers(1, 10**7), st.integers(1, 10**7), st.booleans())
def test_potential_return_is_monotonic_in_stake(odds: list[Decimal], a: int, b: int, each_way: bool) -> None:
    legs = [LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), o, ONE_FIFTH) for o in odds]
    lines = expand_lines(BetType.SYSTEM, f"{(len(odds) + 1) // 2}/{len(odds)}", len(odds), each_way)
    low, high = sorted((a, b))
    assert potential_return(lines, legs, low) <= potential_return(lines, legs, high)
    assert potential_return(lines, legs, low) >= low * len(lines)  # odds >= 1: never below the stake


@given(st.lists(odds_st, min_size=2, max_size=8), st.integers(0, 7), odds_st, st.integers(1, 10**6))
def test_potential_return_is_monotonic_in_odds(odds: list[Decimal], which: int, other: Decimal, stake: int) -> None:
    which %= len(odds)
    lower, higher = list(odds), list(odds)
    lower[which], higher[which] = sorted((odds[which], other))
    lines = expand_lines(BetType.MULTIPLE, None, len(odds), each_way=False)

    def ret(prices: list[Decimal]) -> int:
        return potential_return(
            lines,
            [LegSpec(uuid.UUID(int=i), uuid.UUID(int=i), uuid.UUID(int=i), p) for i, p in enumerate(prices)],
            stake,
        )

    assert ret(lower) <= ret(higher)


@given(st.lists(odds_st, min_size=1, max_size=5), st.integers(1, 10**6))
def test_potential_return_is_the_floored_sum_of_exact_line_odds(odds: list[Decimal], stake: int) -> None:
    legs = [LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), o, ONE_FIFTH) for o in odds]
    lines = expand_lines(BetType.SYSTEM, f"1/{len(odds)}", len(odds), each_way=True)
    assert potential_return(lines, legs, stake) == sum(int(stake * line_odds(line, legs)) for line in lines)


# --- related legs -------------------------------------------------------------------------------------------


def test_two_legs_on_one_event_are_related_in_a_multiple_or_system_bet_but_fine_as_singles() -> None:
    event = uuid.uuid4()
    legs = [leg("2.00", event=event), leg("3.00", event=event), leg("4.00")]
    check_related(BetType.SINGLE, legs)
    for bet_type in (BetType.MULTIPLE, BetType.SYSTEM):
        with pytest.raises(RelatedLegs) as exc:
            check_related(bet_type, legs)
        assert (exc.value.code, exc.value.status) == ("related_legs", 422)
    check_related(BetType.MULTIPLE, legs[1:])


@pytest.mark.parametrize("bet_type", list(BetType))
def test_the_same_selection_twice_is_refused_in_every_bet_type(bet_type: BetType) -> None:
    first = leg("2.00")
    with pytest.raises(DuplicateSelection) as exc:
        check_related(bet_type, [first, leg("3.00"), first])
    assert exc.value.code == "duplicate_selection"
    assert isinstance(exc.value, InvalidBet)


# --- odds-change policy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "requested", "current", "struck"),
    [
        (OddsChange.NONE, "2.00", "2.00", "2.00"),
        (OddsChange.NONE, "2.00", "2.10", None),
        (OddsChange.NONE, "2.00", "1.90", None),
        (OddsChange.HIGHER, "2.00", "2.00", "2.00"),
        (OddsChange.HIGHER, "2.00", "2.10", "2.10"),  # struck at the better current price
        (OddsChange.HIGHER, "2.00", "1.90", None),
        (OddsChange.ANY, "2.00", "2.00", "2.00"),
        (OddsChange.ANY, "2.00", "2.10", "2.10"),
        (OddsChange.ANY, "2.00", "1.90", "1.90"),
    ],
)
def test_odds_change_policy(policy: OddsChange, requested: str, current: str, struck: str | None) -> None:
    if struck is not None:
        assert accept_odds(policy, Decimal(requested), Decimal(current)) == Decimal(struck)
        return
    with pytest.raises(OddsChanged) as exc:
        accept_odds(policy, Decimal(requested), Decimal(current))
    assert (exc.value.code, exc.value.status) == ("odds_changed", 409)
    assert exc.value.current == Decimal(current)


def test_equal_prices_in_another_spelling_are_the_same_price() -> None:
    assert accept_odds(OddsChange.NONE, Decimal("2.0"), Decimal("2.00")) == Decimal("2.00")


# --- stake limits -------------------------------------------------------------------------------------------

LIMITS = StakeLimits(min_stake=10, max_stake=10_000, max_payout=100_000)


def test_stake_within_limits_passes() -> None:
    check_stake(10, 1, 20, LIMITS)
    check_stake(10_000, 4, 100_000, LIMITS)


def test_stake_below_minimum_is_too_low() -> None:
    with pytest.raises(StakeTooLow) as exc:
        check_stake(9, 1, 18, LIMITS)
    assert (exc.value.code, exc.value.status) == ("stake_too_low", 422)


def test_stake_above_maximum_is_too_high_and_says_the_maximum() -> None:
    with pytest.raises(StakeTooHigh) as exc:
        check_stake(10_001, 1, 20_002, LIMITS)
    assert (exc.value.code, exc.value.status, exc.value.max_stake) == ("stake_too_high", 409, 10_000)


def test_payout_above_maximum_is_too_high_and_says_payout() -> None:
    with pytest.raises(StakeTooHigh) as exc:
        check_stake(1_000, 1, 100_001, LIMITS)
    assert exc.value.code == "stake_too_high"
    assert "payout" in exc.value.message


def test_stake_limits_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="stake limits"):
        StakeLimits(min_stake=100, max_stake=10, max_payout=1_000)


def test_max_stake_for_payout_is_the_largest_stake_within_the_payout() -> None:
    legs = legs_at("3.00")
    assert max_stake_for_payout([Line((0,))], legs, LIMITS) == 10_000  # the stake limit binds first
    tight = StakeLimits(min_stake=10, max_stake=10_000, max_payout=1_000)
    assert max_stake_for_payout([Line((0,))], legs, tight) == 333
    huge = StakeLimits(min_stake=10, max_stake=10_000, max_payout=20)
    assert max_stake_for_payout([Line((0,))], legs, huge) == 0  # even the minimum pays out too much


@given(
    st.lists(odds_st, min_size=1, max_size=4),
    st.integers(1, 10**7),
    st.booleans(),
)
def test_max_stake_for_payout_agrees_with_check_stake(odds: list[Decimal], max_payout: int, each_way: bool) -> None:
    legs = [LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), o, ONE_FIFTH) for o in odds]
    lines = expand_lines(BetType.SYSTEM, f"1/{len(odds)}", len(odds), each_way)
    limits = StakeLimits(min_stake=1, max_stake=10**9, max_payout=max_payout)
    best = max_stake_for_payout(lines, legs, limits)
    if best:
        check_stake(best, len(lines), potential_return(lines, legs, best), limits)
    if best < limits.max_stake:
        with pytest.raises(StakeTooHigh):
            check_stake(best + 1, len(lines), potential_return(lines, legs, best + 1), limits)

"""Settlement rules without I/O: score-based results for every market type and line, explicit settlements with
void and dead-heat factors, Rule 4, each-way, multiples and system bets. Table tests carry the published
operator rule they reproduce; properties bound what any settlement can pay."""

from __future__ import annotations

import math
import uuid
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sportsbook.betting.model import SYSTEMS, BetType, LegSpec, Line, LinePart, expand_lines, potential_return
from sportsbook.betting.settlement_rules import (
    VOID,
    BetSettlement,
    InvalidSettlement,
    LegResult,
    Part,
    SelectionResult,
    SettledStatus,
    apply_rule4,
    explicit_result,
    leg_multiplier,
    result_from_score,
    rule4_deduction,
    total_deduction,
)
from sportsbook.core.markets import EachWayTerms, InvalidMarket, MarketType, Score
from tests.unit.betting.oracles import settle_bet

WIN, PLACE = LinePart.WIN, LinePart.PLACE
F = Fraction
HALF = F(1, 2)


def leg(odds: str, each_way: EachWayTerms | None = None) -> LegSpec:
    return LegSpec(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), Decimal(odds), each_way)


def settle(
    stake: int,
    lines: list[Line],
    legs: list[LegSpec],
    results: list[SelectionResult | None],
    deductions: list[Fraction] | None = None,
) -> BetSettlement:
    settled = settle_bet(stake, lines, legs, results, deductions)
    assert settled is not None
    return settled


def single(stake: int, odds: str, result: SelectionResult, deduction: Fraction = F(0)) -> BetSettlement:
    return settle(stake, [Line((0,), WIN)], [leg(odds)], [result], [deduction])


def score_result(kind: MarketType, outcome: str, home: int, away: int, **specifiers: str) -> SelectionResult:
    return result_from_score(kind, specifiers, outcome, Score(home, away))


def won() -> SelectionResult:
    return explicit_result("won", None, None, None)


def lost() -> SelectionResult:
    return explicit_result("lost", None, None, None)


def void() -> SelectionResult:
    return explicit_result("void", None, None, None)


# --- score-based markets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "outcome", "home", "away", "expected"),
    [
        (MarketType.ONE_X_TWO, "home", 2, 1, LegResult.WON),
        (MarketType.ONE_X_TWO, "draw", 2, 1, LegResult.LOST),
        (MarketType.ONE_X_TWO, "draw", 1, 1, LegResult.WON),
        (MarketType.ONE_X_TWO, "away", 0, 3, LegResult.WON),
        (MarketType.ONE_X_TWO, "home", 0, 3, LegResult.LOST),
        (MarketType.DOUBLE_CHANCE, "home_draw", 1, 1, LegResult.WON),
        (MarketType.DOUBLE_CHANCE, "home_draw", 0, 1, LegResult.LOST),
        (MarketType.DOUBLE_CHANCE, "home_away", 1, 1, LegResult.LOST),
        (MarketType.DOUBLE_CHANCE, "home_away", 0, 2, LegResult.WON),
        (MarketType.DOUBLE_CHANCE, "draw_away", 0, 2, LegResult.WON),
        (MarketType.DOUBLE_CHANCE, "draw_away", 2, 0, LegResult.LOST),
        (MarketType.DRAW_NO_BET, "home", 1, 1, LegResult.VOID),
        (MarketType.DRAW_NO_BET, "away", 0, 0, LegResult.VOID),
        (MarketType.DRAW_NO_BET, "home", 2, 1, LegResult.WON),
        (MarketType.DRAW_NO_BET, "away", 2, 1, LegResult.LOST),
        (MarketType.BTTS, "yes", 1, 1, LegResult.WON),
        (MarketType.BTTS, "yes", 1, 0, LegResult.LOST),
        (MarketType.BTTS, "no", 1, 0, LegResult.WON),
        (MarketType.BTTS, "no", 0, 0, LegResult.WON),
        (MarketType.BTTS, "no", 3, 2, LegResult.LOST),
        (MarketType.CORRECT_SCORE, "2:1", 2, 1, LegResult.WON),
        (MarketType.CORRECT_SCORE, "2:1", 1, 2, LegResult.LOST),
        (MarketType.CORRECT_SCORE, "0:0", 0, 0, LegResult.WON),
    ],
)
def test_fixed_outcome_markets_from_the_score(
    kind: MarketType, outcome: str, home: int, away: int, expected: LegResult
) -> None:
    assert score_result(kind, outcome, home, away).label is expected


def test_draw_no_bet_draw_refunds_the_stake() -> None:
    assert single(1000, "1.80", score_result(MarketType.DRAW_NO_BET, "home", 2, 2)) == BetSettlement(
        SettledStatus.VOID, 1000, (1000,)
    )


# Asian handicap, the home side's line; expected (won share, void share). Rules: Pinnacle "What is the explanation
# for Asian handicap and double totals" (a quarter line is two half-stakes on the lines either side; +0.75 losing
# 0-1 loses half and pushes half), Unibet "Asian Handicap - Full, Half & Quarter Lines" (+2 losing 0-2 is a
# refund, 0-1 a win), Royal Panda's help (-0.75 winning by one: half won, half refunded).
@pytest.mark.parametrize(
    ("hcp", "outcome", "home", "away", "won", "void"),
    [
        ("0", "home", 1, 0, 1, 0),
        ("0", "home", 1, 1, 0, 1),
        ("0", "away", 1, 1, 0, 1),
        ("0", "home", 0, 1, 0, 0),
        ("-0.25", "home", 1, 0, 1, 0),
        ("-0.25", "home", 1, 1, 0, HALF),  # draw: half lost, half refunded
        ("-0.25", "away", 1, 1, HALF, HALF),  # the away side is +0.25: half won
        ("-0.25", "home", 0, 1, 0, 0),
        ("-0.5", "home", 1, 0, 1, 0),
        ("-0.5", "home", 1, 1, 0, 0),
        ("-0.5", "away", 1, 1, 1, 0),
        ("-0.75", "home", 3, 1, 1, 0),
        ("-0.75", "home", 2, 1, HALF, HALF),  # win by one: half won, half refunded
        ("-0.75", "away", 2, 1, 0, HALF),  # the away side is +0.75 losing by one: half lost
        ("-0.75", "home", 1, 1, 0, 0),
        ("-1", "home", 3, 1, 1, 0),
        ("-1", "home", 2, 1, 0, 1),
        ("-1", "away", 2, 1, 0, 1),
        ("-1", "home", 1, 1, 0, 0),
        ("-1.25", "home", 3, 1, 1, 0),
        ("-1.25", "home", 2, 1, 0, HALF),
        ("-1.5", "home", 2, 1, 0, 0),
        ("-1.5", "away", 2, 1, 1, 0),
        ("0.25", "home", 1, 1, HALF, HALF),
        ("0.25", "home", 0, 1, 0, 0),
        ("0.75", "home", 0, 1, 0, HALF),  # Pinnacle's +0.75 losing 0-1
        ("0.75", "home", 1, 1, 1, 0),
        ("2", "home", 0, 1, 1, 0),  # Unibet's +2 losing 0-1
        ("2", "home", 0, 2, 0, 1),  # Unibet's +2 losing 0-2
        ("2", "home", 0, 3, 0, 0),
        ("1.25", "home", 0, 1, HALF, HALF),
        ("1.25", "home", 0, 2, 0, 0),
    ],
)
def test_asian_handicap_lines(hcp: str, outcome: str, home: int, away: int, won: Fraction, void: Fraction) -> None:
    result = score_result(MarketType.ASIAN_HANDICAP, outcome, home, away, hcp=hcp)
    assert result.win == Part(F(won), F(void))


# Totals, whole, half and quarter lines (vptop.com "Football prediction guide": over 2.25 with two goals loses half,
# over 2.75 with three goals wins half; Pinnacle: under 5.25 with five goals wins half and pushes half).
@pytest.mark.parametrize(
    ("line", "outcome", "goals", "expected"),
    [
        ("2", "over", 3, LegResult.WON),
        ("2", "over", 2, LegResult.VOID),
        ("2", "under", 2, LegResult.VOID),
        ("2", "over", 1, LegResult.LOST),
        ("2.25", "over", 3, LegResult.WON),
        ("2.25", "over", 2, LegResult.HALF_LOST),
        ("2.25", "under", 2, LegResult.HALF_WON),
        ("2.25", "over", 1, LegResult.LOST),
        ("2.5", "over", 3, LegResult.WON),
        ("2.5", "over", 2, LegResult.LOST),
        ("2.5", "under", 2, LegResult.WON),
        ("2.75", "over", 4, LegResult.WON),
        ("2.75", "over", 3, LegResult.HALF_WON),
        ("2.75", "under", 3, LegResult.HALF_LOST),
        ("2.75", "over", 2, LegResult.LOST),
        ("5.25", "under", 5, LegResult.HALF_WON),
        ("0.25", "under", 0, LegResult.HALF_WON),
        ("0.25", "over", 0, LegResult.HALF_LOST),
        ("0.25", "over", 1, LegResult.WON),
    ],
)
def test_total_lines(line: str, outcome: str, goals: int, expected: LegResult) -> None:
    # The split of the goals between the sides must not matter to a total.
    for home in range(goals + 1):
        assert score_result(MarketType.TOTAL, outcome, home, goals - home, total=line).label is expected


def test_quarter_line_half_won_returns_146_50() -> None:
    # The example: 100 at 1.93 on a half-won quarter line returns 50 refunded + 50 * 1.93 = 146.50.
    result = score_result(MarketType.ASIAN_HANDICAP, "home", 2, 1, hcp="-0.75")
    assert single(10_000, "1.93", result) == BetSettlement(SettledStatus.HALF_WON, 14_650, (14_650,))


def test_quarter_line_draw_is_half_loss() -> None:
    result = score_result(MarketType.ASIAN_HANDICAP, "home", 0, 0, hcp="-0.25")
    assert single(10_000, "1.93", result) == BetSettlement(SettledStatus.HALF_LOST, 5_000, (5_000,))


def test_a_winner_market_is_not_resulted_from_a_score() -> None:
    with pytest.raises(InvalidSettlement):
        result_from_score(MarketType.WINNER, {}, "Red Rum", Score(1, 0))


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(InvalidMarket):
        score_result(MarketType.ONE_X_TWO, "over", 1, 0)


def test_a_line_market_needs_its_line() -> None:
    with pytest.raises(InvalidMarket):
        score_result(MarketType.TOTAL, "over", 1, 0)


# --- explicit settlements: void and dead-heat factors ----------------------------------------------------------


def test_dead_heat_two_way_tie_returns_55() -> None:
    # Betfair and Paddy Power help ("Dead Heat in Horse Racing"): £10 at 10/1 in a two-way dead heat is paid as
    # half the stake at full odds, £5 * 10 + £5 = £55.
    result = explicit_result("won", None, HALF, None)
    assert single(1_000, "11.0", result) == BetSettlement(SettledStatus.WON, 5_500, (5_500,))


def test_dead_heat_three_way_tie_for_one_place_returns_120() -> None:
    # Betdaq "What is a dead heat?", example 1: three selections dead-heat for first, €60 at 6.0: the stake is
    # reduced to €60 * 1/3 = €20, which returns €20 * 6 = €120.
    assert single(6_000, "6.0", explicit_result("won", None, F(1, 3), None)).total_return == 12_000


def test_dead_heat_four_for_two_places_returns_180() -> None:
    # Betdaq, example 2: four selections dead-heat for the two places left: €60 * 2/4 = €30 at 6.0 returns €180.
    assert single(6_000, "6.0", explicit_result("won", None, F(2, 4), None)).total_return == 18_000


def test_dead_heat_returning_less_than_the_stake_is_still_won() -> None:
    # horseracingqa.com: a £10 win bet dead-heating with one other at 4/1 returns £25; at evens it returns £10.
    assert single(1_000, "5.0", explicit_result("won", None, HALF, None)).total_return == 2_500
    assert single(1_000, "2.0", explicit_result("won", None, F(1, 3), None)) == BetSettlement(
        SettledStatus.WON, 666, (666,)
    )


def test_void_factor_half_on_a_winner_is_a_half_win() -> None:
    # Feeds send a half-won quarter line as `won` with void_factor 0.5: the same money as the score-based result.
    result = explicit_result("won", Decimal("0.5"), None, None)
    assert result.label is LegResult.HALF_WON
    assert single(10_000, "1.93", result) == BetSettlement(SettledStatus.HALF_WON, 14_650, (14_650,))


def test_void_factor_half_on_a_loser_is_a_half_loss() -> None:
    result = explicit_result("lost", F(1, 2), None, None)
    assert result.label is LegResult.HALF_LOST
    assert single(10_000, "1.93", result) == BetSettlement(SettledStatus.HALF_LOST, 5_000, (5_000,))


def test_void_factor_one_voids_whatever_the_result() -> None:
    for result in ("won", "lost", "placed", "void"):
        assert explicit_result(result, F(1), None, None).win == VOID


@pytest.mark.parametrize("bad", [F(0), F(-1, 2), F(3, 2), Decimal("1.01")])
def test_factors_outside_zero_to_one_are_refused(bad: Fraction | Decimal) -> None:
    for kwargs in ({"void_factor": bad, "dead_heat_factor": None}, {"void_factor": None, "dead_heat_factor": bad}):
        with pytest.raises(InvalidSettlement) as caught:
            explicit_result("won", each_way=None, **kwargs)
        assert (caught.value.code, caught.value.status) == ("invalid_settlement", 422)


def test_an_unknown_result_is_refused() -> None:
    with pytest.raises(InvalidSettlement):
        explicit_result("pushed", None, None, None)


# --- each-way -------------------------------------------------------------------------------------------------

FIFTH_THREE = EachWayTerms(F(1, 5), 3)
QUARTER_FOUR = EachWayTerms(F(1, 4), 4)
QUARTER_THREE = EachWayTerms(F(1, 4), 3)
EW_SINGLE = [Line((0,), WIN), Line((0,), PLACE)]


def test_each_way_placed_pays_the_place_part_only() -> None:
    # £5 e/w at 11.0 (10/1), 1/5 the odds for 3 places, runner placed: win part lost, place part 5 * (1 + 10/5).
    ew = [leg("11.0", FIFTH_THREE)]
    placed = explicit_result("placed", None, None, FIFTH_THREE)
    assert settle(500, EW_SINGLE, ew, [placed]) == BetSettlement(SettledStatus.WON, 1_500, (0, 1_500))
    winner = explicit_result("won", None, None, FIFTH_THREE)
    assert settle(500, EW_SINGLE, ew, [winner]).line_returns == (5_500, 1_500)


def test_each_way_william_hill_example() -> None:
    # William Hill help "What's an each way bet": £10 e/w at 12/1, 1/4 the odds 4 places: placed returns £40,
    # a winner £130 + £40 = £170.
    ew = [leg("13.0", QUARTER_FOUR)]
    assert settle(1_000, EW_SINGLE, ew, [explicit_result("placed", None, None, QUARTER_FOUR)]).total_return == 4_000
    assert settle(1_000, EW_SINGLE, ew, [explicit_result("won", None, None, QUARTER_FOUR)]).total_return == 17_000


def test_each_way_double_settles_win_to_win_and_place_to_place() -> None:
    # William Hill help, "Each Way multiples": £5 e/w double on two 4/1 winners at 1/4 the odds returns £145
    # (£125 win double + £20 place double).
    terms = EachWayTerms(F(1, 4), 2)
    legs = [leg("5.0", terms), leg("5.0", terms)]
    lines = expand_lines(BetType.MULTIPLE, None, 2, each_way=True)
    winner = explicit_result("won", None, None, terms)
    assert settle(500, lines, legs, [winner, winner]).line_returns == (12_500, 2_000)


def test_each_way_dead_heat_for_the_last_place_halves_the_place_part() -> None:
    # DAZN Bet help "Each Way Dead Heats": £20 e/w at 16/1, 1/4 the odds 3 places, joint third with one other:
    # £20 / 2 = £10 at 4/1 returns £50; the win part is lost.
    ew = [leg("17.0", QUARTER_THREE)]
    result = explicit_result("placed", None, HALF, QUARTER_THREE)
    assert settle(2_000, EW_SINGLE, ew, [result]).line_returns == (0, 5_000)


def test_dead_heat_for_first_halves_the_win_part_only_when_several_places_are_paid() -> None:
    ew = [leg("11.0", FIFTH_THREE)]
    result = explicit_result("won", None, HALF, FIFTH_THREE)
    assert settle(1_000, EW_SINGLE, ew, [result]).line_returns == (5_500, 3_000)
    one_place = EachWayTerms(F(1, 4), 1)
    result = explicit_result("won", None, HALF, one_place)
    assert result.place == Part(HALF, F(0))


def test_a_place_line_needs_each_way_terms() -> None:
    with pytest.raises(InvalidSettlement):
        leg_multiplier(won(), Decimal("3.0"), PLACE, None)


# --- Rule 4 ---------------------------------------------------------------------------------------------------


def test_rule4_80p_on_2_25_returns_12_50() -> None:
    # The example: £10 at 2.25 with an 80p deduction keeps 20% of £12.50 winnings: £10 + £2.50.
    assert single(1_000, "2.25", won(), F(80, 100)).total_return == 1_250


def test_rule4_25p_on_9_0_returns_70() -> None:
    # allaboutbetting.co.uk "Tattersalls Rule 4(c) Deduction Scale": £10 at 8/1 with the 3/1 favourite withdrawn
    # is a 25p deduction: £10 * 8 * 0.75 + £10 = £70.
    deduction = rule4_deduction(Decimal("4.00"))
    assert deduction == F(25, 100)
    assert single(1_000, "9.0", won(), deduction).total_return == 7_000


def test_rule4_15p_on_a_10_to_1_winner() -> None:
    # mathematician-betting.co.uk "Tattersalls Rule 4(c)": £100 at 10/1, a 5/1 non-runner: 15p, winnings £850.
    assert single(10_000, "11.0", won(), rule4_deduction(Decimal("6.0"))).total_return == 95_000


# The Tattersalls Rule 4(c) scale at both ends of every band, in decimal odds as Betsson's help "What are the
# deductions of Rule 4?" lists them (1.11 or shorter 90% ... 11.00 to 15.00 5%, over 15.00 none), and prices
# between two bands, which fall in the longer one.
@pytest.mark.parametrize(
    ("odds", "pence"),
    [
        ("1.01", 90),
        ("1.11", 90),
        ("1.12", 85),
        ("1.18", 85),
        ("1.19", 80),
        ("1.20", 80),
        ("1.25", 80),
        ("1.28", 75),
        ("1.30", 75),
        ("1.33", 70),
        ("1.40", 70),
        ("1.44", 65),
        ("1.53", 65),
        ("1.57", 60),
        ("1.61", 60),
        ("1.67", 55),
        ("1.80", 55),
        ("1.83", 50),
        ("1.95", 50),
        ("2.00", 45),
        ("2.20", 45),
        ("2.25", 40),
        ("2.50", 40),
        ("2.55", 35),
        ("2.62", 35),
        ("2.75", 35),
        ("2.88", 30),
        ("3.25", 30),
        ("3.50", 25),
        ("4.00", 25),
        ("4.33", 20),
        ("5.00", 20),
        ("5.50", 15),
        ("6.50", 15),
        ("7.00", 10),
        ("10.00", 10),
        ("11.00", 5),
        ("15.00", 5),
        ("15.01", 0),
        ("26.00", 0),
        ("1001", 0),
    ],
)
def test_tattersalls_rule4_scale(odds: str, pence: int) -> None:
    assert rule4_deduction(Decimal(odds)) == F(pence, 100)


@pytest.mark.parametrize(
    ("fractional", "pence"),
    [(F(1, 9), 90), (F(2, 17), 85), (F(2, 11), 85), (F(8, 15), 65), (F(20, 21), 50), (F(10, 3), 20), (F(14), 5)],
)
def test_rule4_scale_at_exact_fractional_prices(fractional: Fraction, pence: int) -> None:
    assert rule4_deduction(1 + fractional) == F(pence, 100)


def test_rule4_needs_a_price_above_evens_money_zero() -> None:
    with pytest.raises(InvalidSettlement):
        rule4_deduction(Decimal("1.00"))


def test_several_non_runners_are_capped_at_90p() -> None:
    # William Hill help "Rule 4 Deduction" 4: two or more withdrawals never deduct more than 90p in the £.
    assert total_deduction([F(70, 100), F(25, 100)]) == F(90, 100)
    assert total_deduction([F(10, 100), F(5, 100)]) == F(15, 100)
    assert total_deduction([]) == 0
    with pytest.raises(InvalidSettlement):
        total_deduction([F(95, 100)])


def test_rule4_touches_winnings_only() -> None:
    assert apply_rule4(Decimal("3.0"), F(1, 2)) == 2
    assert single(1_000, "3.0", void(), F(90, 100)).total_return == 1_000
    assert single(1_000, "3.0", lost(), F(90, 100)).total_return == 0


def test_rule4_applies_to_the_place_part_too() -> None:
    # £5 e/w at 11.0, 1/5 the odds, placed, 25p deduction: place winnings 5 * 2 * 0.75 = 7.50, returning £12.50.
    ew = [leg("11.0", FIFTH_THREE)]
    placed = explicit_result("placed", None, None, FIFTH_THREE)
    assert settle(500, EW_SINGLE, ew, [placed], [F(25, 100)]).line_returns == (0, 1_250)


def test_rule4_applies_after_a_dead_heat_to_the_reduced_stake() -> None:
    # £10 at 11.0, two-way dead heat, 25p: £5 at 1 + 10 * 0.75 returns £42.50.
    assert single(1_000, "11.0", explicit_result("won", None, HALF, None), F(25, 100)).total_return == 4_250


# --- multiples, systems, pending and resettlement -------------------------------------------------------------


def test_void_leg_in_an_accumulator_counts_at_odds_one() -> None:
    # bettingoffers.uk "What happens to a void bet in an acca": the acca stands on the other legs (a 10-fold
    # becomes a 9-fold); Wikipedia "Bookmaking", settling bets: non-runners count as decimal odds of 1.
    legs = [leg("2.0"), leg("3.0"), leg("1.5")]
    treble = [Line((0, 1, 2), WIN)]
    assert settle(1_000, treble, legs, [won(), void(), won()]) == BetSettlement(SettledStatus.WON, 3_000, (3_000,))
    assert settle(1_000, treble, legs, [void(), void(), void()]) == BetSettlement(SettledStatus.VOID, 1_000, (1_000,))
    assert settle(1_000, treble, legs, [won(), void(), lost()]).status is SettledStatus.LOST


def test_half_results_multiply_through_a_double() -> None:
    half_won = score_result(MarketType.ASIAN_HANDICAP, "home", 2, 1, hcp="-0.75")
    half_lost = score_result(MarketType.ASIAN_HANDICAP, "home", 0, 0, hcp="-0.25")
    legs = [leg("1.93"), leg("2.00")]
    double = [Line((0, 1), WIN)]
    # (0.5 * 1.93 + 0.5) * 2.00 = 2.93
    assert settle(10_000, double, legs, [half_won, won()]) == BetSettlement(SettledStatus.HALF_WON, 29_300, (29_300,))
    assert settle(10_000, double, legs, [half_lost, won()]) == BetSettlement(SettledStatus.HALF_LOST, 10_000, (10_000,))
    # Two half-wins: 1.465 ** 2 = 2.146225, floored once at the end of the line, not per leg.
    assert settle(10_000, double, [leg("1.93"), leg("1.93")], [half_won, half_won]).total_return == 21_462
    # Nothing won, half the stake refunded.
    assert settle(10_000, double, legs, [void(), half_lost]) == BetSettlement(SettledStatus.HALF_LOST, 5_000, (5_000,))


def test_a_system_bet_with_one_winning_line_is_won() -> None:
    legs = [leg("2.0"), leg("3.0"), leg("4.0")]
    trixie = expand_lines(BetType.SYSTEM, "trixie", 3, each_way=False)
    settled = settle(1_000, trixie, legs, [won(), won(), lost()])
    assert settled == BetSettlement(SettledStatus.WON, 6_000, (6_000, 0, 0, 0))
    refunded = settle(1_000, trixie, legs, [void(), void(), lost()])
    assert (refunded.status, refunded.total_return) == (SettledStatus.HALF_LOST, 1_000)


def test_a_bet_waits_for_every_leg_that_can_still_change_what_it_pays() -> None:
    legs = [leg("2.0"), leg("3.0")]
    assert settle_bet(1_000, [Line((0, 1), WIN)], legs, [won(), None]) is None
    # A leg no line uses does not hold the bet back.
    assert settle_bet(1_000, [Line((0,), WIN)], legs, [won(), None]) == BetSettlement(
        SettledStatus.WON, 2_000, (2_000,)
    )


LOST_AT_ONCE = BetSettlement(SettledStatus.LOST, 0, (0,))


# A multiple loses as soon as one leg loses (William Hill help "Accumulators": "if one selection loses, the
# whole bet loses"; bet365 settles such a bet at once, whatever the other legs still to run): a line is decided
# once a leg pays nothing of its part (no share won, none void), or once every leg is resolved. A half-lost
# Asian leg or a partial void_factor still refunds part of the stake, and a `placed` runner still pays a place
# line, so they decide nothing while another leg is open. Legs given as None are open.
@pytest.mark.parametrize(
    ("name", "kind", "system", "each_way", "results", "expected"),
    [
        ("double, one leg lost", BetType.MULTIPLE, None, False, ["lost", None], LOST_AT_ONCE),
        ("double, the open leg first", BetType.MULTIPLE, None, False, [None, "lost"], LOST_AT_ONCE),
        ("treble, one lost, one won", BetType.MULTIPLE, None, False, ["won", "lost", None], LOST_AT_ONCE),
        ("treble, one lost, two open", BetType.MULTIPLE, None, False, [None, "lost", None], LOST_AT_ONCE),
        ("double, one won", BetType.MULTIPLE, None, False, ["won", None], None),
        ("double, one void", BetType.MULTIPLE, None, False, ["void", None], None),
        ("double, one half lost", BetType.MULTIPLE, None, False, ["half_lost", None], None),
        ("double, one half won", BetType.MULTIPLE, None, False, ["half_won", None], None),
        ("double, lost with a quarter void", BetType.MULTIPLE, None, False, ["lost_quarter_void", None], None),
        ("double, a dead heat", BetType.MULTIPLE, None, False, ["dead_heat", None], None),
        ("win double, one runner placed", BetType.MULTIPLE, None, False, ["placed", None], LOST_AT_ONCE),
        (
            "each-way double, one lost",
            BetType.MULTIPLE,
            None,
            True,
            ["lost", None],
            BetSettlement(SettledStatus.LOST, 0, (0, 0)),
        ),
        ("each-way double, one placed", BetType.MULTIPLE, None, True, ["placed", None], None),
        (
            "each-way double, placed and lost",
            BetType.MULTIPLE,
            None,
            True,
            ["placed", "lost"],
            BetSettlement(SettledStatus.LOST, 0, (0, 0)),
        ),
        ("singles, one lost", BetType.SINGLE, None, False, ["lost", None], None),
        ("trixie, one lost", BetType.SYSTEM, "trixie", False, ["lost", None, None], None),
        ("trixie, one lost, one won", BetType.SYSTEM, "trixie", False, ["lost", "won", None], None),
        (
            "trixie, two lost",
            BetType.SYSTEM,
            "trixie",
            False,
            ["lost", None, "lost"],
            BetSettlement(SettledStatus.LOST, 0, (0, 0, 0, 0)),
        ),
        (
            "2/3, two lost",
            BetType.SYSTEM,
            "2/3",
            False,
            [None, "lost", "lost"],
            BetSettlement(SettledStatus.LOST, 0, (0, 0, 0)),
        ),
        ("patent, two lost", BetType.SYSTEM, "patent", False, ["lost", "lost", None], None),
        (
            "yankee, three lost",
            BetType.SYSTEM,
            "yankee",
            False,
            ["lost", None, "lost", "lost"],
            BetSettlement(SettledStatus.LOST, 0, (0,) * 11),
        ),
        ("yankee, two lost", BetType.SYSTEM, "yankee", False, ["lost", None, "won", "lost"], None),
        ("each-way trixie, two placed", BetType.SYSTEM, "trixie", True, ["placed", None, "placed"], None),
        (
            "each-way trixie, two lost",
            BetType.SYSTEM,
            "trixie",
            True,
            ["lost", None, "lost"],
            BetSettlement(SettledStatus.LOST, 0, (0,) * 8),
        ),
    ],
)
def test_a_bet_settles_once_every_line_is_decided(
    name: str,
    kind: BetType,
    system: str | None,
    each_way: bool,
    results: list[str | None],
    expected: BetSettlement | None,
) -> None:
    terms = FIFTH_THREE
    by_name = {
        "won": won(),
        "lost": lost(),
        "void": void(),
        "placed": explicit_result("placed", None, None, terms),
        "half_won": score_result(MarketType.ASIAN_HANDICAP, "home", 2, 1, hcp="-0.75"),
        "half_lost": score_result(MarketType.ASIAN_HANDICAP, "home", 0, 0, hcp="-0.25"),
        "lost_quarter_void": explicit_result("lost", F(1, 4), None, None),
        "dead_heat": explicit_result("won", None, HALF, None),
    }
    legs = [leg("2.0", terms if each_way else None) for _ in results]
    lines = expand_lines(kind, system, len(legs), each_way)
    assert settle_bet(1_000, lines, legs, [by_name[r] if r else None for r in results]) == expected, name


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(InvalidSettlement):
        settle_bet(1_000, [Line((0,), WIN)], [leg("2.0")], [])
    with pytest.raises(InvalidSettlement):
        settle_bet(0, [Line((0,), WIN)], [leg("2.0")], [won()])


def test_a_line_floors_once_after_every_leg() -> None:
    legs = [leg("1.5"), leg("1.5")]
    settled = settle_bet(333, [Line((0, 1), WIN)], legs, [won(), won()])
    assert settled is not None
    assert settled.total_return == 749  # 333 * 2.25 = 749.25, not 499 * 1.5 = 748


# --- properties -----------------------------------------------------------------------------------------------

odds_st = st.integers(101, 100_100).map(lambda cents: Decimal(cents) / 100)
factor_st = st.integers(1, 20).flatmap(lambda d: st.integers(1, d).map(lambda n: F(n, d)))
score_st = st.builds(Score, st.integers(0, 6), st.integers(0, 6))
quarter_st = st.integers(-12, 12).map(lambda q: str(Decimal(q) / 4))
terms_st = st.builds(EachWayTerms, st.sampled_from([1, 2, 3, 4, 5, 6, 8]).map(lambda d: F(1, d)), st.integers(1, 5))
deduction_st = st.sampled_from([F(0), F(5, 100), F(25, 100), F(45, 100), F(90, 100)])


def results_st(terms: EachWayTerms | None) -> st.SearchStrategy[SelectionResult]:
    return st.one_of(
        st.builds(
            lambda hcp, side, score: result_from_score(MarketType.ASIAN_HANDICAP, {"hcp": hcp}, side, score),
            quarter_st,
            st.sampled_from(["home", "away"]),
            score_st,
        ),
        st.builds(
            lambda total, side, score: result_from_score(MarketType.TOTAL, {"total": total}, side, score),
            quarter_st.filter(lambda t: not t.startswith("-")),
            st.sampled_from(["over", "under"]),
            score_st,
        ),
        st.builds(
            explicit_result,
            st.sampled_from(["won", "placed", "lost", "void"]),
            st.none() | factor_st,
            st.none() | factor_st,
            st.just(terms),
        ),
    )


@st.composite
def bets_st(
    draw: st.DrawFn, named: bool = False
) -> tuple[int, list[Line], list[LegSpec], list[SelectionResult], list[Fraction]]:
    """A bet with every leg resolved: singles, a multiple or a K/N system, or with `named` a named system."""
    system: str | None = None
    if named:
        system = draw(st.sampled_from([name for name, (n_legs, _) in SYSTEMS.items() if n_legs <= 5]))
        n = SYSTEMS[system][0]
    else:
        n = draw(st.integers(1, 4))
    terms = draw(st.none() | terms_st)
    legs = [
        LegSpec(uuid.UUID(int=i), uuid.UUID(int=100 + i), uuid.UUID(int=200 + i), draw(odds_st), terms)
        for i in range(n)
    ]
    if named:
        kind = BetType.SYSTEM
    else:
        kind = draw(st.sampled_from([BetType.SINGLE, BetType.MULTIPLE, BetType.SYSTEM] if n > 1 else [BetType.SINGLE]))
        system = f"{draw(st.integers(1, n))}/{n}" if kind is BetType.SYSTEM else None
    lines = expand_lines(kind, system, n, each_way=terms is not None)
    results = [draw(results_st(terms)) for _ in range(n)]
    deductions = [draw(deduction_st) for _ in range(n)]
    return draw(st.integers(1, 10**7)), lines, legs, results, deductions


@given(bets_st())
def test_a_settled_bet_never_returns_more_than_its_potential_return(
    bet: tuple[int, list[Line], list[LegSpec], list[SelectionResult], list[Fraction]],
) -> None:
    stake, lines, legs, results, deductions = bet
    for with_deductions in (None, deductions):
        settled = settle(stake, lines, legs, list(results), with_deductions)
        assert 0 <= settled.total_return <= potential_return(lines, legs, stake)
        assert settled.total_return == sum(settled.line_returns)
        assert (settled.total_return == 0) == (settled.status is SettledStatus.LOST)


@given(bets_st())
def test_a_fully_void_bet_returns_exactly_its_total_stake(
    bet: tuple[int, list[Line], list[LegSpec], list[SelectionResult], list[Fraction]],
) -> None:
    stake, lines, legs, _, deductions = bet
    settled = settle(stake, lines, legs, [void()] * len(legs), deductions)
    assert settled == BetSettlement(SettledStatus.VOID, stake * len(lines), (stake,) * len(lines))


@given(bets_st())
def test_rule4_never_increases_a_return(
    bet: tuple[int, list[Line], list[LegSpec], list[SelectionResult], list[Fraction]],
) -> None:
    stake, lines, legs, results, deductions = bet
    with_rule4 = settle(stake, lines, legs, list(results), deductions)
    without = settle(stake, lines, legs, list(results))
    assert all(a <= b for a, b in zip(with_rule4.line_returns, without.line_returns, strict=True))


@given(
    st.sampled_from(["won", "placed", "lost", "void"]),
    st.none() | factor_st,
    st.none() | terms_st,
)
def test_dead_heat_factor_one_changes_nothing(
    result: str, void_factor: Fraction | None, terms: EachWayTerms | None
) -> None:
    assert explicit_result(result, void_factor, F(1), terms) == explicit_result(result, void_factor, None, terms)


@given(results_st(None), odds_st, deduction_st)
def test_a_leg_is_worth_between_nothing_and_its_odds(
    result: SelectionResult, odds: Decimal, deduction: Fraction
) -> None:
    assert 0 <= leg_multiplier(result, odds, WIN, None, deduction) <= Fraction(odds)


@given(bets_st() | bets_st(named=True), st.data())
def test_a_bet_settled_early_pays_exactly_what_it_pays_once_every_leg_is_resolved(
    bet: tuple[int, list[Line], list[LegSpec], list[SelectionResult], list[Fraction]], data: st.DataObject
) -> None:
    # Some legs lose (so that bets are decided early more often than random results would make them), some are
    # left open; those are then resolved as `results` says, independently of the rest: whatever they do.
    stake, lines, legs, results, deductions = bet
    leg_ids = st.integers(0, len(legs) - 1)
    losing = data.draw(st.sets(leg_ids, max_size=len(legs) - 1), label="lost legs")
    still_open = data.draw(st.sets(leg_ids, min_size=1), label="open legs") - losing
    resolved = [lost() if i in losing else r for i, r in enumerate(results)]
    known: list[SelectionResult | None] = [None if i in still_open else r for i, r in enumerate(resolved)]
    early = settle_bet(stake, lines, legs, known, deductions)
    if early is None:
        assert still_open  # only an open leg holds a bet back
        event("waits for its open legs")
        return
    event("settled early" if still_open else "settled with every leg resolved")
    assert early == settle(stake, lines, legs, list(resolved), deductions)
    # ... and what it pays is, line by line, the stake times every leg's multiplier once all are resolved
    multiplied = [
        math.prod(
            (leg_multiplier(resolved[i], legs[i].odds, line.part, legs[i].each_way, deductions[i]) for i in line.legs),
            start=F(stake),
        )
        for line in lines
    ]
    assert early.line_returns == tuple(math.floor(value) for value in multiplied)
    if still_open:  # every line of every bet type that uses an open leg has lost: the bet returns nothing
        assert early == BetSettlement(SettledStatus.LOST, 0, (0,) * len(lines))

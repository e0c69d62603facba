"""The in-play football model: final-score probabilities, each market's fair probabilities, and its prices."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.core.markets import InvalidMarket, MarketType
from sportsbook.pricing.football import (
    FootballModel,
    FootballState,
    asian_handicap,
    btts,
    correct_score,
    one_x_two,
    price_market,
    score_matrix,
    total,
)
from sportsbook.pricing.model import on_ladder, overround

D = Decimal
MODEL = FootballModel(1.6, 1.1)
KICK_OFF = FootballState(0, 0, 0)

xgs = st.floats(min_value=0.1, max_value=4.0)
states = st.builds(FootballState, st.floats(min_value=-5, max_value=95), st.integers(0, 5), st.integers(0, 5))
models = st.builds(FootballModel, xgs, xgs)


def _matrix(minute: float = 0, home: int = 0, away: int = 0) -> list[list[float]]:
    return score_matrix(MODEL, FootballState(minute, home, away))


@given(models, states)
def test_the_matrix_and_the_result_sum_to_1(model: FootballModel, state: FootballState) -> None:
    matrix = score_matrix(model, state)
    assert math.isclose(math.fsum(p for row in matrix for p in row), 1.0, abs_tol=1e-12)
    assert math.isclose(math.fsum(one_x_two(matrix).values()), 1.0, abs_tol=1e-12)
    assert math.isclose(math.fsum(btts(matrix).values()), 1.0, abs_tol=1e-12)


def test_the_matrix_has_no_score_below_the_current_one() -> None:
    matrix = _matrix(30, 2, 1)
    assert len(matrix) == 13
    assert all(len(row) == 12 for row in matrix)
    assert all(p == 0 for row in matrix[:2] for p in row)
    assert all(row[0] == 0 for row in matrix)


def test_at_full_time_the_score_decides() -> None:
    assert one_x_two(_matrix(90, 2, 1)) == {"home": 1.0, "draw": 0.0, "away": 0.0}
    assert one_x_two(_matrix(120, 1, 1)) == {"home": 0.0, "draw": 1.0, "away": 0.0}
    assert btts(_matrix(90, 2, 0)) == {"yes": 0.0, "no": 1.0}
    assert total(_matrix(90, 2, 1), D("2.5")) == {"over": 1.0, "under": 0.0}
    assert correct_score(_matrix(90, 2, 1), ["2:1", "1:0"]) == {"2:1": 1.0, "1:0": 0.0, "other": 0.0}


def test_a_certain_push_has_no_price() -> None:
    with pytest.raises(ValueError, match="push"):
        total(_matrix(90, 1, 1), D("2"))
    with pytest.raises(ValueError, match="push"):
        asian_handicap(_matrix(90, 1, 1), D("0"))


@given(models, st.floats(min_value=0, max_value=89), st.integers(0, 4), st.integers(0, 4))
def test_a_home_goal_helps_home_and_hurts_away(model: FootballModel, minute: float, home: int, away: int) -> None:
    before = one_x_two(score_matrix(model, FootballState(minute, home, away)))
    after = one_x_two(score_matrix(model, FootballState(minute, home + 1, away)))
    assert after["home"] > before["home"]
    assert after["away"] < before["away"]


def test_the_over_falls_as_the_half_line_rises() -> None:
    for matrix, goals in ((_matrix(), 0), (_matrix(55, 1, 1), 2)):
        overs = [total(matrix, D(goals + k) + D("0.5"))["over"] for k in range(8)]
        assert all(a > b for a, b in itertools.pairwise(overs))


def test_the_home_handicap_falls_as_its_line_falls() -> None:
    matrix = _matrix(20, 0, 0)
    lines = [D(q) / 4 for q in range(12, -13, -1)]  # 3, 2.75, ..., -3: every whole, half and quarter line
    homes = [asian_handicap(matrix, line)["home"] for line in lines]
    assert all(a > b for a, b in itertools.pairwise(homes))


@pytest.mark.parametrize("line", [D(q) / 4 for q in range(25)])
def test_the_two_sides_of_a_total_sum_to_1(line: Decimal) -> None:
    assert math.isclose(math.fsum(total(_matrix(), line).values()), 1.0, abs_tol=1e-12)


@pytest.mark.parametrize("hcp", [D(q) / 4 for q in range(-12, 13)])
def test_the_two_sides_of_a_handicap_sum_to_1(hcp: Decimal) -> None:
    assert math.isclose(math.fsum(asian_handicap(_matrix(), hcp).values()), 1.0, abs_tol=1e-12)


def test_a_whole_line_prices_over_without_the_push() -> None:
    matrix = _matrix()
    goals = [0.0] * (2 * len(matrix))
    for h, row in enumerate(matrix):
        for a, p in enumerate(row):
            goals[h + a] += p
    over, push = math.fsum(goals[3:]), goals[2]
    assert math.isclose(total(matrix, D("2"))["over"], over / (1 - push), rel_tol=1e-12)


@given(models, states, st.integers(0, 5), st.sampled_from([D("0.25"), D("0.75")]))
def test_a_quarter_line_lies_between_its_neighbours(
    model: FootballModel, state: FootballState, whole: int, quarter: Decimal
) -> None:
    matrix = score_matrix(model, state)
    line = whole + quarter
    try:
        below, above = total(matrix, line - D("0.25")), total(matrix, line + D("0.25"))
        here = total(matrix, line)
    except ValueError:  # a neighbour that is a certain push has no price to compare with
        return
    low, high = sorted((below["over"], above["over"]))
    assert low - 1e-12 <= here["over"] <= high + 1e-12
    home_lines = (D(-whole) - quarter - D("0.25"), D(-whole) - quarter, D(-whole) - quarter + D("0.25"))
    try:
        a, b, c = (asian_handicap(matrix, h)["home"] for h in home_lines)
    except ValueError:
        return
    assert min(a, c) - 1e-12 <= b <= max(a, c) + 1e-12


def test_correct_score_lumps_the_rest_into_other() -> None:
    matrix = _matrix(70, 1, 0)
    probabilities = correct_score(matrix, ["1:0", "2:0", "1:1", "0:0", "40:0"])
    assert probabilities["0:0"] == 0.0  # behind the current score
    assert probabilities["40:0"] == 0.0  # beyond the matrix
    assert probabilities["1:0"] == matrix[1][0]
    assert math.isclose(math.fsum(probabilities.values()), 1.0, abs_tol=1e-12)
    assert probabilities["other"] > 0
    with pytest.raises(ValueError, match="twice"):
        correct_score(matrix, ["1:0", "1:0"])
    with pytest.raises(InvalidMarket):
        correct_score(matrix, ["one-nil"])


def test_the_same_inputs_give_the_same_output() -> None:
    state = FootballState(63.5, 1, 2)
    assert score_matrix(MODEL, state) == score_matrix(FootballModel(1.6, 1.1), FootballState(63.5, 1, 2))
    first = price_market(MODEL, state, MarketType.TOTAL, {"total": "3.75"}, ["over", "under"], D("0.06"))
    assert first == price_market(MODEL, state, MarketType.TOTAL, {"total": "3.75"}, ["over", "under"], D("0.06"))


@given(models, states, st.decimals(min_value=0, max_value=D("0.2"), places=3))
def test_1x2_and_btts_prices_keep_the_margin(model: FootballModel, state: FootballState, margin: Decimal) -> None:
    for market_type, outcomes in ((MarketType.ONE_X_TWO, ["home", "draw", "away"]), (MarketType.BTTS, ["yes", "no"])):
        fair = (one_x_two if market_type is MarketType.ONE_X_TWO else btts)(score_matrix(model, state))
        prices = price_market(model, state, market_type, {}, outcomes, margin)
        assert list(prices) == outcomes
        assert all(on_ladder(p) for p in prices.values())
        if max(fair.values()) * (1 + float(margin)) <= 1 / 1.01:  # not held at the shortest price
            assert overround(list(prices.values())) >= 1 + margin


def test_price_market_for_each_market() -> None:
    state = FootballState(30, 0, 1)
    margin = D("0.05")
    one = price_market(MODEL, state, MarketType.ONE_X_TWO, {}, ["draw"], margin)
    assert list(one) == ["draw"]  # the margin is still laid on the whole book
    full = price_market(MODEL, state, MarketType.ONE_X_TWO, {}, ["home", "draw", "away"], margin)
    assert one["draw"] == full["draw"]
    for market_type, specifiers, outcomes in (
        (MarketType.TOTAL, {"total": "2.25"}, ["over", "under"]),
        (MarketType.ASIAN_HANDICAP, {"hcp": "0.5"}, ["home", "away"]),
        (MarketType.ASIAN_HANDICAP, {"hcp": "-1"}, ["home", "away"]),
    ):
        prices = price_market(MODEL, state, market_type, specifiers, outcomes, margin)
        assert all(on_ladder(p) for p in prices.values())
        assert overround(list(prices.values())) >= 1 + margin
    scores = price_market(MODEL, state, MarketType.CORRECT_SCORE, {}, ["0:1", "1:1", "0:2"], D("0.15"))
    assert list(scores) == ["0:1", "1:1", "0:2"]
    assert all(on_ladder(p) for p in scores.values())


def test_price_market_refuses_what_it_cannot_price() -> None:
    with pytest.raises(ValueError, match="does not price"):
        price_market(MODEL, KICK_OFF, MarketType.DOUBLE_CHANCE, {}, ["home_draw"], D("0.05"))
    with pytest.raises(ValueError, match="outcomes"):
        price_market(MODEL, KICK_OFF, MarketType.BTTS, {}, ["maybe"], D("0.05"))
    with pytest.raises(InvalidMarket):
        price_market(MODEL, KICK_OFF, MarketType.TOTAL, {"total": "2.3"}, ["over"], D("0.05"))
    with pytest.raises(InvalidMarket):
        price_market(MODEL, KICK_OFF, MarketType.ASIAN_HANDICAP, {}, ["home"], D("0.05"))


def test_model_and_state_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        FootballModel(0, 1.2)
    with pytest.raises(ValueError, match="negative"):
        FootballState(10, -1, 0)
    with pytest.raises(ValueError, match="finite"):
        FootballState(float("nan"), 0, 0)

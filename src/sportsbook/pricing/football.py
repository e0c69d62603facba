"""In-play football prices from a Poisson goal model. Pure.

Each side's goals still to come are independent Poisson counts whose expectancy is its expected goals over 90
minutes scaled by the time left. One matrix of final-score probabilities gives every market's fair
probabilities; `price_market` turns them into ladder prices with a margin (`sportsbook.pricing.model`).

Lines that can push (whole lines) or split (quarter lines) are priced the way they settle
(`sportsbook.betting.settlement_rules`): a side's fair odds are those at which a 1-unit bet returns 1 on
average, counting half-wins, half-losses and pushes, and its fair probability is 1 / those odds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sportsbook.core.markets import FIXED_OUTCOMES, MarketType, line_value
from sportsbook.core.markets import correct_score as parse_score
from sportsbook.pricing.model import DEFAULT_MAX_ODDS, DEFAULT_MIN_ODDS, apply_margin

FULL_TIME = 90.0
# Below this share of stakes not void, a line is a certain push and has no price.
_CERTAIN_PUSH = 1e-12
_QUARTER = Decimal("0.25")

ScoreMatrix = Sequence[Sequence[float]]
"""matrix[h][a] is the probability that the match ends h:a."""


@dataclass(frozen=True, slots=True)
class FootballState:
    """Where a match stands: the minute played (clamped to [0, 90] when used) and the score."""

    minute: float
    home_goals: int
    away_goals: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.minute):
            raise ValueError(f"minute {self.minute} is not a finite number")
        if self.home_goals < 0 or self.away_goals < 0:
            raise ValueError("goals cannot be negative")

    @property
    def time_left(self) -> float:
        """The share of the 90 minutes still to play, from 0 to 1."""
        return (FULL_TIME - min(max(self.minute, 0.0), FULL_TIME)) / FULL_TIME


@dataclass(frozen=True, slots=True)
class FootballModel:
    """Each side's expected goals over a full 90 minutes."""

    home_xg: float
    away_xg: float

    def __post_init__(self) -> None:
        for xg in (self.home_xg, self.away_xg):
            if not (math.isfinite(xg) and xg > 0):
                raise ValueError(f"expected goals {xg} must be a positive finite number")


def _poisson(expectancy: float, max_goals: int) -> list[float]:
    """P(0..max_goals goals) for a Poisson count, renormalised over that range."""
    pmf = [math.exp(-expectancy)]
    for k in range(1, max_goals + 1):
        pmf.append(pmf[-1] * expectancy / k)
    total = math.fsum(pmf)
    return [p / total for p in pmf]


def score_matrix(model: FootballModel, state: FootballState, max_goals: int = 10) -> list[list[float]]:
    """Probabilities of the final score: matrix[h][a] = P(the match ends h:a).

    The current score plus up to `max_goals` more goals per side, each side's count Poisson with its
    remaining expectancy, truncated there and renormalised so the matrix sums to 1. Rows and columns below
    the current score are 0; the matrix has home_goals + max_goals + 1 rows of away_goals + max_goals + 1.
    """
    if max_goals < 0:
        raise ValueError("max_goals cannot be negative")
    left = state.time_left
    home = _poisson(model.home_xg * left, max_goals)
    away = _poisson(model.away_xg * left, max_goals)
    width = state.away_goals + max_goals + 1
    matrix = [[0.0] * width for _ in range(state.home_goals + max_goals + 1)]
    for i, p_home in enumerate(home):
        row = matrix[state.home_goals + i]
        for j, p_away in enumerate(away):
            row[state.away_goals + j] = p_home * p_away
    return matrix


def one_x_two(matrix: ScoreMatrix) -> dict[str, float]:
    """Fair probabilities of the match result: "home", "draw", "away"."""
    home = draw = away = 0.0
    for h, row in enumerate(matrix):
        home += math.fsum(row[:h])
        if h < len(row):
            draw += row[h]
        away += math.fsum(row[h + 1 :])
    return _normalised({"home": home, "draw": draw, "away": away})


def btts(matrix: ScoreMatrix) -> dict[str, float]:
    """Fair probabilities that both teams score ("yes") or not ("no")."""
    yes = math.fsum(p for row in matrix[1:] for p in row[1:])
    return _normalised({"yes": yes, "no": 1.0 - yes})


def total(matrix: ScoreMatrix, line: Decimal) -> dict[str, float]:
    """Fair probabilities of "over" and "under" the goal line, for half, whole and quarter lines."""
    if line < 0:
        raise ValueError("a total line cannot be negative")
    goals: dict[int, float] = {}
    for h, row in enumerate(matrix):
        for a, p in enumerate(row):
            goals[h + a] = goals.get(h + a, 0.0) + p
    over, under = _line(goals, line)
    return _normalised({"over": over, "under": under})


def asian_handicap(matrix: ScoreMatrix, hcp: Decimal) -> dict[str, float]:
    """Fair probabilities of "home" with line `hcp` (it wins if home goals + hcp > away goals) and "away"."""
    lead: dict[int, float] = {}
    for h, row in enumerate(matrix):
        for a, p in enumerate(row):
            lead[h - a] = lead.get(h - a, 0.0) + p
    # home + hcp > away is lead > -hcp: home is "over" the lead line -hcp
    home, away = _line(lead, -hcp)
    return _normalised({"home": home, "away": away})


def _normalised(fair: dict[str, float]) -> dict[str, float]:
    """Probabilities scaled to sum to 1 and kept within [0, 1], so float rounding never leaves a 1.0000000000000002."""
    whole = math.fsum(fair.values())
    return {name: min(max(p / whole, 0.0), 1.0) for name, p in fair.items()}


def _line(distribution: Mapping[int, float], line: Decimal) -> tuple[float, float]:
    """Fair probabilities of the sides above and below `line` of a count, pushes and quarter splits priced in.

    A quarter line is half the stake on each half or whole line beside it. With `won` and `void` the expected
    shares of a side's stake that win and come back, a 1-unit bet at odds o returns won * o + void, so the fair
    odds are (1 - void) / won and the fair probability won / (1 - void). Both sides share the same void share,
    so the two sum to 1 but for float rounding; the callers normalise them to absorb it.
    """
    if (line / _QUARTER) % 1 != 0:
        raise ValueError(f"line {line} is not a whole, half or quarter line")
    parts = (line - _QUARTER, line + _QUARTER) if (line / _QUARTER) % 2 else (line,)
    weight = 1.0 / len(parts)
    above = below = void = 0.0
    for count, p in distribution.items():
        for part in parts:
            if count > part:
                above += p * weight
            elif count < part:
                below += p * weight
            else:
                void += p * weight
    if above + below < _CERTAIN_PUSH:
        raise ValueError(f"line {line} is certain to push; it has no price")
    return above / (1.0 - void), below / (1.0 - void)


def correct_score(matrix: ScoreMatrix, outcomes: Sequence[str]) -> dict[str, float]:
    """Fair probabilities of the listed "h:a" scores, and of "other" for every score not listed.

    A score the match can no longer end with (below the current score, or beyond the matrix) has 0.
    """
    if len(set(outcomes)) != len(outcomes):
        raise ValueError("an outcome is listed twice")
    found: dict[str, float] = {}
    for outcome in outcomes:
        score = parse_score(outcome)
        row = matrix[score.home] if score.home < len(matrix) else ()
        found[outcome] = row[score.away] if score.away < len(row) else 0.0
    found["other"] = max(0.0, 1.0 - math.fsum(found.values()))
    return _normalised(found)


def price_market(
    model: FootballModel,
    state: FootballState,
    market_type: MarketType,
    specifiers: Mapping[str, str],
    outcomes: Sequence[str],
    margin: Decimal,
    *,
    min_odds: Decimal = DEFAULT_MIN_ODDS,
    max_odds: Decimal = DEFAULT_MAX_ODDS,
) -> dict[str, Decimal]:
    """Ladder prices with `margin` for the listed outcomes of one market: 1x2, total, asian_handicap, btts or
    correct_score.

    The margin is laid on the market's whole book, whichever outcomes are listed; for correct_score the book
    is the listed scores plus "other", which is priced but not returned. A bad line specifier or score is
    refused as InvalidMarket; a market this model does not price, or an outcome it lacks, as ValueError.
    """
    matrix = score_matrix(model, state)
    specs = dict(specifiers)
    match market_type:
        case MarketType.ONE_X_TWO:
            fair = one_x_two(matrix)
        case MarketType.BTTS:
            fair = btts(matrix)
        case MarketType.TOTAL:
            fair = total(matrix, line_value(specs, "total"))
        case MarketType.ASIAN_HANDICAP:
            fair = asian_handicap(matrix, line_value(specs, "hcp"))
        case MarketType.CORRECT_SCORE:
            fair = correct_score(matrix, outcomes)
        case _:
            raise ValueError(f"the football model does not price {market_type} markets")
    if market_type in FIXED_OUTCOMES and not set(outcomes) <= FIXED_OUTCOMES[market_type]:
        raise ValueError(f"{market_type} outcomes are {sorted(FIXED_OUTCOMES[market_type])}")
    names = list(fair)
    book = apply_margin([fair[n] for n in names], margin, min_odds=min_odds, max_odds=max_odds)
    prices = dict(zip(names, book, strict=True))
    return {outcome: prices[outcome] for outcome in outcomes}

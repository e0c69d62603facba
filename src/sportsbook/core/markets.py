"""Market types, their specifiers and outcomes, and each-way terms: the vocabulary catalogue, betting and
settlement share. Pure."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from sportsbook.core.errors import InvalidRequest


class MarketType(enum.StrEnum):
    ONE_X_TWO = "1x2"
    DOUBLE_CHANCE = "double_chance"
    DRAW_NO_BET = "draw_no_bet"
    TOTAL = "total"
    ASIAN_HANDICAP = "asian_handicap"
    BTTS = "btts"
    CORRECT_SCORE = "correct_score"
    WINNER = "winner"  # outrights and races: one selection per runner


SCORE_BASED = frozenset(MarketType) - {MarketType.WINNER}

FIXED_OUTCOMES: dict[MarketType, frozenset[str]] = {
    MarketType.ONE_X_TWO: frozenset({"home", "draw", "away"}),
    MarketType.DOUBLE_CHANCE: frozenset({"home_draw", "home_away", "draw_away"}),
    MarketType.DRAW_NO_BET: frozenset({"home", "away"}),
    MarketType.TOTAL: frozenset({"over", "under"}),
    MarketType.ASIAN_HANDICAP: frozenset({"home", "away"}),
    MarketType.BTTS: frozenset({"yes", "no"}),
}

_CORRECT_SCORE = re.compile(r"^(\d{1,2}):(\d{1,2})$")
_QUARTER = Decimal("0.25")


class InvalidMarket(InvalidRequest):
    """The market's type, specifiers, outcomes or each-way terms are not valid."""

    code = "invalid_market"


@dataclass(frozen=True, slots=True)
class Score:
    """A final (or current) score of a two-sided event."""

    home: int
    away: int

    def __post_init__(self) -> None:
        if not (0 <= self.home <= 999 and 0 <= self.away <= 999):
            raise InvalidRequest("a score is two whole numbers from 0 to 999", code="invalid_score")


@dataclass(frozen=True, slots=True)
class EachWayTerms:
    """Each-way terms: the place part pays `fraction` of the win odds' profit for a finish within `places`."""

    fraction: Fraction
    places: int

    @classmethod
    def parse(cls, fraction: str, places: int) -> EachWayTerms:
        try:
            num, den = (int(p) for p in fraction.split("/"))
        except ValueError as exc:
            raise InvalidMarket(f"each-way fraction {fraction!r} is not like 1/5") from exc
        if num != 1 or den not in (1, 2, 3, 4, 5, 6, 8) or not 1 <= places <= 10:
            raise InvalidMarket("each-way terms are 1/1 to 1/8 of the odds for 1 to 10 places")
        return cls(Fraction(num, den), places)

    def text(self) -> str:
        return f"{self.fraction.numerator}/{self.fraction.denominator}"


def line_value(specifiers: dict[str, str], key: str) -> Decimal:
    """A line specifier (`total`, `hcp`) as a Decimal on a quarter-point grid."""
    raw = specifiers.get(key)
    if raw is None:
        raise InvalidMarket(f"this market needs the specifier {key!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidMarket(f"{key} {raw!r} is not a number") from exc
    # range first: the remainder of a huge exponent (1e999999999) would itself raise InvalidOperation
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2 or value.copy_abs() > 100 or value % _QUARTER != 0:
        raise InvalidMarket(f"{key} {raw!r} must be a whole, half or quarter line")
    return value


def check_market(market_type: str, specifiers: dict[str, str], outcomes: list[str]) -> MarketType:
    """Validate a market's type, specifiers and selection outcomes; return its type."""
    try:
        kind = MarketType(market_type)
    except ValueError as exc:
        raise InvalidMarket(f"unknown market type {market_type!r}") from exc
    expected_keys = {MarketType.TOTAL: {"total"}, MarketType.ASIAN_HANDICAP: {"hcp"}}.get(kind, set())
    if set(specifiers) != expected_keys:
        raise InvalidMarket(f"{kind} takes specifiers {sorted(expected_keys)}")
    for key in expected_keys:
        value = line_value(specifiers, key)
        if kind is MarketType.TOTAL and value < 0:
            raise InvalidMarket("a total line cannot be negative")
    if len(set(outcomes)) != len(outcomes) or not outcomes:
        raise InvalidMarket("a market needs at least one selection and no outcome twice")
    if kind in FIXED_OUTCOMES:
        if not set(outcomes) <= FIXED_OUTCOMES[kind]:
            raise InvalidMarket(f"{kind} outcomes are {sorted(FIXED_OUTCOMES[kind])}")
    elif kind is MarketType.CORRECT_SCORE:
        if not all(_CORRECT_SCORE.match(o) for o in outcomes):
            raise InvalidMarket('correct_score outcomes look like "2:1"')
    elif not all(0 < len(o) <= 100 for o in outcomes):
        raise InvalidMarket("runner names are 1 to 100 characters")
    return kind


def correct_score(outcome: str) -> Score:
    match = _CORRECT_SCORE.match(outcome)
    if match is None:
        raise InvalidMarket(f"{outcome!r} is not a score")
    return Score(int(match.group(1)), int(match.group(2)))

"""Odds: decimal internally and on the wire; fractional and American for display. Pure."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from sportsbook.core.errors import InvalidRequest

MIN_ODDS = Decimal("1.01")
MAX_ODDS = Decimal("1001")
_CENT = Decimal("0.01")


class InvalidOdds(InvalidRequest):
    """Odds must be a decimal price from 1.01 to 1001 with at most two decimal places, in ASCII digits."""

    code = "invalid_odds"


def parse_odds(value: str | Decimal) -> Decimal:
    """A decimal price from its wire form ("1.95"), checked: ASCII, 1.01 to 1001, at most two decimal places."""
    # Decimal alone reads any script's digits ("٣.٤٠" is 3.40) and strips any Unicode space.
    if isinstance(value, str) and not value.isascii():
        raise InvalidOdds(f"{value!r} is not a decimal price in ASCII digits")
    try:
        odds = Decimal(value) if isinstance(value, str) else value
    except InvalidOperation as exc:
        raise InvalidOdds(f"{value!r} is not a decimal price") from exc
    # range first: quantizing a huge exponent (1e30) would itself raise InvalidOperation
    if not odds.is_finite() or not MIN_ODDS <= odds <= MAX_ODDS or odds != odds.quantize(_CENT):
        raise InvalidOdds(f"{value!r} is not a valid price")
    return odds.quantize(_CENT)


def odds_text(odds: Decimal) -> str:
    """The wire form of a price: two decimal places ("2.50")."""
    return str(odds.quantize(_CENT))


def to_fractional(odds: Decimal) -> str:
    """Decimal to fractional ("2.50" -> "3/2"), exact for any two-decimal price."""
    profit = Fraction(odds) - 1
    return f"{profit.numerator}/{profit.denominator}"


def from_fractional(text: str) -> Decimal:
    """Fractional to decimal ("5/2" -> 3.50), rounded half up to two places."""
    try:
        num, den = (int(p) for p in text.split("/"))
    except ValueError as exc:
        raise InvalidOdds(f"{text!r} is not a fractional price") from exc
    if num <= 0 or den <= 0:
        raise InvalidOdds(f"{text!r} is not a fractional price")
    return parse_odds((Decimal(num) / Decimal(den) + 1).quantize(_CENT, rounding=ROUND_HALF_UP))


def to_american(odds: Decimal) -> str:
    """Decimal to American moneyline: "+150" for 2.50, "-200" for 1.50 (rounded to a whole number)."""
    if odds >= 2:
        return f"+{((odds - 1) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}"
    return f"-{(Decimal(100) / (odds - 1)).quantize(Decimal(1), rounding=ROUND_HALF_UP)}"

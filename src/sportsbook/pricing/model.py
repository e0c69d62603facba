"""Prices from fair probabilities: the odds ladder, the margin and the policy that picks it. Pure.

A price is a Decimal on the ladder, never a float. Rounding always goes to the shorter price (down the ladder),
which raises the implied probability, so the house keeps at least the margin it asked for.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType

from sportsbook.core.markets import MarketType

MIN_MARGIN = Decimal(0)
MAX_MARGIN = Decimal("0.5")
DEFAULT_MIN_ODDS = Decimal("1.01")
DEFAULT_MAX_ODDS = Decimal("1000")
_SUM_TOLERANCE = 1e-9

# (first, last, step) of each band of the ladder, as exchanges use it.
_BANDS = (
    ("1.01", "2.00", "0.01"),
    ("2.02", "3.00", "0.02"),
    ("3.05", "4.00", "0.05"),
    ("4.1", "6.0", "0.1"),
    ("6.2", "10", "0.2"),
    ("10.5", "20", "0.5"),
    ("21", "30", "1"),
    ("32", "50", "2"),
    ("55", "100", "5"),
    ("110", "1000", "10"),
)
_CENT = Decimal("0.01")


def _build_ladder() -> tuple[Decimal, ...]:
    prices: list[Decimal] = []
    for first, last, step in _BANDS:
        price, end, by = Decimal(first), Decimal(last), Decimal(step)
        while price <= end:
            prices.append(price.quantize(_CENT))
            price += by
    return tuple(prices)


LADDER: tuple[Decimal, ...] = _build_ladder()
"""Every valid price, ascending, in two-decimal form ("2.50") as the wire carries odds."""

# The same prices as exact fractions, so a computed price is compared with the ladder without rounding.
_LADDER_EXACT: tuple[Fraction, ...] = tuple(Fraction(p) for p in LADDER)
_ON_LADDER = frozenset(LADDER)
# each ladder price by any Decimal equal to it ("2.1" finds "2.10"): a feed's price already on the ladder is
# taken without exact arithmetic (the common case, some hundred thousand times a second)
_CANONICAL: dict[Decimal, Decimal] = {p: p for p in LADDER}


def on_ladder(odds: Decimal) -> bool:
    """Whether `odds` is exactly a ladder price."""
    return odds.is_finite() and odds in _ON_LADDER


def to_ladder(odds: Decimal, *, min_odds: Decimal = DEFAULT_MIN_ODDS, max_odds: Decimal = DEFAULT_MAX_ODDS) -> Decimal:
    """The highest ladder price at or below `odds`, kept within [min_odds, max_odds].

    Rounding down shortens the price, in the house's favour. Below min_odds the price is raised to min_odds,
    the one case where rounding goes the player's way: no shorter price can be offered.
    """
    canonical = _CANONICAL.get(odds)
    if canonical is not None:
        low, high = _check_limits(min_odds, max_odds)
        return min(max(canonical, low), high)
    if not odds.is_finite():
        raise ValueError(f"odds {odds} are not a finite number")
    return _floor_exact(Fraction(odds), min_odds, max_odds)


def _floor_exact(odds: Fraction, min_odds: Decimal, max_odds: Decimal) -> Decimal:
    low, high = _check_limits(min_odds, max_odds)
    index = bisect_right(_LADDER_EXACT, odds) - 1
    price = LADDER[max(index, 0)]
    return min(max(price, low), high)


@functools.lru_cache(maxsize=64)
def _check_limits(min_odds: Decimal, max_odds: Decimal) -> tuple[Decimal, Decimal]:
    """The limits in the ladder's two-decimal form, checked to be ladder prices, the first below the second."""
    if not (on_ladder(min_odds) and on_ladder(max_odds) and min_odds < max_odds):
        raise ValueError(f"odds limits {min_odds} and {max_odds} must be ladder prices, the first below the second")
    return min_odds.quantize(_CENT), max_odds.quantize(_CENT)


def check_margin(margin: Decimal) -> Decimal:
    """A margin (0.05 is a book of 105%) checked to be within [0, 0.5]."""
    if not (margin.is_finite() and MIN_MARGIN <= margin <= MAX_MARGIN):
        raise ValueError(f"margin {margin} must be from {MIN_MARGIN} to {MAX_MARGIN}")
    return margin


def apply_margin(
    fair: Sequence[float | Fraction | Decimal],
    margin: Decimal,
    *,
    min_odds: Decimal = DEFAULT_MIN_ODDS,
    max_odds: Decimal = DEFAULT_MAX_ODDS,
) -> list[Decimal]:
    """Ladder prices for a book of mutually exclusive, exhaustive outcomes, in the order given.

    `fair` holds each outcome's probability; they must lie in [0, 1] and sum to 1 within 1e-9. Each is
    scaled in proportion so the book is exactly 1 + margin, then its price 1/p is rounded down the ladder,
    which only raises the book. An outcome whose scaled probability is below 1/max_odds (0 included) gets
    max_odds. One that is above 1/min_odds gets min_odds, and only then can the book end below 1 + margin:
    a near-certain outcome cannot be priced shorter than min_odds.
    """
    check_margin(margin)
    _, longest_price = _check_limits(min_odds, max_odds)
    if not fair:
        raise ValueError("a book needs at least one outcome")
    exact: list[Fraction] = []
    for p in fair:
        if (isinstance(p, Decimal) and not p.is_finite()) or (isinstance(p, float) and not math.isfinite(p)):
            raise ValueError(f"probability {p} is not a finite number")
        value = Fraction(p)
        if not 0 <= value <= 1:
            raise ValueError(f"probability {p} is not within [0, 1]")
        exact.append(value)
    total = sum(exact, Fraction(0))
    if abs(total - 1) > _SUM_TOLERANCE:
        raise ValueError(f"probabilities sum to {float(total)}, not 1")
    scale = (1 + Fraction(margin)) / total
    longest = Fraction(longest_price)
    prices: list[Decimal] = []
    for p in exact:
        implied = p * scale
        if implied * longest <= 1:  # 1/implied >= max_odds, or no chance at all
            prices.append(longest_price)
        else:
            prices.append(_floor_exact(1 / implied, min_odds, max_odds))
    return prices


def overround(prices: Sequence[Decimal]) -> Fraction:
    """The book of a set of prices, exactly: the sum of their implied probabilities (1.05 is a 5% margin)."""
    return sum((1 / Fraction(p) for p in prices), Fraction(0))


@dataclass(frozen=True)
class PricingPolicy:
    """The margin to price each market with: a default, overridden per (sport, market type), and the odds limits.

    Margins differ by market because risk does: a correct score book carries more than a 1x2. Every margin is
    checked to lie in [0, 0.5] when the policy is made, so a bad override fails at start, not mid-match.
    """

    default_margin: Decimal
    overrides: Mapping[tuple[str, MarketType], Decimal] = field(default_factory=dict)
    min_odds: Decimal = DEFAULT_MIN_ODDS
    max_odds: Decimal = DEFAULT_MAX_ODDS

    def __post_init__(self) -> None:
        check_margin(self.default_margin)
        for key, margin in self.overrides.items():
            try:
                check_margin(margin)
            except ValueError as exc:
                raise ValueError(f"override for {key}: {exc}") from exc
        _check_limits(self.min_odds, self.max_odds)
        # a read-only copy, so the frozen policy cannot change through the caller's dict
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def margin_for(self, sport: str, market_type: MarketType) -> Decimal:
        """The margin for one sport's market type: its override, else the default."""
        return self.overrides.get((sport, market_type), self.default_margin)

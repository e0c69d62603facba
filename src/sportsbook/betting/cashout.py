"""Cash-out pricing, pure: what the house pays now to close an open bet, from the current odds and a margin.

A line's fair value now is stake * Π(settled legs' return multipliers) * Π(open legs' odds taken / current odds):
each open leg is re-priced as if the line's money so far were staked on it at today's price. Place lines use
place odds on both sides of the ratio. The house keeps `margin` of the value of every line still at risk; a
line whose legs are all settled is certain money and is paid in full. Each line is floored to the minor unit,
as potential returns are, so a cash-out never exceeds the bet's potential return.

What the value means:
- None: not offered now. An open leg's market is suspended (the price cannot be trusted), or no leg is open (the
  bet is waiting for settlement, not for a price).
- 0: the bet can no longer return anything (every line has a lost leg). The service should not offer it.
- otherwise: the amount to pay, in minor units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import TypeAlias

from sportsbook.betting.model import LegSpec, Line, LinePart, place_odds
from sportsbook.core.odds import MAX_ODDS, MIN_ODDS, InvalidOdds


@dataclass(frozen=True, slots=True)
class OpenLeg:
    """A leg not yet resulted: its selection's current price and whether its market takes bets now."""

    current_odds: Decimal
    active: bool = True

    def __post_init__(self) -> None:
        if not (self.current_odds.is_finite() and MIN_ODDS <= self.current_odds <= MAX_ODDS):
            raise InvalidOdds(f"{self.current_odds} is not a valid price")


@dataclass(frozen=True, slots=True)
class SettledLeg:
    """A resulted leg: what it multiplies a line's money by (won = odds taken, void = 1, lost = 0, half won =
    (1 + odds) / 2, ...) on a win line and, for each-way bets, on a place line."""

    win: Fraction
    place: Fraction | None = None


LegState: TypeAlias = OpenLeg | SettledLeg


def _factor(leg: LegSpec, state: LegState, part: LinePart) -> tuple[Fraction, bool]:
    """What one leg multiplies a line's value by, and whether that leg is still open."""
    if isinstance(state, SettledLeg):
        if part is LinePart.WIN:
            return state.win, False
        if state.place is None:
            raise ValueError("a settled leg of an each-way bet needs its place multiplier")
        return state.place, False
    if part is LinePart.WIN:
        return Fraction(leg.odds) / Fraction(state.current_odds), True
    if leg.each_way is None:
        raise ValueError("a place line on a leg without each-way terms")
    return place_odds(leg.odds, leg.each_way) / place_odds(state.current_odds, leg.each_way), True


def cashout_value(
    *,
    stake: int,
    lines: Sequence[Line],
    legs: Sequence[LegSpec],
    leg_states: Sequence[LegState],
    margin: Decimal,
) -> int | None:
    """The cash-out value of a bet at `stake` per line, or None when cash-out is not offered now (see module)."""
    if len(leg_states) != len(legs):
        raise ValueError("one state per leg")
    if not Decimal(0) <= margin < Decimal(1):
        raise ValueError("the cash-out margin is a fraction from 0 (inclusive) to 1 (exclusive)")
    open_states = [s for s in leg_states if isinstance(s, OpenLeg)]
    if not open_states or not all(s.active for s in open_states):
        return None
    keep = 1 - Fraction(margin)
    cache: dict[tuple[int, LinePart], tuple[Fraction, bool]] = {}
    total = 0
    for line in lines:
        value = Fraction(stake)
        at_risk = False
        for i in line.legs:
            key = (i, line.part)
            factor = cache.get(key)
            if factor is None:
                factor = cache[key] = _factor(legs[i], leg_states[i], line.part)
            value *= factor[0]
            at_risk = at_risk or factor[1]
            if not value:
                break  # a lost leg: the line is worth nothing, whatever else is open
        total += floor(value * keep if at_risk else value)
    return total


def within_tolerance(quoted: int, current: int | None) -> bool:
    """Whether a quoted cash-out may still be accepted: only if the value now is at least the quote, so a player
    is never paid less than they agreed to (and the house pays the quote, not the higher value)."""
    return current is not None and current >= quoted

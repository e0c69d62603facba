"""Settlement rules: how a resolved selection turns into money. Pure, exact (Fraction), no I/O.

A selection's resolution is a `SelectionResult`: for each line part (win, place) the share of the stake that
won and the share that is void; the rest is lost. Score-based markets get theirs from the final score
(`result_from_score`), other markets from an explicit settlement as odds feeds send it (`explicit_result`, with
`void_factor` and `dead_heat_factor`). A leg's multiplier is won share * its effective odds (place odds for a
place line, Rule 4 applied) + void share * 1; a line returns floor(stake * Π multipliers), and a bet returns the
sum of its lines. Flooring happens once per line, never per leg, so a multiple is as exact as its single.

Bet status, chosen so that `status` with `return` reads the way a player expects (the API's settled statuses are
`won`, `lost`, `void`, `half_won` and `half_lost`), in this order:
1. `lost`: the bet returns nothing.
2. `void`: every leg its lines use is void in full (non-runners, abandoned events, pushes); it returns exactly
   its total stake.
3. `half_lost`: no line has any winnings, only part of the stake came back (a quarter line half-lost, a push in
   one leg and a half-loss in another, a loss with a partial `void_factor`).
4. For a bet with one line (a single or a straight multiple): `half_lost` if a leg was half-lost, else
   `half_won` if a leg was half-won (so a double with a half-won leg reads `half_won`).
5. `won` otherwise: something won and the bet paid out. This covers dead heats that pay back less than the
   stake and each-way or system bets whose lines went different ways; `return` says how much.

When a bet settles: once every line is decided. A line is decided once one of its legs pays nothing of the
line's part (no share of it won, none void: a lost leg, or a `placed` runner on a win line), whatever its other
legs do, or once every leg it uses is resolved. So a multiple is lost as soon as one leg loses, its other legs
still running; a half-lost Asian leg, a partial `void_factor` or a dead heat still pays part of the line and
decides nothing; an each-way multiple waits while a placed leg's place line can still pay. A system bet settles
once every one of its lines is decided. Deciding early changes nothing of the money: a bet settled with legs
still open pays exactly what it would once they are resolved, whatever they do (for every bet type this is 0).

Resettlement after a correction, or a rollback, is the same pure computation on the new results:
`adjustment` gives the money to move against what was paid before.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sportsbook.betting.model import LegSpec, Line, LinePart, place_odds
from sportsbook.core.errors import InvalidRequest
from sportsbook.core.markets import (
    FIXED_OUTCOMES,
    EachWayTerms,
    InvalidMarket,
    MarketType,
    Score,
    correct_score,
    line_value,
)

ZERO = Fraction(0)
ONE = Fraction(1)
HALF = Fraction(1, 2)
# Tattersalls Rule 4(c) and operators' rules cap the sum of deductions for several non-runners at 90p in the £.
MAX_DEDUCTION = Fraction(90, 100)


class InvalidSettlement(InvalidRequest):
    """The settlement does not fit the market: an unknown or repeated selection, an unknown result, a factor
    outside (0, 1], `placed` without each-way terms, an empty bet-cancel window."""

    code = "invalid_settlement"


class LegResult(enum.StrEnum):
    """How one selection was resolved, as a player reads it on a bet's leg."""

    WON = "won"
    HALF_WON = "half_won"
    PLACED = "placed"
    VOID = "void"
    HALF_LOST = "half_lost"
    LOST = "lost"


class SettledStatus(enum.StrEnum):
    """The status of a settled bet (a subset of the API's bet statuses)."""

    WON = "won"
    LOST = "lost"
    VOID = "void"
    HALF_WON = "half_won"
    HALF_LOST = "half_lost"


@dataclass(frozen=True, slots=True)
class Part:
    """Shares of one line part's stake that won and that are void; the rest is lost."""

    won: Fraction
    void: Fraction

    def __post_init__(self) -> None:
        if self.won < 0 or self.void < 0 or self.won + self.void > 1:
            raise InvalidSettlement(f"shares won {self.won} and void {self.void} must be within the stake")

    @property
    def lost(self) -> Fraction:
        return 1 - self.won - self.void


WON = Part(ONE, ZERO)
VOID = Part(ZERO, ONE)
LOST = Part(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class SelectionResult:
    """How one selection was resolved, for the win part and the place part of the lines that use it."""

    win: Part
    place: Part
    label: LegResult

    def part(self, part: LinePart) -> Part:
        return self.win if part is LinePart.WIN else self.place


@dataclass(frozen=True, slots=True)
class BetSettlement:
    """What a bet paid back (stake included, minor units), line by line, and the status it settles with."""

    status: SettledStatus
    total_return: int
    line_returns: tuple[int, ...]


# --- score-based markets ---------------------------------------------------------------------------------------


def result_from_score(
    market_type: MarketType, specifiers: dict[str, str], outcome: str, score: Score
) -> SelectionResult:
    """Result one selection of a score-based market from the final score."""
    if market_type in FIXED_OUTCOMES and outcome not in FIXED_OUTCOMES[market_type]:
        raise InvalidMarket(f"{outcome!r} is not an outcome of {market_type}")
    home, away = score.home, score.away
    match market_type:
        case MarketType.ONE_X_TWO:
            winner = "home" if home > away else "away" if away > home else "draw"
            return _from_part(WON if outcome == winner else LOST)
        case MarketType.DOUBLE_CHANCE:
            covered = {"home_draw": home >= away, "home_away": home != away, "draw_away": away >= home}
            return _from_part(WON if covered[outcome] else LOST)
        case MarketType.DRAW_NO_BET:
            if home == away:
                return _from_part(VOID)
            return _from_part(WON if (home > away) == (outcome == "home") else LOST)
        case MarketType.TOTAL:
            goals = home + away
            sign = 1 if outcome == "over" else -1
            total = Fraction(line_value(specifiers, "total"))
            return _from_part(_split_line(total, lambda line: sign * (goals - line)))
        case MarketType.ASIAN_HANDICAP:
            # `hcp` is the home side's line; the away side takes the opposite one.
            hcp = Fraction(line_value(specifiers, "hcp"))
            margin = home - away if outcome == "home" else away - home
            line = hcp if outcome == "home" else -hcp
            return _from_part(_split_line(line, lambda h: margin + h))
        case MarketType.BTTS:
            both = home > 0 and away > 0
            return _from_part(WON if both == (outcome == "yes") else LOST)
        case MarketType.CORRECT_SCORE:
            return _from_part(WON if correct_score(outcome) == score else LOST)
    raise InvalidSettlement(f"{market_type} markets are settled explicitly, not from a score")


def _split_line(line: Fraction, margin_at: Callable[[Fraction], Fraction]) -> Part:
    """Whole and half lines settle as one bet; a quarter line splits the stake over the two lines beside it."""
    quarter = (line * 4).denominator == 1 and (line * 4).numerator % 2 == 1
    lines = (line - Fraction(1, 4), line + Fraction(1, 4)) if quarter else (line,)
    weight = Fraction(1, len(lines))
    won = void = ZERO
    for each in lines:
        margin = margin_at(each)
        if margin > 0:
            won += weight
        elif margin == 0:
            void += weight
    return Part(won, void)


def _from_part(part: Part) -> SelectionResult:
    """A result with no each-way side: the place part mirrors the win part, which is all that is used."""
    return SelectionResult(part, part, _label(part))


def _label(part: Part) -> LegResult:
    if part.void == 1:
        return LegResult.VOID
    if part.won == 1:
        return LegResult.WON
    if part.won == HALF and part.void == HALF:
        return LegResult.HALF_WON
    if part.won == 0 and part.void == HALF:
        return LegResult.HALF_LOST
    return LegResult.WON if part.won > 0 else LegResult.LOST


# --- explicit settlements (outrights, races, feed-resulted markets) ---------------------------------------------


def explicit_result(
    result: str,
    void_factor: Fraction | Decimal | None,
    dead_heat_factor: Fraction | Decimal | None,
    each_way: EachWayTerms | None,
) -> SelectionResult:
    """Turn an explicit settlement of one selection (`won`, `placed`, `lost`, `void`) into shares of the stake.

    `void_factor` is the share of the stake refunded; the rest settles per `result`. `dead_heat_factor` reduces
    the stake of whichever part the tie touches: for `won`, the win part, and the place part only when one place
    is paid (a tie for first within several places is still a clean place); for `placed`, the place part.
    """
    void = _factor("void_factor", void_factor, ZERO)
    dead_heat = _factor("dead_heat_factor", dead_heat_factor, ONE)
    live = 1 - void  # the share that settles per the result
    match result:
        case "void":
            return SelectionResult(VOID, VOID, LegResult.VOID)
        case "lost":
            part = Part(ZERO, void)
            return SelectionResult(part, part, _label(part))
        case "won":
            win = Part(live * dead_heat, void)
            place_dead_heat = dead_heat if each_way is None or each_way.places == 1 else ONE
            place = Part(live * place_dead_heat, void)
            return SelectionResult(win, place, _label(Part(live, void)))
        case "placed":
            label = LegResult.VOID if void == 1 else LegResult.PLACED
            return SelectionResult(Part(ZERO, void), Part(live * dead_heat, void), label)
    raise InvalidSettlement(f"result {result!r} is not one of won, placed, lost, void")


def _factor(name: str, value: Fraction | Decimal | None, default: Fraction) -> Fraction:
    if value is None:
        return default
    factor = Fraction(value)
    if not 0 < factor <= 1:
        raise InvalidSettlement(f"{name} must be more than 0 and at most 1, not {value}")
    return factor


# --- Rule 4: non-runners ------------------------------------------------------------------------------------------

# Tattersalls Rule 4(c) scale of deductions from winnings, keyed by the withdrawn runner's price at withdrawal.
# Each band is bounded by its longest fractional price, as decimal odds (fraction + 1), exactly:
# 1/9 or shorter 90p; 2/17-2/11 85p; 1/5-1/4 80p; 2/7-3/10 75p; 1/3-2/5 70p; 4/9-8/15 65p; 4/7-8/13 60p;
# 4/6-4/5 55p; 5/6-20/21 50p; evens-6/5 45p; 5/4-6/4 40p; 13/8-7/4 35p; 15/8-9/4 30p; 5/2-3/1 25p;
# 10/3-4/1 20p; 9/2-11/2 15p; 6/1-9/1 10p; 10/1-14/1 5p; over 14/1 no deduction.
# Sources: beginners-betting-guide.com/rule-4-deductions-explained, mathematician-betting.co.uk/rule4.asp
# (both "the official Tattersalls Rule 4(c) table"), and Betsson's help page giving the same bands in decimal
# odds (1.11 or shorter 90%, ..., 11.00 to 15.00 5%, over 15.00 none) with the 90% cap on several non-runners.
# A decimal price between two bands (say 2.55, between 6/4 and 13/8) falls in the longer band: the scale reads
# "over the last band's longest price, up to and including this band's", which also favours the player.
_RULE4_SCALE: tuple[tuple[Fraction, Fraction], ...] = tuple(
    (1 + Fraction(price), Fraction(pence, 100))
    for price, pence in (
        ("1/9", 90),
        ("2/11", 85),
        ("1/4", 80),
        ("3/10", 75),
        ("2/5", 70),
        ("8/15", 65),
        ("8/13", 60),
        ("4/5", 55),
        ("20/21", 50),
        ("6/5", 45),
        ("6/4", 40),
        ("7/4", 35),
        ("9/4", 30),
        ("3/1", 25),
        ("4/1", 20),
        ("11/2", 15),
        ("9/1", 10),
        ("14/1", 5),
    )
)


def rule4_deduction(odds_at_withdrawal: Decimal | Fraction) -> Fraction:
    """The Rule 4 deduction (a share of winnings) for a runner withdrawn at these decimal odds."""
    price = Fraction(odds_at_withdrawal)
    if price <= 1:
        raise InvalidSettlement(f"odds at withdrawal must be more than 1, not {odds_at_withdrawal}")
    for longest, deduction in _RULE4_SCALE:
        if price <= longest:
            return deduction
    return ZERO


def total_deduction(deductions: Iterable[Fraction]) -> Fraction:
    """The deduction from several non-runners in one race: their sum, capped at 90p in the pound."""
    total = ZERO
    for deduction in deductions:
        _check_deduction(deduction)
        total += deduction
    return min(total, MAX_DEDUCTION)


def apply_rule4(odds: Decimal | Fraction, deduction: Fraction) -> Fraction:
    """Odds with a Rule 4 deduction taken from their winnings: 1 + (odds - 1) * (1 - deduction)."""
    _check_deduction(deduction)
    return 1 + (Fraction(odds) - 1) * (1 - deduction)


def _check_deduction(deduction: Fraction) -> None:
    if not 0 <= deduction <= MAX_DEDUCTION:
        raise InvalidSettlement(f"a Rule 4 deduction is from 0 to 90p in the pound, not {deduction}")


# --- lines and bets -----------------------------------------------------------------------------------------------


def part_odds(odds: Decimal | Fraction, part: LinePart, each_way: EachWayTerms | None) -> Fraction:
    """The odds a line part is paid at: the win odds, or for a place line 1 + (odds - 1) * the each-way fraction."""
    if part is LinePart.WIN:
        return Fraction(odds)
    if each_way is None:
        raise InvalidSettlement("a place line needs each-way terms")
    return place_odds(odds, each_way)


def leg_multiplier(
    result: SelectionResult,
    odds: Decimal | Fraction,
    part: LinePart,
    each_way: EachWayTerms | None,
    deduction: Fraction = ZERO,
) -> Fraction:
    """What one unit staked on this leg's part is worth: won share at the (Rule 4 reduced) odds + void share."""
    shares = result.part(part)
    return shares.won * apply_rule4(part_odds(odds, part, each_way), deduction) + shares.void


@dataclass(frozen=True, slots=True)
class SettlementPlan:
    """A resolved bet's settlement per unit of stake: each line's multiplier as an exact integer ratio, and the
    status it settles with if it returns anything. Bets with the same lines, odds, results and deductions share
    one plan, so settling a market computes each distinct combination once and every bet in integers."""

    ratios: tuple[tuple[int, int], ...]  # per line: (numerator, denominator) of Π leg multipliers
    status_if_paid: SettledStatus

    def settle(self, stake: int) -> BetSettlement:
        """The bet at `stake` per line: floor(stake * Π multipliers) per line, once."""
        if stake <= 0:
            raise InvalidSettlement("a bet has a positive stake")
        returns = tuple(stake * num // den for num, den in self.ratios)
        total = sum(returns)
        return BetSettlement(self.status_if_paid if total else SettledStatus.LOST, total, returns)


def plan_bet(
    lines: Sequence[Line],
    legs: Sequence[LegSpec],
    results: Sequence[SelectionResult | None],
    deductions: Sequence[Fraction] | None = None,
) -> SettlementPlan | None:
    """The settlement plan of a bet once every line is decided; None until then (see the module: a line is
    decided once one of its legs pays nothing of its part, or once every leg is resolved).

    `results` (None for a leg still open) and `deductions` (each leg's total Rule 4 deduction, for bets struck
    before the withdrawals) are indexed like `legs`."""
    if not lines:
        raise InvalidSettlement("a bet has at least one line")
    if len(results) != len(legs) or (deductions is not None and len(deductions) != len(legs)):
        raise InvalidSettlement("one result and one deduction per leg")
    ratios: list[tuple[int, int]] = []
    any_winnings = False
    all_void = True
    labels: set[LegResult] = set()
    for line in lines:
        resolved: list[tuple[int, SelectionResult]] = []
        waiting = False
        for i in line.legs:
            found = results[i]
            if found is None:
                waiting = True
            else:
                resolved.append((i, found))
                labels.add(found.label)
        shares = [found.part(line.part) for _i, found in resolved]
        if any(not part.won and not part.void for part in shares):
            # A leg lost this line's part: nothing of the line can pay, whatever its open legs do.
            ratios.append((0, 1))
            all_void = False
            continue
        if waiting:
            return None
        multipliers = [
            leg_multiplier(
                found, legs[i].odds, line.part, legs[i].each_way, deductions[i] if deductions is not None else ZERO
            )
            for i, found in resolved
        ]
        product = math.prod(multipliers, start=ONE)
        ratios.append((product.numerator, product.denominator))
        # A line has winnings when it pays more than its void shares alone would refund.
        refund_only = math.prod((part.void for part in shares), start=ONE)
        any_winnings = any_winnings or product > refund_only
        all_void = all_void and all(part.void == 1 for part in shares)

    if all_void:
        status = SettledStatus.VOID
    elif not any_winnings or (len(lines) == 1 and LegResult.HALF_LOST in labels):
        status = SettledStatus.HALF_LOST
    elif len(lines) == 1 and LegResult.HALF_WON in labels:
        status = SettledStatus.HALF_WON
    else:
        status = SettledStatus.WON
    return SettlementPlan(tuple(ratios), status)

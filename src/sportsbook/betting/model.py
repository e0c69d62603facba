"""The rules of bet placement, pure: bet types and the lines they expand to, line odds and potential returns,
related legs, the odds-change policy and stake limits.

A bet is a list of legs (one selection each, at the odds taken) and a list of lines: a single has one line per
leg, a multiple one line with every leg, a system bet one line per combination of its system. Each-way turns
every combination into a win line and a place line. `stake` is always per line, in integer minor units; a
line returns `floor(stake * line odds)`, computed exactly (Fraction or integer ratios) and floored once.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from math import ceil, comb, floor
from uuid import UUID

from sportsbook.betting.events import BetAcceptedV1, BetPlacedV1, BetRejectedV1, BetReopenedV1, BetSettledV1, PlacedLeg
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
from sportsbook.core.money import MAX_AMOUNT
from sportsbook.core.odds import MAX_ODDS, MIN_ODDS, InvalidOdds

MAX_LEGS = 20
# A generic K/N system grows as C(N, K) (C(20, 10) = 184,756 lines). Every line is priced, stored in liability
# and settled, so an unbounded count is a cheap way to make one request cost seconds of CPU. 10,000 keeps every
# K/N up to N = 14 (each-way included) and every named system; raise it only with a benchmark.
MAX_LINES = 10_000


class BetType(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    SYSTEM = "system"


class OddsChange(enum.StrEnum):
    """Which price change the player accepts between seeing a price and the bet being struck."""

    NONE = "none"  # only the requested price
    HIGHER = "higher"  # the requested price or a better one
    ANY = "any"  # whatever the current price is


class LinePart(enum.StrEnum):
    WIN = "win"
    PLACE = "place"  # the place half of an each-way bet: pays at the place odds for a finish within the places


# --- legs and lines -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegSpec:
    """One leg of a bet: a selection, where it sits (event and market), the odds taken and the each-way terms
    of its market (None when the market offers none)."""

    selection_id: UUID
    event_id: UUID
    market_id: UUID
    odds: Decimal
    each_way: EachWayTerms | None = None

    def __post_init__(self) -> None:
        # Every return and exposure assumes odds >= 1; a price from anywhere but parse_odds must not break that.
        if not (self.odds.is_finite() and MIN_ODDS <= self.odds <= MAX_ODDS):
            raise InvalidOdds(f"{self.odds} is not a valid price")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a bet: the indexes of its legs (into the bet's legs) and whether it is a win or place line."""

    legs: tuple[int, ...]
    part: LinePart = LinePart.WIN


# name -> (number of legs, sizes of the combinations it contains). Definitions in tests/unit/betting/test_model.py
# with their sources; every named system is "all combinations of these sizes" of its legs.
SYSTEMS: dict[str, tuple[int, tuple[int, ...]]] = {
    "trixie": (3, (2, 3)),
    "patent": (3, (1, 2, 3)),
    "yankee": (4, (2, 3, 4)),
    "lucky15": (4, (1, 2, 3, 4)),
    "canadian": (5, (2, 3, 4, 5)),  # a.k.a. Super Yankee
    "lucky31": (5, (1, 2, 3, 4, 5)),
    "heinz": (6, (2, 3, 4, 5, 6)),
    "lucky63": (6, (1, 2, 3, 4, 5, 6)),
    "super_heinz": (7, (2, 3, 4, 5, 6, 7)),
    "goliath": (8, (2, 3, 4, 5, 6, 7, 8)),
}

_K_OF_N = re.compile(r"([1-9][0-9]?)/([1-9][0-9]?)")


def system_shape(system: str) -> tuple[int, tuple[int, ...]]:
    """A system's number of legs and combination sizes, for a named system or a generic "K/N"."""
    named = SYSTEMS.get(system)
    if named is not None:
        return named
    match = _K_OF_N.fullmatch(system)
    if match is None:
        raise InvalidBet(f"unknown system {system!r}: a named system ({', '.join(SYSTEMS)}) or K/N like 2/4")
    k, n = int(match.group(1)), int(match.group(2))
    if not 1 <= k <= n <= MAX_LEGS:
        raise InvalidBet(f"system {system!r} needs 1 <= K <= N <= {MAX_LEGS}")
    return n, (k,)


def system_combinations(system: str, n_legs: int) -> list[tuple[int, ...]]:
    """Every combination of leg indexes a system bet on `n_legs` legs contains, smallest folds first."""
    size, folds = system_shape(system)
    if n_legs != size:
        raise InvalidBet(f"a {system} bet takes {size} legs, not {n_legs}")
    count = sum(comb(n_legs, k) for k in folds)
    if count > MAX_LINES:
        raise InvalidBet(f"a {system} bet has {count} lines; at most {MAX_LINES} are accepted")
    return [combo for k in folds for combo in combinations(range(n_legs), k)]


def expand_lines(bet_type: BetType, system: str | None, n_legs: int, each_way: bool) -> list[Line]:
    """The lines a bet stands for. Each-way gives every combination a win line then a place line."""
    if bet_type is not BetType.SYSTEM and system is not None:
        raise InvalidBet(f"a {bet_type} bet takes no system")
    combos: list[tuple[int, ...]]
    if bet_type is BetType.SINGLE:
        if not 1 <= n_legs <= MAX_LEGS:
            raise InvalidBet(f"singles take 1 to {MAX_LEGS} legs")
        combos = [(i,) for i in range(n_legs)]
    elif bet_type is BetType.MULTIPLE:
        if not 2 <= n_legs <= MAX_LEGS:
            raise InvalidBet(f"a multiple takes 2 to {MAX_LEGS} legs")
        combos = [tuple(range(n_legs))]
    else:
        if system is None:
            raise InvalidBet("a system bet needs its system")
        combos = system_combinations(system, n_legs)
    if not each_way:
        return [Line(c, LinePart.WIN) for c in combos]
    if 2 * len(combos) > MAX_LINES:
        raise InvalidBet(f"an each-way {system} bet has {2 * len(combos)} lines; at most {MAX_LINES} are accepted")
    return [Line(c, part) for c in combos for part in (LinePart.WIN, LinePart.PLACE)]


def check_each_way(legs: Sequence[LegSpec], each_way: bool) -> None:
    """Refuse an each-way bet unless every leg's market offers each-way terms."""
    if each_way and any(leg.each_way is None for leg in legs):
        raise EachWayNotOffered("each-way is not offered on every market of this bet")


def check_related(bet_type: BetType, legs: Sequence[LegSpec]) -> None:
    """Refuse the same selection twice in any bet, and two legs on one event in a multiple or system bet
    (their outcomes are correlated, so the multiplied odds would overpay)."""
    if len({leg.selection_id for leg in legs}) != len(legs):
        raise DuplicateSelection("a selection appears more than once in this bet")
    if bet_type is not BetType.SINGLE and len({leg.event_id for leg in legs}) != len(legs):
        raise RelatedLegs("two legs of this bet are on the same event")


# --- odds and returns ---------------------------------------------------------------------------------------


def place_odds(odds: Decimal | Fraction, terms: EachWayTerms) -> Fraction:
    """The odds of the place part of an each-way bet: the win odds' profit times the each-way fraction, plus 1."""
    return 1 + (Fraction(odds) - 1) * terms.fraction


def _leg_ratios(legs: Sequence[LegSpec], part: LinePart) -> list[tuple[int, int] | None]:
    """Each leg's odds for one line part as (numerator, denominator); None where a place price does not exist."""
    out: list[tuple[int, int] | None] = []
    for leg in legs:
        if part is LinePart.WIN:
            price = Fraction(leg.odds)
        elif leg.each_way is None:
            out.append(None)
            continue
        else:
            price = place_odds(leg.odds, leg.each_way)
        out.append((price.numerator, price.denominator))
    return out


def line_ratios(lines: Sequence[Line], legs: Sequence[LegSpec]) -> list[tuple[int, int]]:
    """Every line's exact odds as an integer (numerator, denominator): the fast form of `line_odds` for bets
    with many lines (integer products instead of Fraction arithmetic, one conversion per leg)."""
    tables: dict[LinePart, list[tuple[int, int] | None]] = {}
    out: list[tuple[int, int]] = []
    for line in lines:
        table = tables.get(line.part)
        if table is None:
            table = tables[line.part] = _leg_ratios(legs, line.part)
        num = den = 1
        for i in line.legs:
            if not 0 <= i < len(legs):
                raise InvalidBet(f"line refers to leg {i} of {len(legs)}")
            ratio = table[i]
            if ratio is None:
                raise EachWayNotOffered("each-way is not offered on every market of this bet")
            num *= ratio[0]
            den *= ratio[1]
        out.append((num, den))
    return out


def line_odds(line: Line, legs: Sequence[LegSpec]) -> Fraction:
    """A line's odds, exact: the product of its legs' odds (their place odds on a place line)."""
    ((num, den),) = line_ratios([line], legs)
    return Fraction(num, den)


def potential_return(lines: Sequence[Line], legs: Sequence[LegSpec], stake: int) -> int:
    """What the bet pays back if every line wins, stake included: Σ floor(stake * line odds)."""
    return sum(stake * num // den for num, den in line_ratios(lines, legs))


def max_stake_within(ratios: Sequence[tuple[int, int]], room: int, *, net: bool) -> int:
    """The largest stake per line whose summed line returns stay within `room`: returns stake included, or net
    of the stake (the house's exposure) when `net`. Returns 0 when `room` is negative; capped at MAX_AMOUNT.

    The sum f(s) = Σ floor(s * o) (- s) is non-decreasing in s, and s * A - L < f(s) ≤ s * A where A is the
    summed per-unit value and L the number of lines, so the answer lies between floor(room / A) and
    ceil((room + L) / A): a short bisection, not a scan."""
    if room < 0 or not ratios:
        return 0 if room < 0 else MAX_AMOUNT
    per_unit = sum((Fraction(n, d) - (1 if net else 0) for n, d in ratios), Fraction(0))
    if per_unit <= 0:
        return MAX_AMOUNT

    def total(s: int) -> int:
        return sum(s * n // d - (s if net else 0) for n, d in ratios)

    lo = floor(room / per_unit)  # fits: total(lo) <= lo * A <= room
    hi = ceil((room + len(ratios)) / per_unit)  # does not fit: total(hi) > hi * A - L >= room
    if lo >= MAX_AMOUNT:
        return MAX_AMOUNT
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if total(mid) <= room:
            lo = mid
        else:
            hi = mid
    return min(lo, MAX_AMOUNT)


# --- placement policy ---------------------------------------------------------------------------------------


def accept_odds(policy: OddsChange, requested: Decimal, current: Decimal) -> Decimal:
    """The price a leg is struck at under the player's odds-change policy, or `odds_changed` with the current."""
    if current == requested or policy is OddsChange.ANY or (policy is OddsChange.HIGHER and current > requested):
        return current
    raise OddsChanged(f"the price is now {current}, not {requested}", current=current)


@dataclass(frozen=True, slots=True)
class StakeLimits:
    """A market's stake limits: minimum and maximum stake per line, and the maximum a bet may pay out."""

    min_stake: int
    max_stake: int
    max_payout: int

    def __post_init__(self) -> None:
        if not (0 < self.min_stake <= self.max_stake <= MAX_AMOUNT and 0 < self.max_payout <= MAX_AMOUNT):
            raise ValueError(f"stake limits must satisfy 0 < min <= max <= {MAX_AMOUNT} and a positive payout")


def check_stake(stake: int, lines: int, potential_return: int, limits: StakeLimits) -> None:
    """Refuse a stake per line outside the limits, a total stake beyond what money can hold, or a potential
    payout above the maximum. `StakeTooHigh.max_stake` carries the limit where it is known here."""
    if stake < limits.min_stake:
        raise StakeTooLow(f"the minimum stake per line is {limits.min_stake}")
    if stake > limits.max_stake:
        raise StakeTooHigh(f"the maximum stake per line is {limits.max_stake}", max_stake=limits.max_stake)
    if stake * lines > MAX_AMOUNT:
        raise StakeTooHigh(f"the total stake is above {MAX_AMOUNT}", max_stake=MAX_AMOUNT // max(lines, 1))
    if potential_return > limits.max_payout:
        raise StakeTooHigh(f"the potential payout {potential_return} is above the maximum payout {limits.max_payout}")


def max_stake_for_payout(lines: Sequence[Line], legs: Sequence[LegSpec], limits: StakeLimits) -> int:
    """The largest stake per line the limits accept for this bet, payout cap included (0 if the minimum
    stake already pays out too much)."""
    best = min(limits.max_stake, max_stake_within(line_ratios(lines, legs), limits.max_payout, net=False))
    return best if best >= limits.min_stake else 0


# --- the bet ------------------------------------------------------------------------------------------------


class BetStatus(enum.StrEnum):
    """Where a bet is in its life. `pending` waits out an in-play delay; the settled statuses are final until a
    rollback reopens them (a cash-out is final for good)."""

    PENDING = "pending"
    OPEN = "open"
    REJECTED = "rejected"
    WON = "won"
    LOST = "lost"
    VOID = "void"
    HALF_WON = "half_won"
    HALF_LOST = "half_lost"
    CASHED_OUT = "cashed_out"


SETTLED = frozenset(
    {BetStatus.WON, BetStatus.LOST, BetStatus.VOID, BetStatus.HALF_WON, BetStatus.HALF_LOST, BetStatus.CASHED_OUT}
)
UNSETTLED = frozenset({BetStatus.PENDING, BetStatus.OPEN})
# What a settlement can close a bet as (a cash-out is its own transition).
RESULTED = SETTLED - {BetStatus.CASHED_OUT}


class StakeState(enum.StrEnum):
    HELD = "held"  # the stake is still the pending transfer reserved at placement (or again at a rollback)
    TAKEN = "taken"  # a settlement posted or released it


class InvalidTransition(Exception):
    """A bet was asked to move where its status does not allow: a bug in the caller, never a client's error
    (use cases check the status they need under the bet's lock and refuse with a code first)."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg of a bet as struck: the selection, where it sits, the odds and its market's each-way terms."""

    selection_id: UUID
    market_id: UUID
    event_id: UUID
    odds: Decimal
    each_way_fraction: str | None
    each_way_places: int | None
    result: str | None = None  # the leg's result once its market is settled (won, placed, void, ...), on reads


@dataclass(slots=True)
class Bet:
    """A bet and its life. The transitions check the move is allowed and return the bet as it is after it with
    the domain event it causes (a new object: nothing changes a bet in place); nothing here stores anything.
    Not frozen only because a frozen dataclass's constructor costs three times as much, and settlement builds
    tens of thousands a chunk."""

    id: UUID
    player_id: UUID
    currency: str
    type: str  # a BetType value
    system: str | None
    each_way: bool
    odds_change: str  # an OddsChange value
    stake: int
    lines: int
    total_stake: int
    potential_return: int
    status: BetStatus
    reject_code: str | None
    return_amount: int | None
    request_hash: str
    placed_at: datetime
    accept_at: datetime | None
    settled_at: datetime | None
    stake_transfer_id: UUID
    stake_state: StakeState = StakeState.HELD
    settle_count: int = 0
    legs: tuple[Leg, ...] = ()

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED

    def legs_and_lines(self) -> tuple[list[LegSpec], list[Line]]:
        """Its legs and lines as the pure rules take them (pricing, exposure, settlement, cash-out)."""
        legs = [
            LegSpec(
                leg.selection_id,
                leg.event_id,
                leg.market_id,
                leg.odds,
                EachWayTerms.parse(leg.each_way_fraction, leg.each_way_places)
                if leg.each_way_fraction and leg.each_way_places
                else None,
            )
            for leg in self.legs
        ]
        return legs, expand_lines(BetType(self.type), self.system, len(legs), self.each_way)

    def as_struck(self, first_terms: tuple[Sequence[Decimal], int] | None = None) -> Bet:
        """The bet as its placement answered: pending its delay or accepted (open), at the odds and potential
        return first struck (`first_terms`, kept when an in-play re-strike moved them), whatever came since."""
        status = BetStatus.PENDING if self.accept_at is not None else BetStatus.OPEN
        struck = replace(self, status=status, reject_code=None, return_amount=None, settled_at=None)
        if first_terms is None:
            return struck
        odds, potential_return = first_terms
        legs = tuple(replace(leg, odds=price) for leg, price in zip(self.legs, odds, strict=True))
        return replace(struck, legs=legs, potential_return=potential_return)

    def placed(self) -> BetPlacedV1:
        """The event of its placement: accepted at once, or pending its in-play delay."""
        return BetPlacedV1(
            self.id,
            self.player_id,
            self.placed_at,
            currency=self.currency,
            type=self.type,
            status="pending" if self.status == BetStatus.PENDING else "accepted",
            total_stake=self.total_stake,
            potential_return=self.potential_return,
            legs=tuple(PlacedLeg(leg.selection_id, leg.market_id, leg.event_id, leg.odds) for leg in self.legs),
        )

    def accept(self, now: datetime) -> tuple[Bet, BetAcceptedV1]:
        """A pending bet passed its re-check: it is open."""
        self._require(BetStatus.PENDING, "accept")
        return replace(self, status=BetStatus.OPEN), BetAcceptedV1(self.id, self.player_id, now)

    def reject(self, code: str, now: datetime) -> tuple[Bet, BetRejectedV1]:
        """A pending bet failed its re-check: rejected with `code` (its stake is released with it)."""
        self._require(BetStatus.PENDING, "reject")
        rejected = replace(self, status=BetStatus.REJECTED, reject_code=code)
        return rejected, BetRejectedV1(self.id, self.player_id, now, reject_code=code)

    def restrike(self, odds: Sequence[Decimal], potential_return: int) -> Bet:
        """A pending bet moved to the current prices (its odds-change policy took them): legs in order."""
        self._require(BetStatus.PENDING, "re-strike")
        if len(odds) != len(self.legs):
            raise InvalidTransition(f"bet {self.id}: {len(odds)} prices for {len(self.legs)} legs")
        legs = tuple(replace(leg, odds=price) for leg, price in zip(self.legs, odds, strict=True))
        return replace(self, legs=legs, potential_return=potential_return)

    def settle(self, status: BetStatus, amount: int, now: datetime) -> tuple[Bet, BetSettledV1]:
        """An open bet is resulted: closed as `status`, paying back `amount` (stake included)."""
        self._require(BetStatus.OPEN, "settle")
        if status not in RESULTED:
            raise InvalidTransition(f"bet {self.id}: {status} is not a settlement result")
        return self._close(status, amount, now)

    def void(self, now: datetime) -> tuple[Bet, BetSettledV1]:
        """An open bet is void: every stake back."""
        return self.settle(BetStatus.VOID, self.total_stake, now)

    def cash_out(self, amount: int, now: datetime) -> tuple[Bet, BetSettledV1]:
        """An open bet is closed for `amount` at the player's request: final, a rollback leaves it closed."""
        self._require(BetStatus.OPEN, "cash out")
        return self._close(BetStatus.CASHED_OUT, amount, now)

    def reopen(self, now: datetime) -> tuple[Bet, BetReopenedV1]:
        """A settlement was rolled back: the bet is open again, its return taken back (a cash-out stays)."""
        if self.status not in RESULTED:
            raise InvalidTransition(f"bet {self.id} is {self.status}: only a resulted bet reopens")
        reopened = replace(self, status=BetStatus.OPEN, return_amount=None, settled_at=None)
        return reopened, BetReopenedV1(self.id, self.player_id, now)

    def _close(self, status: BetStatus, amount: int, now: datetime) -> tuple[Bet, BetSettledV1]:
        if not 0 <= amount <= MAX_AMOUNT:
            raise InvalidTransition(f"bet {self.id}: a return of {amount} is out of range")
        # Built field by field rather than with `replace`, which costs several times more: settlement closes
        # tens of thousands of bets a chunk.
        closed = Bet(
            self.id,
            self.player_id,
            self.currency,
            self.type,
            self.system,
            self.each_way,
            self.odds_change,
            self.stake,
            self.lines,
            self.total_stake,
            self.potential_return,
            status,
            self.reject_code,
            amount,
            self.request_hash,
            self.placed_at,
            self.accept_at,
            now,
            self.stake_transfer_id,
            StakeState.TAKEN,
            self.settle_count + 1,
            self.legs,
        )
        return closed, BetSettledV1(
            self.id, self.player_id, now, status=status.value, return_amount=amount, currency=self.currency
        )

    def _require(self, status: BetStatus, move: str) -> None:
        if self.status != status:
            raise InvalidTransition(f"bet {self.id} is {self.status}: cannot {move} it")

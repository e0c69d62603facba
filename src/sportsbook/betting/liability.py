"""The house's liability, in memory: how much it stands to lose on each selection and market if the open bets
win, and whether a new bet still fits under the limits.

Exposure of a selection = Σ over the open lines that contain it of (line potential return - line stake). A line
of a multiple counts in full against every selection in it: conservative, because the line is only paid if all
of them win, but it is what the house stands to lose on any one of them. A market's exposure is the largest of
its selections' (one selection of a market wins, so the worst case is the worst selection, not the sum).

The book is pure. Exposures live in one shared row per selection; a placement batch (or an in-play re-strike)
loads the rows of its markets under the ledger lock (placement: its shard's, then its markets' locks) into a
book, adds each bet it accepts so the next one of the batch sees it, and writes the change back in the same
transaction, so the limits hold across every node.
Checking a bet is O(its lines * legs); nothing here scans the book.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from sportsbook.betting.model import Bet, LegSpec, Line, line_ratios, max_stake_within
from sportsbook.betting.refusals import LiabilityExceeded


def exposures_for(lines: Sequence[Line], legs: Sequence[LegSpec], stake: int) -> dict[UUID, int]:
    """What a bet at `stake` per line adds to each of its selections' exposure (never negative: odds >= 1)."""
    out = {leg.selection_id: 0 for leg in legs}
    for line, (num, den) in zip(lines, line_ratios(lines, legs), strict=True):
        profit = stake * num // den - stake
        for i in line.legs:
            out[legs[i].selection_id] += profit
    return out


def exposure_deltas(bets: Sequence[Bet], sign: int) -> dict[UUID, tuple[UUID, int]]:
    """How these bets move each selection's exposure (with its market): `sign` +1 when they open, -1 when they
    close."""
    deltas: dict[UUID, tuple[UUID, int]] = {}
    for bet in bets:
        legs, lines = bet.legs_and_lines()
        market_of = {leg.selection_id: leg.market_id for leg in legs}
        for selection_id, exposure in exposures_for(lines, legs, bet.stake).items():
            market_id, total = deltas.get(selection_id, (market_of[selection_id], 0))
            deltas[selection_id] = (market_id, total + sign * exposure)
    return deltas


def _selection_ratios(lines: Sequence[Line], legs: Sequence[LegSpec]) -> dict[UUID, list[tuple[int, int]]]:
    """The odds of every line each selection is in: a selection's exposure at stake s is Σ floor(s * o) - s."""
    out: dict[UUID, list[tuple[int, int]]] = {leg.selection_id: [] for leg in legs}
    for line, ratio in zip(lines, line_ratios(lines, legs), strict=True):
        for i in line.legs:
            out[legs[i].selection_id].append(ratio)
    return out


class LiabilityBook:
    """Open exposure per selection and market, fed by placements (`add`) and settlements (`remove`)."""

    def __init__(self) -> None:
        self._bets: dict[UUID, tuple[tuple[UUID, int], ...]] = {}
        self._selection: dict[UUID, int] = {}

    def __len__(self) -> int:
        return len(self._bets)

    def add(self, bet_id: UUID, exposures: Mapping[UUID, int]) -> None:
        """Count an accepted bet's exposures. Adding a bet already in the book does nothing, so a replayed
        placement or a rebuild that overlaps live events cannot count a bet twice."""
        if bet_id in self._bets:
            return
        items = tuple((sel, amount) for sel, amount in exposures.items() if amount)
        self._bets[bet_id] = items
        for sel, amount in items:
            self._selection[sel] = self._selection.get(sel, 0) + amount

    def remove(self, bet_id: UUID) -> None:
        """Release a settled, voided, cashed-out or rejected bet's exposures. Removing twice does nothing."""
        items = self._bets.pop(bet_id, None)
        if items is None:
            return
        for sel, amount in items:
            left = self._selection[sel] - amount
            if left:
                self._selection[sel] = left
            else:  # forget drained selections so the book only ever holds what open bets need
                del self._selection[sel]

    def selection_exposure(self, selection_id: UUID) -> int:
        return self._selection.get(selection_id, 0)

    def check(
        self,
        exposures: Mapping[UUID, int],
        market_of: Mapping[UUID, UUID],
        selection_limit: int,
        market_limit: int,
        *,
        lines: Sequence[Line],
        legs: Sequence[LegSpec],
    ) -> None:
        """Refuse a bet (its `exposures_for` its lines and legs) that would take a selection beyond the selection
        limit or its market beyond the market limit. `LiabilityExceeded.max_stake` is the largest stake per line
        that would fit, computed only on refusal so the accepting path stays one dict lookup per selection.

        Only selections the bet adds to are checked: a bet that adds nothing to a selection already over a
        (since lowered) limit does not make it worse."""
        for sel, amount in exposures.items():
            if amount <= 0:
                continue
            limit = min(selection_limit, market_limit)
            if self._selection.get(sel, 0) + amount > limit:
                which = "selection" if selection_limit <= market_limit else f"market {market_of[sel]}"
                raise LiabilityExceeded(
                    f"this bet would take the {which} liability on selection {sel} above {limit}",
                    max_stake=max_acceptable_stake(self, lines, legs, selection_limit, market_limit),
                )

    def max_acceptable_stake(
        self, lines: Sequence[Line], legs: Sequence[LegSpec], selection_limit: int, market_limit: int
    ) -> int:
        """The largest stake per line at which `check` accepts this bet."""
        return max_acceptable_stake(self, lines, legs, selection_limit, market_limit)


def max_acceptable_stake(
    book: LiabilityBook, lines: Sequence[Line], legs: Sequence[LegSpec], selection_limit: int, market_limit: int
) -> int:
    """The largest stake per line at which `book.check` accepts this bet: for each selection, the largest stake
    whose added exposure fits in what its limit leaves (a selection already at or over its limit only accepts
    stakes that add nothing to it), then the smallest over the bet's selections."""
    limit = min(selection_limit, market_limit)
    best: int | None = None
    for sel, ratios in _selection_ratios(lines, legs).items():
        room = max(limit - book.selection_exposure(sel), 0)
        fits = max_stake_within(ratios, room, net=True)
        best = fits if best is None else min(best, fits)
    return 0 if best is None else best

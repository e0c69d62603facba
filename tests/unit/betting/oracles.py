"""Oracles for the settlement tests: a bet settled by the rules alone, one at a time, with no cache."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from sportsbook.betting.model import LegSpec, Line
from sportsbook.betting.settlement_rules import BetSettlement, InvalidSettlement, SelectionResult, plan_bet


def settle_bet(
    stake: int,
    lines: Sequence[Line],
    legs: Sequence[LegSpec],
    results: Sequence[SelectionResult | None],
    deductions: Sequence[Fraction] | None = None,
) -> BetSettlement | None:
    """Settle a bet (stake per line) once every line is decided (see `plan_bet`); None until then."""
    if stake <= 0:
        raise InvalidSettlement("a bet has a positive stake and at least one line")
    plan = plan_bet(lines, legs, results, deductions)
    return plan.settle(stake) if plan is not None else None

"""The settler's plan cache (`_Plans`): many bets share a plan, and each must still settle exactly as the rules
settle it alone. Bets here share odds across selections and markets, so plans collide on everything but the
results and deductions that tell them apart."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from sportsbook.betting.model import Bet, BetType, Leg
from sportsbook.betting.settlement_rules import (
    LegResult,
    Part,
    SelectionResult,
    rule4_deduction,
    total_deduction,
)
from sportsbook.betting.settlements import _VOID, _Plans
from sportsbook.betting.store import encode_results
from tests.unit.betting.oracles import settle_bet
from tests.unit.betting.rows import bet_row

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ODDS = (Decimal("2.00"), Decimal("3.50"))  # few prices: most bets share a shape


def _result(label: LegResult, win: Fraction, place: Fraction) -> SelectionResult:
    return SelectionResult(Part(win, Fraction(0)), Part(place, Fraction(0)), label)


def _bet(rng: random.Random, selections: list[tuple[uuid.UUID, uuid.UUID]], placed_at: datetime) -> Bet:
    kind = rng.choice(["single", "double", "treble", "trixie"])
    n = {"single": 1, "double": 2, "treble": 3, "trixie": 3}[kind]
    picks = rng.sample(selections, n)
    bet_type = BetType.SINGLE if n == 1 else BetType.SYSTEM if kind == "trixie" else BetType.MULTIPLE
    lines = {"single": 1, "double": 1, "treble": 1, "trixie": 4}[kind]
    stake = rng.randint(1, 10_000)
    return bet_row(
        type=bet_type.value,
        system="trixie" if kind == "trixie" else None,
        stake=stake,
        lines=lines,
        total_stake=stake * lines,
        potential_return=0,
        placed_at=placed_at,
        legs=tuple(Leg(sel, market, uuid.uuid4(), rng.choice(ODDS), None, None) for sel, market in picks),
    )


def _applies(bet: Bet, leg: Leg, withdrawn: uuid.UUID, when: datetime) -> bool:
    """Rule 4: another runner of the leg's market withdrawn after the bet was struck."""
    return withdrawn != leg.selection_id and when > bet.placed_at


def test_every_bet_settles_through_the_cache_as_the_rules_settle_it_alone() -> None:
    rng = random.Random(7)
    markets = [uuid.uuid4() for _ in range(4)]
    selections = [(uuid.uuid4(), m) for m in markets for _ in range(3)]
    won = _result(LegResult.WON, Fraction(1), Fraction(1))
    outcomes = [
        won,
        _result(LegResult.WON, Fraction(1), Fraction(1)),  # equal to `won`, another object
        _result(LegResult.LOST, Fraction(0), Fraction(0)),
        _result(LegResult.HALF_WON, Fraction(1, 2), Fraction(1, 2)),
        _result(LegResult.WON, Fraction(1, 3), Fraction(1, 3)),  # a three-way dead heat
    ]
    known = {m: {sel: rng.choice(outcomes) for sel, mm in selections if mm == m} for m in markets[:3]}  # one open
    withdrawn_at = NOW - timedelta(minutes=30)
    withdrawals = {markets[0]: [(selections[0][0], withdrawn_at, Decimal("3.00"))]}  # Rule 4: 30p
    bets = [_bet(rng, selections, NOW - timedelta(hours=1) if rng.random() < 0.5 else NOW) for _ in range(600)]
    voids = {(b.id, b.legs[0].market_id) for b in bets[:40]}
    plans = _Plans({m: encode_results(r) for m, r in known.items()}, withdrawals, voids)  # as stored

    settled = 0
    for bet in bets:
        got = plans.settle(bet, {})
        legs, lines = bet.legs_and_lines()
        results = [
            _VOID if (bet.id, leg.market_id) in voids else known.get(leg.market_id, {}).get(leg.selection_id)
            for leg in bet.legs
        ]
        deductions = [
            total_deduction(
                rule4_deduction(odds)
                for sel, when, odds in withdrawals.get(leg.market_id, [])
                if sel != leg.selection_id and when > bet.placed_at
            )
            for leg in bet.legs
        ]
        assert got == settle_bet(bet.stake, lines, legs, results, deductions), bet
        settled += got is not None
    assert 100 < settled < 600  # both settled bets and bets with an open leg were seen

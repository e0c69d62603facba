"""The liability book: exposures per selection and market, limits, and the quotable maximum stake."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.betting.liability import LiabilityBook, exposures_for, max_acceptable_stake
from sportsbook.betting.model import BetType, LegSpec, Line, expand_lines
from sportsbook.betting.refusals import LiabilityExceeded
from sportsbook.core.markets import EachWayTerms
from sportsbook.core.money import MAX_AMOUNT

MARKET = uuid.uuid4()
HOME, DRAW, AWAY = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def on_market(selection: uuid.UUID, odds: str, market: uuid.UUID = MARKET) -> LegSpec:
    return LegSpec(selection, uuid.uuid4(), market, Decimal(odds))


def market_of(legs: list[LegSpec]) -> dict[uuid.UUID, uuid.UUID]:
    return {leg.selection_id: leg.market_id for leg in legs}


def market_exposure(book: LiabilityBook, selections: list[uuid.UUID]) -> int:
    """A market's exposure, as the limits read it: its worst selection's."""
    return max((book.selection_exposure(s) for s in selections), default=0)


def test_single_exposure_is_return_minus_stake() -> None:
    legs = [on_market(HOME, "2.50")]
    assert exposures_for([Line((0,))], legs, 1_000) == {HOME: 1_500}


def test_a_multiple_line_counts_in_full_against_every_selection_in_it() -> None:
    legs = [on_market(HOME, "2.00"), on_market(AWAY, "3.00", uuid.uuid4())]
    assert exposures_for([Line((0, 1))], legs, 100) == {HOME: 500, AWAY: 500}


def test_system_exposure_sums_the_lines_each_selection_is_in() -> None:
    legs = [on_market(s, "2.00", uuid.uuid4()) for s in (HOME, DRAW, AWAY)]
    lines = expand_lines(BetType.SYSTEM, "trixie", 3, each_way=False)  # three doubles (profit 300), one treble (700)
    assert exposures_for(lines, legs, 100) == {HOME: 1_300, DRAW: 1_300, AWAY: 1_300}


def test_market_limit_holds_the_worst_selection_not_the_sum() -> None:
    book = LiabilityBook()
    home, away = [on_market(HOME, "2.00")], [on_market(AWAY, "5.00")]
    book.add(uuid.uuid4(), exposures_for([Line((0,))], home, 1_000))
    book.add(uuid.uuid4(), exposures_for([Line((0,))], away, 100))
    assert book.selection_exposure(HOME) == 1_000
    assert book.selection_exposure(AWAY) == 400
    assert market_exposure(book, [HOME, DRAW, AWAY]) == 1_000
    more_away = exposures_for([Line((0,))], away, 100)  # away to 800: the sum would be 1,800
    book.check(more_away, market_of(away), 10**9, 1_000, lines=[Line((0,))], legs=away)
    with pytest.raises(LiabilityExceeded):
        book.check(exposures_for([Line((0,))], home, 1), market_of(home), 10**9, 1_000, lines=[Line((0,))], legs=home)


def test_add_and_remove_are_idempotent_and_removal_drains_the_book() -> None:
    book = LiabilityBook()
    legs = [on_market(HOME, "3.00")]
    bet = uuid.uuid4()
    exposures = exposures_for([Line((0,))], legs, 100)
    book.add(bet, exposures)
    book.add(bet, exposures)  # a replayed placement
    assert book.selection_exposure(HOME) == 200
    book.remove(bet)
    book.remove(bet)
    book.remove(uuid.uuid4())
    assert (book.selection_exposure(HOME), market_exposure(book, [HOME]), len(book)) == (0, 0, 0)


def test_check_refuses_beyond_the_selection_limit_and_quotes_the_max_stake() -> None:
    book = LiabilityBook()
    legs = [on_market(HOME, "3.00")]
    lines = [Line((0,))]
    book.add(uuid.uuid4(), exposures_for(lines, legs, 400))  # exposure 800
    book.check(exposures_for(lines, legs, 100), market_of(legs), 1_000, 5_000, lines=lines, legs=legs)  # 1000
    with pytest.raises(LiabilityExceeded) as exc:
        book.check(exposures_for(lines, legs, 101), market_of(legs), 1_000, 5_000, lines=lines, legs=legs)
    assert (exc.value.code, exc.value.status, exc.value.max_stake) == ("liability_exceeded", 409, 100)


def test_check_refuses_beyond_the_market_limit() -> None:
    book = LiabilityBook()
    legs = [on_market(DRAW, "4.00")]
    lines = [Line((0,))]
    with pytest.raises(LiabilityExceeded) as exc:
        book.check(exposures_for(lines, legs, 200), market_of(legs), 10_000, 500, lines=lines, legs=legs)
    assert exc.value.max_stake == 166  # 166 * 3 = 498 <= 500 < 167 * 3


def test_a_selection_over_a_lowered_limit_gives_max_stake_zero() -> None:
    book = LiabilityBook()
    legs = [on_market(HOME, "2.00")]
    lines = [Line((0,))]
    book.add(uuid.uuid4(), exposures_for(lines, legs, 5_000))
    with pytest.raises(LiabilityExceeded) as exc:
        book.check(exposures_for(lines, legs, 1), market_of(legs), 1_000, 1_000, lines=lines, legs=legs)
    assert exc.value.max_stake == 0


def test_max_stake_is_unbounded_only_up_to_max_amount() -> None:
    legs = [on_market(HOME, "2.00")]
    assert max_acceptable_stake(LiabilityBook(), [Line((0,))], legs, 10**18, 10**18) == MAX_AMOUNT


def test_exposure_of_the_place_part_uses_place_odds() -> None:
    terms = EachWayTerms(Fraction(1, 4), 3)
    legs = [LegSpec(HOME, uuid.uuid4(), MARKET, Decimal("9.00"), terms)]
    lines = expand_lines(BetType.SINGLE, None, 1, each_way=True)
    assert exposures_for(lines, legs, 100) == {HOME: 800 + 200}  # win 8/1, place 2/1


odds_st = st.decimals(min_value=Decimal("1.01"), max_value=Decimal("1001"), places=2)
bet_st = st.tuples(
    st.lists(odds_st, min_size=1, max_size=5),
    st.sampled_from([BetType.SINGLE, BetType.MULTIPLE, BetType.SYSTEM]),
    st.booleans(),
)


def build(
    odds: list[Decimal], bet_type: BetType, each_way: bool, selections: list[uuid.UUID]
) -> tuple[list[Line], list[LegSpec]]:
    terms = EachWayTerms(Fraction(1, 5), 3)
    legs = [
        LegSpec(sel, uuid.uuid4(), uuid.UUID(int=i % 2), o, terms)
        for i, (sel, o) in enumerate(zip(selections, odds, strict=False))
    ]
    if bet_type is BetType.MULTIPLE and len(legs) < 2:
        bet_type = BetType.SINGLE
    system = f"{max(len(legs) // 2, 1)}/{len(legs)}" if bet_type is BetType.SYSTEM else None
    return expand_lines(bet_type, system, len(legs), each_way), legs


SELECTIONS = [uuid.UUID(int=100 + i) for i in range(5)]


@given(bet_st, st.integers(0, 10**7))
def test_exposures_are_never_negative(bet: tuple[list[Decimal], BetType, bool], stake: int) -> None:
    lines, legs = build(*bet, SELECTIONS)
    assert all(v >= 0 for v in exposures_for(lines, legs, stake).values())


@given(
    st.lists(st.tuples(bet_st, st.integers(1, 10**5)), max_size=4),
    bet_st,
    st.integers(1, 10**6),
    st.integers(1, 10**6),
)
def test_check_and_max_acceptable_stake_agree(
    placed: list[tuple[tuple[list[Decimal], BetType, bool], int]],
    bet: tuple[list[Decimal], BetType, bool],
    selection_limit: int,
    market_limit: int,
) -> None:
    book = LiabilityBook()
    for earlier, stake in placed:
        lines, legs = build(*earlier, SELECTIONS)
        book.add(uuid.uuid4(), exposures_for(lines, legs, stake))
    lines, legs = build(*bet, SELECTIONS)
    best = max_acceptable_stake(book, lines, legs, selection_limit, market_limit)
    assert best == book.max_acceptable_stake(lines, legs, selection_limit, market_limit)
    book.check(exposures_for(lines, legs, best), market_of(legs), selection_limit, market_limit, lines=lines, legs=legs)
    if best < MAX_AMOUNT:
        with pytest.raises(LiabilityExceeded) as exc:
            book.check(
                exposures_for(lines, legs, best + 1),
                market_of(legs),
                selection_limit,
                market_limit,
                lines=lines,
                legs=legs,
            )
        assert exc.value.max_stake == best


@given(st.lists(st.tuples(bet_st, st.integers(1, 10**5)), min_size=1, max_size=6), st.data())
def test_removing_every_bet_in_any_order_drains_the_book(
    placed: list[tuple[tuple[list[Decimal], BetType, bool], int]], data: st.DataObject
) -> None:
    book = LiabilityBook()
    ids = []
    for bet, stake in placed:
        lines, legs = build(*bet, SELECTIONS)
        bet_id = uuid.uuid4()
        ids.append(bet_id)
        book.add(bet_id, exposures_for(lines, legs, stake))
    for bet_id in data.draw(st.permutations(ids)):
        book.remove(bet_id)
    assert len(book) == 0
    assert all(book.selection_exposure(s) == 0 for s in SELECTIONS)
    assert market_exposure(book, list(SELECTIONS)) == 0

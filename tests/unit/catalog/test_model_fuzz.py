"""Whatever staff send, building an event either succeeds or refuses with a domain error: never a crash."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.catalog import model
from sportsbook.catalog.model import EventDraft, Limits, MarketDraft, SelectionDraft
from sportsbook.core.errors import DomainError

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["home", "draw", "away", "over", "under", "1:0", "Red Rum", "2.5", "-0.25", "1e30", "NaN", "1/5"]),
)
numbers = st.one_of(st.integers(-5, 40), st.sampled_from([10**16, -(10**16)]))
selections = st.lists(st.builds(SelectionDraft, texts, texts, st.one_of(st.none(), texts)), max_size=4)
markets = st.builds(
    MarketDraft,
    st.sampled_from(
        ["1x2", "double_chance", "draw_no_bet", "total", "asian_handicap", "btts", "correct_score", "winner", "x"]
    ),
    selections,
    st.dictionaries(st.sampled_from(["total", "hcp", "x"]), texts, max_size=2),
    numbers,
    st.one_of(st.none(), st.tuples(texts, numbers)),
    st.dictionaries(st.sampled_from(["min_stake", "max_stake", "max_payout", "colour"]), numbers, max_size=2),
)
drafts = st.builds(
    EventDraft,
    st.sampled_from(["football", "horse_racing", "Foot ball", ""]),
    texts,
    st.just(datetime(2026, 3, 1, tzinfo=UTC)),
    st.lists(markets, max_size=3),
    st.one_of(st.none(), texts),
    st.one_of(st.none(), st.lists(texts, max_size=3)),
    st.one_of(st.none(), st.lists(st.sampled_from(["Red Rum", "Arkle", "home", ""]), max_size=4)),
)


@settings(max_examples=300, deadline=None)
@given(drafts)
def test_building_an_event_succeeds_or_refuses_with_a_domain_error(draft: EventDraft) -> None:
    try:
        event = model.build_event(draft, new_id=uuid.uuid4, defaults=Limits())
    except DomainError:
        return
    assert event.markets
    assert all(m.selections for m in event.markets)

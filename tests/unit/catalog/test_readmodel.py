"""The in-memory read model: lookups by id, listings, and only ever moving forward by version."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sportsbook.catalog import model
from sportsbook.catalog.model import EventStatus, MarketStatus
from sportsbook.catalog.readmodel import ReadModel
from sportsbook.core.markets import Score
from tests.unit.catalog.test_model import fixture, race


def test_lookups_by_event_market_and_selection() -> None:
    view = ReadModel()
    event = fixture()
    assert view.put_event(event)
    market = event.markets[0]
    selection = market.selections[1]
    assert view.event(event.id) == event
    assert view.market(market.id) == market
    assert view.selection(selection.id) == (event, market, selection)
    assert view.event(selection.id) is None
    assert view.selection(event.id) is None


def test_older_or_repeated_states_change_nothing() -> None:
    view = ReadModel()
    event = fixture()
    view.put_event(event)
    market = event.markets[0]
    newer = model.change_market(event, market.id, odds={market.selections[0].id: "5.00"})
    assert view.put_market(newer.market(market.id))
    assert not view.put_market(market)  # late delivery of version 1
    assert not view.put_event(event)
    assert not view.put_market(newer.market(market.id))  # a repeat
    held = view.market(market.id)
    assert held is not None
    assert held.version == 2
    assert str(held.selections[0].odds) == "5.00"
    assert view.selection(market.selections[0].id) == (
        newer,
        newer.market(market.id),
        newer.market(market.id).selections[0],
    )


def test_a_header_change_keeps_the_markets_held() -> None:
    view = ReadModel()
    event = fixture()
    view.put_event(event)
    market = event.markets[0]
    traded = model.change_market(event, market.id, status=MarketStatus.SUSPENDED)
    view.put_market(traded.market(market.id))
    live = model.change_event(event, status=EventStatus.LIVE, score=Score(0, 0))
    assert view.put_header(replace(live, markets=()))
    held = view.event(event.id)
    assert held is not None
    assert held.status is EventStatus.LIVE
    assert held.markets == (traded.market(market.id),)


def test_a_market_that_arrives_before_its_event_waits_for_it() -> None:
    view = ReadModel()
    event = fixture()
    market = event.markets[0]
    assert not view.put_market(market)
    assert view.market(market.id) is None
    view.put_header(replace(event, markets=()))
    assert view.event(event.id) == event
    assert view.market(market.id) == market


def test_listing_filters_by_sport_and_status_soonest_first_and_sports_count_open_events() -> None:
    view = ReadModel()
    late = fixture(start_time=fixture().start_time + timedelta(hours=2))
    early = fixture()
    horses = race()
    live = model.change_event(fixture(), status=EventStatus.LIVE)
    for e in (late, early, horses, live):
        view.put_event(e)
    football = view.events("football", [EventStatus.UPCOMING])
    assert [e.id for e in football] == [early.id, late.id]
    assert [e.id for e in view.events(statuses=[EventStatus.LIVE])] == [live.id]
    assert len(view.events()) == 4 == len(view)
    sports = {s.key: s for s in view.sports()}
    assert (sports["football"].upcoming, sports["football"].live) == (2, 1)
    assert sports["horse_racing"].name == "Horse racing"

"""The catalogue's rules: what an event and its markets may look like, and how their statuses may move."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sportsbook.catalog import model
from sportsbook.catalog.model import (
    Event,
    EventDraft,
    EventStatus,
    Limits,
    MarketDraft,
    MarketStatus,
    SelectionDraft,
    SelectionStatus,
    is_open_for_bets,
)
from sportsbook.core.errors import DomainError
from sportsbook.core.markets import EachWayTerms, MarketType, Score

START = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
DEFAULTS = Limits()


def ids() -> Callable[[], uuid.UUID]:
    return uuid.uuid4


def one_x_two(**overrides: Any) -> MarketDraft:
    fields: dict[str, Any] = {
        "type": "1x2",
        "selections": [SelectionDraft("home", "2.10"), SelectionDraft("draw", "3.40"), SelectionDraft("away", "3.60")],
    }
    fields.update(overrides)
    return MarketDraft(**fields)


def fixture(*markets: MarketDraft, **overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "sport": "football",
        "name": "Arsenal v Chelsea",
        "start_time": START,
        "competitors": ["Arsenal", "Chelsea"],
        "competition": "Premier League",
        "markets": list(markets) or [one_x_two()],
    }
    fields.update(overrides)
    return model.build_event(EventDraft(**fields), new_id=ids(), defaults=DEFAULTS)


def race(*, each_way: tuple[str, int] | None = ("1/5", 3), **overrides: Any) -> Event:
    runners = ["Red Rum", "Arkle", "Kauto Star", "Desert Orchid", "Best Mate"]
    market = MarketDraft(
        type="winner",
        selections=[SelectionDraft(r, str(3 + i)) for i, r in enumerate(runners)],
        each_way=each_way,
        in_play_delay_s=5,
    )
    fields: dict[str, Any] = {
        "sport": "horse_racing",
        "name": "3:15 Cheltenham",
        "start_time": START,
        "runners": runners,
        "markets": [market],
    }
    fields.update(overrides)
    return model.build_event(EventDraft(**fields), new_id=ids(), defaults=DEFAULTS)


def code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# --- creation ---


def test_new_fixture_is_upcoming_with_active_markets_default_limits_and_readable_names() -> None:
    event = fixture(
        one_x_two(),
        MarketDraft("total", [SelectionDraft("over", "1.90"), SelectionDraft("under", "1.90")], {"total": "2.5"}),
    )
    assert event.status is EventStatus.UPCOMING
    assert event.competitors == ("Arsenal", "Chelsea")
    assert event.runners is None
    assert event.score is None
    assert [m.status for m in event.markets] == [MarketStatus.ACTIVE, MarketStatus.ACTIVE]
    market = event.markets[0]
    assert market.event_id == event.id
    assert market.limits == DEFAULTS
    assert [s.name for s in market.selections] == ["Arsenal", "Draw", "Chelsea"]
    assert [s.odds for s in market.selections] == [Decimal("2.10"), Decimal("3.40"), Decimal("3.60")]
    assert all(s.market_id == market.id and s.status is SelectionStatus.ACTIVE for s in market.selections)
    assert [s.name for s in event.markets[1].selections] == ["Over 2.5", "Under 2.5"]
    assert (event.version, market.version) == (1, 1)


def test_selection_names_for_handicap_double_chance_and_given_names() -> None:
    hcp = MarketDraft(
        "asian_handicap", [SelectionDraft("home", "1.9"), SelectionDraft("away", "1.9")], {"hcp": "-0.25"}
    )
    dc = MarketDraft("double_chance", [SelectionDraft("home_draw", "1.3"), SelectionDraft("draw_away", "1.8", "X2")])
    event = fixture(hcp, dc)
    assert [s.name for s in event.markets[0].selections] == ["Arsenal -0.25", "Chelsea +0.25"]
    assert [s.name for s in event.markets[1].selections] == ["Arsenal or Draw", "X2"]
    level = fixture(
        MarketDraft("asian_handicap", [SelectionDraft("home", "2"), SelectionDraft("away", "2")], {"hcp": "0"})
    )
    assert [s.name for s in level.markets[0].selections] == ["Arsenal 0", "Chelsea 0"]


def test_race_has_runners_and_a_winner_market_with_each_way_terms() -> None:
    event = race()
    market = event.markets[0]
    assert event.competitors is None
    assert event.runners is not None
    assert len(event.runners) == 5
    assert market.type is MarketType.WINNER
    assert market.each_way == EachWayTerms.parse("1/5", 3)
    assert [s.outcome for s in market.selections] == list(event.runners)
    assert market.in_play_delay_s == 5


def test_limits_can_be_overridden_per_market() -> None:
    event = fixture(one_x_two(limits={"max_stake": 5000, "min_stake": 100}))
    assert (event.markets[0].min_stake, event.markets[0].max_stake) == (100, 5000)
    assert event.markets[0].max_payout == DEFAULTS.max_payout


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"competitors": ["Arsenal"]}, "invalid_event"),
        ({"competitors": ["Arsenal", "Arsenal"]}, "invalid_event"),
        ({"competitors": None}, "invalid_event"),
        ({"runners": ["A", "B"]}, "invalid_event"),  # both competitors and runners
        ({"sport": "Foot ball!"}, "invalid_event"),
        ({"name": "  "}, "invalid_event"),
        ({"start_time": datetime(2026, 3, 1, 15, 0)}, "invalid_event"),
        ({"markets": []}, "invalid_market"),
        ({"markets": [one_x_two(), one_x_two()]}, "invalid_market"),
    ],
)
def test_bad_events_are_refused_with_a_stable_code(overrides: dict[str, Any], expected: str) -> None:
    with pytest.raises(DomainError) as exc:
        fixture(**overrides)
    assert code(exc) == expected


@pytest.mark.parametrize(
    ("market", "expected"),
    [
        (one_x_two(type="penalties"), "invalid_market"),
        (one_x_two(selections=[SelectionDraft("home", "2"), SelectionDraft("over", "2")]), "invalid_market"),
        (one_x_two(specifiers={"total": "2.5"}), "invalid_market"),
        (MarketDraft("total", [SelectionDraft("over", "2")], {"total": "2.3"}), "invalid_market"),
        (one_x_two(in_play_delay_s=31), "invalid_market"),
        (one_x_two(in_play_delay_s=-1), "invalid_market"),
        (one_x_two(each_way=("1/5", 2)), "invalid_market"),  # each-way on a non-winner market
        (one_x_two(limits={"min_stake": 500, "max_stake": 100}), "invalid_market"),
        (one_x_two(limits={"max_payout": 0}), "invalid_market"),
        (one_x_two(limits={"colour": 1}), "invalid_market"),
        (one_x_two(selections=[SelectionDraft("home", "1.00")]), "invalid_odds"),
        (one_x_two(selections=[SelectionDraft("home", "2.555")]), "invalid_odds"),
        (one_x_two(selections=[SelectionDraft("home", "abc")]), "invalid_odds"),
        (one_x_two(selections=[SelectionDraft("home", "1e30")]), "invalid_odds"),
        (MarketDraft("total", [SelectionDraft("over", "2")], {"total": "1e999999999"}), "invalid_market"),
        (MarketDraft("winner", [SelectionDraft("Arsenal", "2"), SelectionDraft("Chelsea", "2")]), "invalid_market"),
    ],
)
def test_bad_markets_on_a_fixture_are_refused(market: MarketDraft, expected: str) -> None:
    with pytest.raises(DomainError) as exc:
        fixture(market)
    assert code(exc) == expected


def test_a_race_takes_only_winner_markets_with_one_selection_per_runner() -> None:
    with pytest.raises(DomainError, match="competitors"):
        race(markets=[one_x_two()])
    short = MarketDraft("winner", [SelectionDraft("Red Rum", "2"), SelectionDraft("Arkle", "3")])
    with pytest.raises(DomainError, match="one selection per runner"):
        race(markets=[short])


def test_each_way_places_must_be_fewer_than_the_runners() -> None:
    with pytest.raises(DomainError) as exc:
        race(each_way=("1/4", 5))
    assert code(exc) == "invalid_market"


# --- event status ---


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([EventStatus.LIVE, EventStatus.ENDED], True),
        ([EventStatus.CANCELLED], True),
        ([EventStatus.LIVE, EventStatus.CANCELLED], True),
        ([EventStatus.ENDED], False),
        ([EventStatus.LIVE, EventStatus.UPCOMING], False),
        ([EventStatus.LIVE, EventStatus.ENDED, EventStatus.LIVE], False),
        ([EventStatus.CANCELLED, EventStatus.LIVE], False),
    ],
)
def test_event_status_moves_only_forward(path: list[EventStatus], allowed: bool) -> None:
    event = fixture()
    for status in path[:-1]:
        event = model.change_event(event, status=status)
    if allowed:
        assert model.change_event(event, status=path[-1]).status is path[-1]
    else:
        with pytest.raises(DomainError) as exc:
            model.change_event(event, status=path[-1])
        assert code(exc) == "invalid_status_transition"


def test_cancelling_an_event_cancels_its_open_markets_and_voids_running_selections() -> None:
    event = race()
    market_id = event.markets[0].id
    runner = event.markets[0].selections[0].id
    event = model.mark_non_runner(event, runner)
    cancelled = model.change_event(event, status=EventStatus.CANCELLED)
    market = cancelled.market(market_id)
    assert market.status is MarketStatus.CANCELLED
    assert market.version == event.market(market_id).version + 1
    assert [s.status for s in market.selections] == [SelectionStatus.NON_RUNNER] + [SelectionStatus.VOID] * 4
    assert cancelled.version == event.version + 1


def test_ending_an_event_suspends_active_markets_and_they_cannot_reopen() -> None:
    event = model.change_event(fixture(), status=EventStatus.LIVE)
    ended = model.change_event(event, status=EventStatus.ENDED, score=Score(2, 1))
    assert ended.markets[0].status is MarketStatus.SUSPENDED
    assert ended.score == Score(2, 1)
    with pytest.raises(DomainError) as exc:
        model.change_market(ended, ended.markets[0].id, status=MarketStatus.ACTIVE)
    assert code(exc) == "invalid_status_transition"


def test_score_needs_a_live_or_ended_two_sided_event() -> None:
    with pytest.raises(DomainError) as exc:
        model.change_event(fixture(), score=Score(0, 0))
    assert code(exc) == "invalid_score"
    live_race = model.change_event(race(), status=EventStatus.LIVE)
    with pytest.raises(DomainError) as exc:
        model.change_event(live_race, score=Score(1, 0))
    assert code(exc) == "invalid_score"
    both = model.change_event(fixture(), status=EventStatus.LIVE, score=Score(1, 0))
    assert (both.status, both.score) == (EventStatus.LIVE, Score(1, 0))


def test_a_change_that_changes_nothing_keeps_the_version() -> None:
    event = model.change_event(fixture(), status=EventStatus.LIVE)
    assert model.change_event(event, status=EventStatus.LIVE) is event
    market = event.markets[0]
    same = model.change_market(event, market.id, odds={market.selections[0].id: market.selections[0].odds})
    assert same is event


# --- market trading ---


def test_odds_status_and_limits_change_in_one_new_market_version() -> None:
    event = fixture()
    market = event.markets[0]
    home, draw, _away = market.selections
    after = model.change_market(
        event,
        market.id,
        status=MarketStatus.SUSPENDED,
        odds={home.id: "2.20"},
        selection_status={draw.id: SelectionStatus.SUSPENDED},
        limits={"max_stake": 2000},
    )
    changed = after.market(market.id)
    assert changed.version == 2
    assert changed.status is MarketStatus.SUSPENDED
    assert changed.selection(home.id).odds == Decimal("2.20")
    assert changed.selection(draw.id).status is SelectionStatus.SUSPENDED
    assert changed.max_stake == 2000
    assert after.version == event.version  # the event itself did not change


def test_trading_refuses_unknown_selections_closed_markets_and_results() -> None:
    event = fixture()
    market = event.markets[0]
    with pytest.raises(DomainError) as exc:
        model.change_market(event, market.id, odds={uuid.uuid4(): "2.0"})
    assert code(exc) == "selection_not_found"
    with pytest.raises(DomainError) as exc:
        model.change_market(event, uuid.uuid4(), status=MarketStatus.SUSPENDED)
    assert code(exc) == "market_not_found"
    with pytest.raises(DomainError) as exc:
        model.change_market(event, market.id, status=MarketStatus.SETTLED)
    assert code(exc) == "invalid_status_transition"
    with pytest.raises(DomainError) as exc:
        model.change_market(event, market.id, selection_status={market.selections[0].id: SelectionStatus.WON})
    assert code(exc) == "invalid_status_transition"
    cancelled = model.change_market(event, market.id, status=MarketStatus.CANCELLED)
    assert {s.status for s in cancelled.markets[0].selections} == {SelectionStatus.VOID}
    with pytest.raises(DomainError) as exc:
        model.change_market(cancelled, market.id, odds={market.selections[0].id: "2.0"})
    assert code(exc) == "market_closed"


def test_is_open_for_bets_needs_an_open_event_an_active_market_and_an_active_selection() -> None:
    event = fixture()
    market = event.markets[0]
    selection = market.selections[0]
    assert is_open_for_bets(event, market, selection)
    assert not is_open_for_bets(event, replace(market, status=MarketStatus.SUSPENDED), selection)
    assert not is_open_for_bets(event, market, replace(selection, status=SelectionStatus.SUSPENDED))
    assert not is_open_for_bets(replace(event, status=EventStatus.ENDED), market, selection)


# --- settlement support ---


def test_non_runner_then_settlement_then_rollback() -> None:
    event = race()
    market = event.markets[0]
    first, second, third, withdrawn = (s.id for s in market.selections[:4])
    event = model.mark_non_runner(event, withdrawn)
    with pytest.raises(DomainError) as exc:
        model.mark_non_runner(event, withdrawn)
    assert code(exc) == "selection_closed"
    settled = model.settle_market(
        event, market.id, {first: SelectionStatus.WON, second: SelectionStatus.PLACED, third: SelectionStatus.PLACED}
    )
    statuses = [s.status for s in settled.market(market.id).selections]
    assert statuses == [
        SelectionStatus.WON,
        SelectionStatus.PLACED,
        SelectionStatus.PLACED,
        SelectionStatus.NON_RUNNER,
        SelectionStatus.LOST,
    ]
    assert settled.market(market.id).status is MarketStatus.SETTLED
    with pytest.raises(DomainError) as exc:
        model.settle_market(settled, market.id, {})
    assert code(exc) == "market_closed"
    reopened = model.unsettle_market(settled, market.id)
    assert reopened.market(market.id).status is MarketStatus.SUSPENDED
    assert [s.status for s in reopened.market(market.id).selections][3] is SelectionStatus.NON_RUNNER
    assert {s.status for s in reopened.market(market.id).selections} == {
        SelectionStatus.ACTIVE,
        SelectionStatus.NON_RUNNER,
    }


def test_a_market_cancelled_in_error_comes_back_suspended_unless_its_event_is_cancelled() -> None:
    event = fixture()
    market = event.markets[0]
    cancelled = model.change_market(event, market.id, status=MarketStatus.CANCELLED)
    assert {s.status for s in cancelled.market(market.id).selections} == {SelectionStatus.VOID}
    back = model.unsettle_market(cancelled, market.id)
    assert back.market(market.id).status is MarketStatus.SUSPENDED
    assert {s.status for s in back.market(market.id).selections} == {SelectionStatus.ACTIVE}
    whole_event = model.change_event(event, status=EventStatus.CANCELLED)
    with pytest.raises(DomainError) as exc:
        model.unsettle_market(whole_event, market.id)
    assert code(exc) == "invalid_status_transition"


def test_placed_is_only_for_each_way_markets_and_non_runners_only_in_winner_markets() -> None:
    no_ew = race(each_way=None)
    market = no_ew.markets[0]
    with pytest.raises(DomainError, match="each-way"):
        model.settle_market(no_ew, market.id, {market.selections[0].id: SelectionStatus.PLACED})
    event = fixture()
    with pytest.raises(DomainError) as exc:
        model.mark_non_runner(event, event.markets[0].selections[0].id)
    assert code(exc) == "invalid_market"
    with pytest.raises(DomainError) as exc:
        model.unsettle_market(event, event.markets[0].id)
    assert code(exc) == "invalid_status_transition"


# --- wire form ---


def test_payloads_round_trip_to_the_same_event_and_markets() -> None:
    for event in (model.change_event(fixture(), status=EventStatus.LIVE, score=Score(1, 1)), race()):
        markets = tuple(model.market_from_payload(model.market_payload(m)) for m in event.markets)
        assert model.event_from_payload(model.event_payload(event), markets) == event

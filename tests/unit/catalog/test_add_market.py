"""Adding a market to an existing event: checked like a market of a new event, on open events only, one
market per type and line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sportsbook.catalog import model
from sportsbook.catalog.model import Event, EventStatus, MarketDraft, MarketStatus, SelectionDraft
from sportsbook.core.errors import DomainError
from tests.unit.catalog.test_model import DEFAULTS, fixture, ids, one_x_two, race


def total(line: str = "2.5", **overrides: Any) -> MarketDraft:
    return MarketDraft(
        "total", [SelectionDraft("over", "1.90"), SelectionDraft("under", "1.90")], {"total": line}, **overrides
    )


def add(event: Event, draft: MarketDraft) -> Event:
    return model.add_market(event, draft, new_id=ids(), defaults=DEFAULTS)


def test_a_new_market_comes_last_active_at_version_one_and_the_event_keeps_its_version() -> None:
    event = fixture()
    after = add(event, total("3.5", in_play_delay_s=4, limits={"max_stake": 700}))
    assert after.markets[:-1] == event.markets
    market = after.markets[-1]
    assert (market.event_id, market.type, market.specifiers) == (event.id, "total", {"total": "3.5"})
    assert (market.status, market.version, market.in_play_delay_s, market.max_stake) == (
        MarketStatus.ACTIVE,
        1,
        4,
        700,
    )
    assert [(s.name, s.odds) for s in market.selections] == [
        ("Over 3.5", Decimal("1.90")),
        ("Under 3.5", Decimal("1.90")),
    ]
    assert after.version == event.version


def test_a_live_event_takes_a_new_market() -> None:
    live = model.change_event(fixture(), status=EventStatus.LIVE)
    assert len(add(live, total()).markets) == 2


@pytest.mark.parametrize("status", [EventStatus.ENDED, EventStatus.CANCELLED])
def test_an_ended_or_cancelled_event_takes_no_new_market(status: EventStatus) -> None:
    event = model.change_event(fixture(), status=EventStatus.LIVE)
    closed = model.change_event(event, status=status)
    with pytest.raises(DomainError) as exc:
        add(closed, total())
    assert (exc.value.code, exc.value.status) == ("event_closed", 409)


@pytest.mark.parametrize("draft", [one_x_two(), total("2.50")])
def test_the_same_type_and_line_twice_is_a_duplicate(draft: MarketDraft) -> None:
    event = add(fixture(), total("2.5"))
    with pytest.raises(DomainError) as exc:
        add(event, draft)
    assert (exc.value.code, exc.value.status) == ("duplicate_market", 409)


def test_another_line_of_the_same_type_is_not_a_duplicate() -> None:
    event = add(fixture(), total("2.5"))
    assert [m.specifiers for m in add(event, total("3")).markets[1:]] == [{"total": "2.5"}, {"total": "3"}]


def test_a_market_must_fit_the_event() -> None:
    with pytest.raises(DomainError) as exc:
        add(race(), total())
    assert exc.value.code == "invalid_market"
    with pytest.raises(DomainError) as exc:
        add(fixture(), total(each_way=("1/5", 1)))
    assert exc.value.code == "invalid_market"


def test_the_market_is_checked_before_the_event_or_its_other_markets() -> None:
    with pytest.raises(DomainError) as exc:
        add(fixture(), MarketDraft("1x2", [SelectionDraft("home", "0.5")]))  # also a duplicate
    assert exc.value.code == "invalid_odds"


def handicap(line: str) -> MarketDraft:
    return MarketDraft("asian_handicap", [SelectionDraft("home", "1.9"), SelectionDraft("away", "1.9")], {"hcp": line})


def test_an_event_has_at_most_the_maximum_of_markets() -> None:
    # every total line 0 to 100 by quarters, then handicap lines from -100 up, till the maximum
    lines = [total(f"{n / 4}") for n in range(401)]
    lines += [handicap(f"{n / 4 - 100}") for n in range(model.MAX_MARKETS_PER_EVENT - len(lines))]
    event = fixture(*lines)
    with pytest.raises(DomainError) as exc:
        add(event, one_x_two())
    assert exc.value.code == "invalid_market"

"""Feed ingestion into the running platform: prices, markets on first sight, event state, trader overrides,
producer liveness and settlement jobs from settlement messages, with bets and wallets checked over HTTP."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sportsbook.app import build_feed
from sportsbook.db.unit_of_work import reading
from sportsbook.feed.adapter import FeedAdapter, Undecodable
from sportsbook.feed.model import (
    Alive,
    BetCancel,
    BetSettlement,
    BetStop,
    EventPhase,
    EventState,
    FeedMarketStatus,
    FeedMessage,
    Fixture,
    FixtureChange,
    MarketOdds,
    MarketRef,
    MarketResult,
    OddsChange,
    OutcomeOdds,
    OutcomeResult,
    OutcomeResultKind,
    ProducerState,
    RollbackBetCancel,
    RollbackBetSettlement,
    SnapshotComplete,
)
from sportsbook.feed.service import FeedIngestion
from sportsbook.feed.simulator import RACE_WINNER_MARKET, SIMULATOR_MARKETS
from sportsbook.feed.store import FeedStore
from sportsbook.feed.uof import UOF_MARKETS, MarketMapping
from tests.http.conftest import Account, Api
from tests.http.test_bets_api import _bet, _fund, _single, _wallet

MATCH = "sr:match:10927088"
T0 = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)


class ScriptedAdapter(FeedAdapter):
    """The test's own adapter: the test hands `process` its messages; recoveries asked for are recorded."""

    name = "scripted"
    provider = "uof"
    markets: Mapping[int, MarketMapping] = UOF_MARKETS

    def __init__(self) -> None:
        self.recoveries: list[tuple[str, datetime | None, int]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        return
        yield  # an async generator that yields nothing: the test calls `process` itself

    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        self.recoveries.append((producer, since, request_id))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def one_x_two(home: str, draw: str, away: str, status: FeedMarketStatus = FeedMarketStatus.ACTIVE) -> MarketOdds:
    prices = (("1", home), ("2", draw), ("3", away))
    return MarketOdds(MarketRef(1), status, tuple(OutcomeOdds(o, Decimal(p)) for o, p in prices))


def total(line: str, over: str, under: str, status: FeedMarketStatus = FeedMarketStatus.ACTIVE) -> MarketOdds:
    return MarketOdds(
        MarketRef(18, (("total", line),)), status, (OutcomeOdds("12", Decimal(over)), OutcomeOdds("13", Decimal(under)))
    )


def odds(seconds: float, *markets: MarketOdds, producer: str = "live", state: EventState | None = None) -> OddsChange:
    return OddsChange(producer=producer, timestamp=at(seconds), event=MATCH, markets=markets, state=state)


FIXTURE = FixtureChange(
    producer="prematch",
    timestamp=at(0),
    event=MATCH,
    fixture=Fixture("football", "Arsenal v Chelsea", T0 + timedelta(hours=2), competitors=("Arsenal", "Chelsea")),
)


def ingestion(api: Api, *, liveness: bool = False) -> FeedIngestion:
    """The ingestion as the feed role builds it, on the test's platform, fed by the test."""
    return build_feed(api.platform, ScriptedAdapter(), liveness=liveness)


async def event_view(api: Api) -> dict[str, Any]:
    event = api.platform.catalog.event_by_external_id("uof", MATCH)
    assert event is not None
    answer = await api.client.get(f"/api/v1/events/{event.id}")
    assert answer.status_code == 200, answer.text
    view: dict[str, Any] = answer.json()
    return view


def market_of(view: Mapping[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in view["markets"] if m["type"] == kind)
    return found


def prices(market: Mapping[str, Any]) -> dict[str, str]:
    return {s["outcome"]: s["odds"] for s in market["selections"]}


async def with_match(api: Api, feed: FeedIngestion) -> None:
    report = await feed.process(FIXTURE)
    assert report.changed[0].startswith("created event"), report
    await feed.process(odds(1, one_x_two("2.10", "3.40", "3.60"), total("2.5", "1.90", "1.95")))
    await feed.flush()


async def test_a_fixture_creates_the_event_and_odds_create_its_markets_then_move_their_prices(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    view = await event_view(api)
    assert view["name"] == "Arsenal v Chelsea"
    assert view["external_ids"] == {"uof": MATCH}
    assert prices(market_of(view, "1x2")) == {"home": "2.10", "draw": "3.40", "away": "3.60"}
    assert market_of(view, "total")["specifiers"] == {"total": "2.5"}

    report = await feed.process(
        odds(2, one_x_two("2.057", "3.40", "3.70"), MarketOdds(MarketRef(999), FeedMarketStatus.ACTIVE))
    )
    assert any(s.startswith("unmapped") for s in report.skipped)
    written = await feed.flush()
    assert [m.type.value for m in written] == ["1x2"]
    # the feed's price is rounded down our ladder: the house keeps its margin
    assert prices(market_of(await event_view(api), "1x2")) == {"home": "2.04", "draw": "3.40", "away": "3.70"}


async def test_a_fixture_the_catalogue_has_is_left_alone_and_an_unknown_event_is_skipped(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    again = FixtureChange(producer="prematch", timestamp=at(5), event=MATCH, fixture=FIXTURE.fixture)
    assert (await feed.process(again)).skipped == ("known: the event exists",)
    stranger = OddsChange(producer="live", timestamp=at(6), event="sr:match:1", markets=(one_x_two("2", "3", "4"),))
    assert (await feed.process(stranger)).skipped[0].startswith("unknown_event")


async def test_duplicates_and_older_prices_are_ignored(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    newer = odds(10, one_x_two("2.50", "3.20", "2.90"))
    await feed.process(newer)
    assert (await feed.process(newer)).skipped[0].startswith("duplicate")
    assert (await feed.process(odds(5, one_x_two("1.50", "4.00", "6.00")))).skipped[0].startswith("stale")
    await feed.flush()
    assert prices(market_of(await event_view(api), "1x2")) == {"home": "2.50", "draw": "3.20", "away": "2.90"}


async def test_bet_stop_suspends_every_market_and_odds_change_reopens_them(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    await feed.process(BetStop(producer="live", timestamp=at(3), event=MATCH))
    await feed.flush()
    assert {m["status"] for m in (await event_view(api))["markets"]} == {"suspended"}
    # a price from before the stop must not reopen the market
    assert (await feed.process(odds(2.5, one_x_two("2.00", "3.40", "3.80")))).skipped[0].startswith("stale")
    await feed.process(odds(4, one_x_two("2.00", "3.40", "3.80")))
    await feed.flush()
    view = await event_view(api)
    assert market_of(view, "1x2")["status"] == "active"
    assert market_of(view, "total")["status"] == "suspended"


async def test_the_event_goes_live_is_scored_and_ends_as_the_feed_says(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    live = EventState(EventPhase.LIVE, 0, 0)
    report = await feed.process(odds(5, one_x_two("2.00", "3.40", "3.80"), state=live))
    assert "event live 0:0" in report.changed
    await feed.process(odds(6, one_x_two("1.40", "4.50", "7.00"), state=EventState(EventPhase.LIVE, 1, 0)))
    view = await event_view(api)
    assert view["status"] == "live"
    assert view["score"] == {"home": 1, "away": 0}
    await feed.process(odds(7, state=EventState(EventPhase.ENDED, 1, 0)))
    await feed.flush()
    view = await event_view(api)
    assert view["status"] == "ended"
    assert {m["status"] for m in view["markets"]} == {"suspended"}


async def test_a_traders_suspension_and_prices_hold_against_the_feed_until_released(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    trader = await api.new_staff("trader")
    market = market_of(await event_view(api), "1x2")
    held = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}", json={"status": "suspended"}, headers=trader.headers
    )
    assert held.status_code == 200
    assert held.json()["trader_override"] is True

    await feed.process(odds(5, one_x_two("1.80", "3.60", "4.50")))
    assert await feed.flush() == []
    market = market_of(await event_view(api), "1x2")
    assert market["status"] == "suspended"
    assert prices(market)["home"] == "2.10"

    released = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}", json={"trader_override": False}, headers=trader.headers
    )
    assert released.status_code == 200
    assert released.json()["trader_override"] is False
    await feed.flush()  # the feed's latest state for the released market applies at once
    market = market_of(await event_view(api), "1x2")
    assert market["status"] == "active"
    assert prices(market) == {"home": "1.80", "draw": "3.60", "away": "4.50"}


async def test_a_silent_producer_suspends_its_markets_and_a_recovery_resumes_them(api: Api) -> None:
    feed = ingestion(api, liveness=True)
    adapter = feed.adapter
    assert isinstance(adapter, ScriptedAdapter)
    await feed.open()
    assert [(p, since) for p, since, _ in adapter.recoveries] == [("live", None), ("prematch", None)]
    await with_match(api, feed)
    assert {m["status"] for m in (await event_view(api))["markets"]} == {"suspended"}  # down until recovered

    live_request = adapter.recoveries[0][2]
    await feed.process(SnapshotComplete(producer="live", timestamp=at(2), request_id=live_request))
    await feed.flush()
    assert {m["status"] for m in (await event_view(api))["markets"]} == {"active"}
    await feed.process(Alive(producer="live", timestamp=at(3)))

    api.clock.advance(feed.alive_timeout.total_seconds() + 1)  # no alive since
    await feed.tick()
    assert feed.monitors["live"].state is ProducerState.RECOVERING
    assert {m["status"] for m in (await event_view(api))["markets"]} == {"suspended"}  # at once, no flush needed
    assert adapter.recoveries[-1][:2] == ("live", at(3))  # from the last good time

    # an old recovery's completion does not resume it, the current one's does
    await feed.process(SnapshotComplete(producer="live", timestamp=at(4), request_id=live_request))
    assert feed.monitors["live"].state is ProducerState.RECOVERING
    await feed.process(SnapshotComplete(producer="live", timestamp=at(5), request_id=adapter.recoveries[-1][2]))
    await feed.flush()
    assert {m["status"] for m in (await event_view(api))["markets"]} == {"active"}


async def _bettor(api: Api, stake_funds: int = 100_000) -> Account:
    player = await api.new_player()
    await _fund(api, player, await api.new_staff("payments"), stake_funds)
    return player


def settlement(seconds: float, home: OutcomeResultKind, *, void_factor: str = "0") -> BetSettlement:
    away = OutcomeResultKind.LOST
    draw = OutcomeResultKind.LOST
    outcomes = (
        OutcomeResult("1", home, Decimal(void_factor)),
        OutcomeResult("2", draw),
        OutcomeResult("3", away),
    )
    return BetSettlement(
        producer="live", timestamp=at(seconds), event=MATCH, markets=(MarketResult(MarketRef(1), outcomes),)
    )


async def test_settlement_messages_settle_roll_back_and_settle_again_through_jobs(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    player = await _bettor(api)
    home = next(s for s in market_of(await event_view(api), "1x2")["selections"] if s["outcome"] == "home")
    placed = await _bet(api, player, _single(home, stake=1_000))
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "accepted"

    won = settlement(100, OutcomeResultKind.WON)
    report = await feed.process(won)
    assert report.changed[0].startswith("settle job"), report
    await api.platform.jobs.run_pending()
    assert (await _wallet(api, player))["cash"] == 100_000 - 1_000 + 2_100

    # the same message resent (by a recovery, after a restart: a new ingestion) settles nothing twice
    again = await ingestion(api).process(won)
    assert again.skipped[0].startswith("duplicate"), again

    rolled = await feed.process(
        RollbackBetSettlement(producer="live", timestamp=at(110), event=MATCH, markets=(MarketRef(1),))
    )
    assert rolled.changed[0].startswith("rollback job"), rolled
    await api.platform.jobs.run_pending()
    assert (await _wallet(api, player))["cash"] == 100_000 - 1_000

    half = settlement(120, OutcomeResultKind.LOST, void_factor="1")  # a push: stakes back
    assert (await feed.process(half)).changed
    await api.platform.jobs.run_pending()
    assert (await _wallet(api, player))["cash"] == 100_000
    assert (await api.platform.ledger.reconcile()).sound


async def test_a_bet_cancel_voids_the_window_and_its_rollback_restores_the_bets(api: Api) -> None:
    feed = ingestion(api)
    await with_match(api, feed)
    player = await _bettor(api)
    home = next(s for s in market_of(await event_view(api), "1x2")["selections"] if s["outcome"] == "home")
    placed_at = api.clock.now()
    assert (await _bet(api, player, _single(home, stake=1_000))).status_code == 201
    window = {"start": placed_at - timedelta(minutes=1), "end": placed_at + timedelta(minutes=1)}

    cancel = BetCancel(producer="live", timestamp=at(50), event=MATCH, markets=(MarketRef(1),), **window)
    assert (await feed.process(cancel)).changed[0].startswith("bet_cancel job")
    await api.platform.jobs.run_pending()
    bets = (await api.client.get("/api/v1/bets", headers=player.headers)).json()["items"]
    assert bets[0]["status"] == "void"
    assert (await _wallet(api, player))["cash"] == 100_000

    undo = RollbackBetCancel(producer="live", timestamp=at(60), event=MATCH, markets=(MarketRef(1),), **window)
    assert (await feed.process(undo)).changed[0].startswith("rollback_bet_cancel job")
    await api.platform.jobs.run_pending()
    bets = (await api.client.get("/api/v1/bets", headers=player.headers)).json()["items"]
    assert bets[0]["status"] == "open"
    assert (await _wallet(api, player))["cash"] == 99_000

    await feed.process(settlement(100, OutcomeResultKind.WON))
    await api.platform.jobs.run_pending()
    assert (await _wallet(api, player))["cash"] == 99_000 + 2_100
    assert (await api.platform.ledger.reconcile()).sound
    # a rollback of a cancel that does not stand is refused, and nothing is queued
    again = RollbackBetCancel(producer="live", timestamp=at(70), event=MATCH, markets=(MarketRef(1),), **window)
    assert (await feed.process(again)).skipped[0].startswith("refused")


async def test_an_undecodable_message_is_counted_kept_and_skipped(api: Api) -> None:
    feed = ingestion(api)
    bad = Undecodable(b"<odds_change", "not well-formed XML", at(1), "hi.pre.-.odds_change.1.sr:match.1.-")
    report = await feed.process(bad)
    assert report.skipped == ("undecodable: not well-formed XML",)
    async with reading(api.platform.db) as uow:
        kept = await uow.store(FeedStore).rejects()
    assert [(r[2], r[3]) for r in kept] == [("not well-formed XML", b"<odds_change")]


_keys = itertools.count()
_streams = st.lists(
    st.tuples(st.integers(min_value=10, max_value=200), st.sampled_from(["1.50", "2.00", "2.50", "3.00", "4.00"])),
    min_size=1,
    max_size=12,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=_streams, data=st.data())
async def test_whatever_the_order_and_repeats_a_market_ends_at_its_newest_price(
    api: Api, stream: list[tuple[int, str]], data: st.DataObject
) -> None:
    feed = ingestion(api)
    if api.platform.catalog.event_by_external_id("uof", MATCH) is None:
        await with_match(api, feed)
    base = next(_keys) * 1_000  # each example's times after the last one's
    messages = [odds(base + t, one_x_two(price, "3.40", "3.60")) for t, price in stream]
    shuffled = data.draw(st.permutations(messages + data.draw(st.lists(st.sampled_from(messages), max_size=4))))
    for message in shuffled:
        await feed.process(message)
    await feed.flush()
    newest = max(stream, key=lambda p: p[0])[0]
    expected = {m.markets[0].outcomes[0].odds for m in messages if m.timestamp == at(base + newest)}
    home = prices(market_of(await event_view(api), "1x2"))["home"]
    assert Decimal(home) in expected


class SimulatorMarketsAdapter(ScriptedAdapter):
    """As the scripted adapter, with the simulator's markets (its race winner market among them)."""

    markets = SIMULATOR_MARKETS


async def test_a_runner_the_feed_takes_out_before_the_off_is_a_non_runner_with_rule_4(api: Api) -> None:
    feed = build_feed(api.platform, SimulatorMarketsAdapter(), liveness=False)
    race = "sr:stage:77"
    runners = ("Red Rum", "Arkle", "Kauto Star", "Denman", "Sea Bird", "Frankel")
    fixture = Fixture("horse_racing", "Ascot 14:30", T0 + timedelta(hours=1), runners=runners)
    await feed.process(FixtureChange(producer="prematch", timestamp=at(0), event=race, fixture=fixture))
    terms = (("ew_fraction", "1/4"), ("ew_places", "2"))
    prices = ("3.00", "4.00", "5.00", "7.00", "9.00", "12.00")

    def winner(seconds: float, out: str | None = None) -> OddsChange:
        outcomes = tuple(OutcomeOdds(r, Decimal(p), active=r != out) for r, p in zip(runners, prices, strict=True))
        market = MarketOdds(MarketRef(RACE_WINNER_MARKET, terms), FeedMarketStatus.ACTIVE, outcomes)
        return OddsChange(producer="prematch", timestamp=at(seconds), event=race, markets=(market,))

    await feed.process(winner(1))
    await feed.flush()
    report = await feed.process(winner(2, out="Arkle"))
    assert any(c.startswith("non-runner Arkle at 4.00: Rule 4 deduction 1/4") for c in report.changed), report
    await feed.flush()
    event = api.platform.catalog.event_by_external_id("uof", race)
    assert event is not None
    market = event.markets[0]
    assert market.each_way is not None
    assert market.each_way.places == 2
    status = {s.outcome: s.status.value for s in market.selections}
    assert status["Arkle"] == "non_runner"
    assert {v for k, v in status.items() if k != "Arkle"} == {"active"}
    # the same state again withdraws nobody twice
    assert not [c for c in (await feed.process(winner(3, out="Arkle"))).changed if c.startswith("non-runner")]

"""The odds feed simulator: coherent prices from the goal model and the runners' strengths, settlements that follow
the final score and the finishing order, each event's messages in a feed's order, one stream per seed, and
messages UOF can carry."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportsbook.betting.settlement_rules import explicit_result, result_from_score
from sportsbook.core.markets import EachWayTerms, MarketType, Score
from sportsbook.feed.model import (
    Alive,
    BetSettlement,
    BetStop,
    EventPhase,
    FeedMarketStatus,
    FeedMessage,
    FixtureChange,
    MarketOdds,
    MarketRef,
    OddsChange,
    OutcomeOdds,
    OutcomeResultKind,
    SnapshotComplete,
)
from sportsbook.feed.simulator import (
    CORRECT_SCORE_MARKET,
    CORRECT_SCORES,
    DEFAULT_POLICY,
    HANDICAP_LINES,
    LIVE,
    PREMATCH,
    RACE_WINNER_MARKET,
    SIMULATOR_MARKETS,
    TOTAL_LINES,
    Simulator,
    SimulatorConfig,
    each_way_specifiers,
    finishing_order,
    football_markets,
    football_results,
    race_market,
    race_results,
    win_probabilities,
)
from sportsbook.feed.uof import UOF_MARKETS, decode, encode, map_market, map_outcome
from sportsbook.pricing import football
from sportsbook.pricing.football import FootballModel, FootballState
from sportsbook.pricing.model import LADDER, PricingPolicy, on_ladder, overround

START = datetime(2026, 3, 14, 15, 0, tzinfo=UTC)
MODEL = FootballModel(1.6, 1.1)
D = Decimal
PROBABILITY_ROUNDING = D("0.000001")

xgs = st.floats(min_value=0.2, max_value=4.0)
models = st.builds(FootballModel, xgs, xgs)
states = st.builds(FootballState, st.floats(min_value=0, max_value=89.9), st.integers(0, 6), st.integers(0, 6))


def _run(sim: Simulator, until: timedelta, step: timedelta = timedelta(seconds=1)) -> list[FeedMessage]:
    messages: list[FeedMessage] = []
    at = sim.start
    while at < sim.start + until:
        at += step
        messages += sim.advance(at)
    return messages


def _market(markets: Iterable[MarketOdds], ref: MarketRef) -> MarketOdds:
    return next(m for m in markets if m.market == ref)


def _probabilities(market: MarketOdds) -> dict[str, Decimal]:
    return {o.outcome_id: o.probability for o in market.outcomes if o.probability is not None}


def _next_price(price: Decimal) -> Decimal:
    return LADDER[min(LADDER.index(price) + 1, len(LADDER) - 1)]


def _assert_book(market: MarketOdds, margin: Decimal, *, whole: bool = True) -> None:
    """The market's prices are ladder prices whose book is 1 + margin, give or take the ladder's rounding down (each
    price at most one step short of its exact value); its probabilities sum to 1, give or take their rounding."""
    active = [o for o in market.outcomes if o.active]
    prices = [o.odds for o in active]
    assert all(p is not None and on_ladder(p) for p in prices)
    assert all(o.odds is None and o.probability is None for o in market.outcomes if not o.active)
    ladder_prices = [p for p in prices if p is not None]
    book = overround(ladder_prices)
    slack = sum((1 / Fraction(p) - 1 / Fraction(_next_price(p)) for p in ladder_prices), Fraction(0))
    if whole:
        assert sum(o.probability or 0 for o in active) == pytest.approx(1, abs=len(active) * PROBABILITY_ROUNDING)
        if D("1.01") not in ladder_prices:  # a near-certain outcome held at the minimum price can leave the book short
            assert 1 + Fraction(margin) <= book
        assert book <= 1 + Fraction(margin) + slack + Fraction(len(active), 1000)  # outcomes held at 1000


# ---- configuration ----


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"live_matches": -1}, "cannot be negative"),
        ({"update_interval": timedelta(0)}, "update_interval"),
        ({"alive_interval": timedelta(microseconds=10)}, "alive_interval"),
        ({"goal_pause": timedelta(seconds=-1)}, "goal_pause"),
        ({"match_seconds_per_second": 0.0}, "match_seconds_per_second"),
        ({"match_seconds_per_second": math.inf}, "match_seconds_per_second"),
        ({"race_runners": (1, 5)}, "race_runners"),
        ({"race_runners": (8, 5)}, "race_runners"),
        ({"non_runner_probability": 1.5}, "non_runner_probability"),
    ],
)
def test_a_bad_configuration_is_refused(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        SimulatorConfig(**changes)  # type: ignore[arg-type]


def test_the_simulators_own_markets_map_to_ours() -> None:
    assert {k: v for k, v in SIMULATOR_MARKETS.items() if k in UOF_MARKETS} == dict(UOF_MARKETS)
    correct_score = map_market(MarketRef(CORRECT_SCORE_MARKET), SIMULATOR_MARKETS)
    assert correct_score is not None
    assert correct_score.market_type is MarketType.CORRECT_SCORE
    assert map_outcome(MarketRef(CORRECT_SCORE_MARKET), "2:1", SIMULATOR_MARKETS) == "2:1"
    race = map_market(MarketRef(RACE_WINNER_MARKET, each_way_specifiers(9)), SIMULATOR_MARKETS)
    assert race is not None
    assert race.market_type is MarketType.WINNER
    assert race.each_way == EachWayTerms(Fraction(1, 5), 3)
    assert map_outcome(MarketRef(RACE_WINNER_MARKET), "Silver Arrow", SIMULATOR_MARKETS) == "Silver Arrow"


# ---- football: prices ----


@settings(max_examples=60, deadline=None)
@given(models, states)
def test_every_football_book_is_coherent(model: FootballModel, state: FootballState) -> None:
    markets = football_markets(model, state, DEFAULT_POLICY)
    assert [m.market.market_id for m in markets] == [1] + [18] * 3 + [16] * len(HANDICAP_LINES) + [29, 90001]
    for market in markets:
        if market.status is FeedMarketStatus.DEACTIVATED:
            assert market.outcomes == ()
            continue
        assert market.status is FeedMarketStatus.ACTIVE
        mapped = map_market(market.market, SIMULATOR_MARKETS)
        assert mapped is not None
        margin = DEFAULT_POLICY.margin_for("football", mapped.market_type)
        # the correct score's book holds "any other score", which is priced but not offered
        _assert_book(market, margin, whole=market.market.market_id != CORRECT_SCORE_MARKET)


@settings(max_examples=60, deadline=None)
@given(models, states)
def test_probabilities_are_the_goal_models(model: FootballModel, state: FootballState) -> None:
    markets = football_markets(model, state, DEFAULT_POLICY)
    matrix = football.score_matrix(model, state)
    goals = state.home_goals + state.away_goals

    def close(got: dict[str, Decimal], want: dict[str, float]) -> None:
        assert set(got) == set(want)
        for key, value in want.items():
            assert abs(float(got[key]) - value) <= 5e-7

    result = football.one_x_two(matrix)
    close(
        _probabilities(_market(markets, MarketRef(1))), {"1": result["home"], "2": result["draw"], "3": result["away"]}
    )
    for line in TOTAL_LINES:
        market = _market(markets, MarketRef(18, (("total", line),)))
        if goals > D(line):
            assert market.status is FeedMarketStatus.DEACTIVATED  # over has won already
            continue
        fair = football.total(matrix, D(line))
        close(_probabilities(market), {"12": fair["over"], "13": fair["under"]})
    for hcp in HANDICAP_LINES:
        fair = football.asian_handicap(matrix, D(hcp))
        close(
            _probabilities(_market(markets, MarketRef(16, (("hcp", hcp),)))),
            {"1714": fair["home"], "1715": fair["away"]},
        )
    scores = _market(markets, MarketRef(CORRECT_SCORE_MARKET))
    if scores.status is FeedMarketStatus.ACTIVE:
        fair = football.correct_score(matrix, CORRECT_SCORES)
        close(_probabilities(scores), {s: fair[s] for s in CORRECT_SCORES if fair[s] > 0})


def test_what_is_decided_is_not_offered() -> None:
    markets = football_markets(MODEL, FootballState(60, 2, 1), DEFAULT_POLICY)
    assert _market(markets, MarketRef(18, (("total", "1.5"),))).status is FeedMarketStatus.DEACTIVATED
    assert _market(markets, MarketRef(18, (("total", "2.5"),))).status is FeedMarketStatus.DEACTIVATED
    assert _market(markets, MarketRef(18, (("total", "3.5"),))).status is FeedMarketStatus.ACTIVE
    assert _market(markets, MarketRef(29)).status is FeedMarketStatus.DEACTIVATED
    scores = {o.outcome_id: o for o in _market(markets, MarketRef(CORRECT_SCORE_MARKET)).outcomes}
    assert not scores["1:1"].active
    assert not scores["2:0"].active
    assert not scores["0:0"].active
    assert scores["2:1"].active
    assert scores["3:2"].active
    beyond = football_markets(MODEL, FootballState(60, 5, 0), DEFAULT_POLICY)
    assert _market(beyond, MarketRef(CORRECT_SCORE_MARKET)).status is FeedMarketStatus.DEACTIVATED


@settings(max_examples=60, deadline=None)
@given(models, states)
def test_a_home_goal_shortens_home_and_lengthens_away(model: FootballModel, state: FootballState) -> None:
    before = _market(football_markets(model, state, DEFAULT_POLICY), MarketRef(1))
    after_state = FootballState(state.minute, state.home_goals + 1, state.away_goals)
    after = _market(football_markets(model, after_state, DEFAULT_POLICY), MarketRef(1))
    p_before, p_after = _probabilities(before), _probabilities(after)
    assert p_after["1"] >= p_before["1"]
    assert p_after["3"] <= p_before["3"]
    if D("0.001") < p_before["1"] < D("0.999"):  # neither certain nor hopeless: the goal moves it
        assert p_after["1"] > p_before["1"]
    odds_before = {o.outcome_id: o.odds for o in before.outcomes}
    odds_after = {o.outcome_id: o.odds for o in after.outcomes}
    assert odds_after["1"] <= odds_before["1"]  # type: ignore[operator]
    assert odds_after["3"] >= odds_before["3"]  # type: ignore[operator]


def test_a_margin_override_prices_its_market_only() -> None:
    policy = PricingPolicy(D("0.02"), {("football", MarketType.BTTS): D("0.2")})
    markets = football_markets(MODEL, FootballState(0, 0, 0), policy)
    _assert_book(_market(markets, MarketRef(1)), D("0.02"))
    _assert_book(_market(markets, MarketRef(29)), D("0.2"))


# ---- football: results ----


@pytest.mark.parametrize(("home", "away"), [(h, a) for h in range(7) for a in range(7)])
def test_football_results_settle_as_the_platform_settles_a_score(home: int, away: int) -> None:
    """Every outcome's UOF-style result (result, void factor) pays what the platform's own score rules pay."""
    for market in football_results(home, away):
        mapped = map_market(market.market, SIMULATOR_MARKETS)
        assert mapped is not None
        for outcome in market.outcomes:
            ours = map_outcome(market.market, outcome.outcome_id, SIMULATOR_MARKETS)
            assert ours is not None
            expected = result_from_score(mapped.market_type, mapped.specifiers, ours, Score(home, away))
            void = outcome.void_factor if outcome.void_factor else None
            got = explicit_result(outcome.result.value, void, None, None)
            assert got.win == expected.win, (market.market, outcome)


@pytest.mark.parametrize(
    ("score", "hcp", "home", "away"),
    [
        ((1, 1), "0", ("lost", "1"), ("lost", "1")),  # a push
        ((1, 1), "-0.25", ("lost", "0.5"), ("won", "0.5")),  # home half-loses, away half-wins
        ((1, 1), "0.25", ("won", "0.5"), ("lost", "0.5")),
        ((2, 1), "-0.75", ("won", "0.5"), ("lost", "0.5")),
        ((2, 1), "-1", ("lost", "1"), ("lost", "1")),
        ((2, 1), "-1.5", ("lost", "0"), ("won", "0")),
        ((0, 1), "0.5", ("lost", "0"), ("won", "0")),
    ],
)
def test_handicap_results_are_uofs(
    score: tuple[int, int], hcp: str, home: tuple[str, str], away: tuple[str, str]
) -> None:
    market = next(m for m in football_results(*score) if m.market == MarketRef(16, (("hcp", hcp),)))
    got = [(o.result.value, str(o.void_factor)) for o in market.outcomes]
    assert got == [home, away]


def test_correct_score_results() -> None:
    scores = next(m for m in football_results(2, 1) if m.market.market_id == CORRECT_SCORE_MARKET)
    assert [o.outcome_id for o in scores.outcomes if o.result is OutcomeResultKind.WON] == ["2:1"]
    unlisted = next(m for m in football_results(6, 0) if m.market.market_id == CORRECT_SCORE_MARKET)
    assert all(o.result is OutcomeResultKind.LOST for o in unlisted.outcomes)


# ---- races ----


@pytest.mark.parametrize(
    ("runners", "terms"),
    [
        (2, ()),
        (4, ()),
        (5, (("ew_fraction", "1/4"), ("ew_places", "2"))),
        (7, (("ew_fraction", "1/4"), ("ew_places", "2"))),
        (8, (("ew_fraction", "1/5"), ("ew_places", "3"))),
        (16, (("ew_fraction", "1/5"), ("ew_places", "3"))),
    ],
)
def test_each_way_terms_follow_the_field_size(runners: int, terms: tuple[tuple[str, str], ...]) -> None:
    assert each_way_specifiers(runners) == terms


def test_the_finishing_order_is_plackett_luces() -> None:
    strengths = [1.0, 2.0, 3.0, 4.0]
    rng = random.Random(7)
    draws = [finishing_order(rng, strengths) for _ in range(20_000)]
    assert all(sorted(order) == [0, 1, 2, 3] for order in draws)
    winners = Counter(order[0] for order in draws)
    for runner, p in enumerate(win_probabilities(strengths)):
        assert winners[runner] / len(draws) == pytest.approx(p, abs=0.015)
    # second place: P(j second) = sum over i != j of p_i * s_j / (total - s_i)
    seconds = Counter(order[1] for order in draws)
    total = sum(strengths)
    for j, s_j in enumerate(strengths):
        p = sum(s_i / total * s_j / (total - s_i) for i, s_i in enumerate(strengths) if i != j)
        assert seconds[j] / len(draws) == pytest.approx(p, abs=0.015)


def test_a_race_market_reprices_without_its_non_runners() -> None:
    ref = MarketRef(RACE_WINNER_MARKET, each_way_specifiers(5))
    runners = ("A", "B", "C", "D", "E")
    market = race_market(ref, runners, [1.0, 1.0, 2.0, 4.0, 2.0], frozenset({"D"}), DEFAULT_POLICY)
    assert [o.outcome_id for o in market.outcomes] == list(runners)
    assert not _outcome(market, "D").active
    assert _probabilities(market) == {"A": D("0.166667"), "B": D("0.166667"), "C": D("0.333333"), "E": D("0.333333")}
    _assert_book(market, DEFAULT_POLICY.margin_for("horse_racing", MarketType.WINNER))


def _outcome(market: MarketOdds, outcome_id: str) -> OutcomeOdds:
    return next(o for o in market.outcomes if o.outcome_id == outcome_id)


def test_race_results() -> None:
    ref = MarketRef(RACE_WINNER_MARKET, each_way_specifiers(8))
    runners = tuple("ABCDEFGH")
    result = race_results(ref, runners, ("C", "A", "H", "B", "E", "G", "F"), frozenset({"D"}))
    assert [(o.outcome_id, o.result.value, str(o.void_factor)) for o in result.outcomes] == [
        ("A", "placed", "0"),
        ("B", "lost", "0"),
        ("C", "won", "0"),
        ("D", "lost", "1"),
        ("E", "lost", "0"),
        ("F", "lost", "0"),
        ("G", "lost", "0"),
        ("H", "placed", "0"),
    ]
    win_only = race_results(MarketRef(RACE_WINNER_MARKET), ("A", "B", "C"), ("B", "A", "C"), frozenset())
    assert [o.result.value for o in win_only.outcomes] == ["lost", "won", "lost"]


# ---- the stream ----

SMALL = SimulatorConfig(seed=3, live_matches=2, prematch_matches=2, races=2, non_runner_probability=0.3)


def test_the_same_seed_gives_the_same_stream_however_it_is_advanced() -> None:
    one_second = _run(Simulator(SMALL, START), timedelta(minutes=15))
    seven_seconds = _run(Simulator(SMALL, START), timedelta(minutes=15), timedelta(seconds=7))
    at_once = Simulator(SMALL, START).advance(START + timedelta(minutes=15))
    assert one_second == at_once
    assert [m for m in seven_seconds if m.timestamp <= START + timedelta(minutes=15)] == at_once
    assert len(one_second) > 500


def test_different_seeds_give_different_streams() -> None:
    streams = [_run(Simulator(replace(SMALL, seed=seed), START), timedelta(minutes=3)) for seed in (1, 2, 3)]
    assert streams[0] != streams[1] != streams[2] != streams[0]
    fixtures = [{m.fixture for m in s if isinstance(m, FixtureChange)} for s in streams]
    assert fixtures[0] != fixtures[1] != fixtures[2]


def test_a_restart_does_not_reuse_event_ids() -> None:
    first = Simulator(SMALL, START).advance(START)
    later = Simulator(SMALL, START + timedelta(hours=1)).advance(START + timedelta(hours=1))
    assert {m.event for m in first if m.event} & {m.event for m in later if m.event} == set()


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32))
def test_every_stream_is_in_time_order_and_every_book_is_coherent(seed: int) -> None:
    sim = Simulator(replace(SMALL, seed=seed), START)
    at = START
    for _ in range(100):
        at += timedelta(seconds=5)
        batch = sim.advance(at)
        assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(batch))
        assert all(START <= m.timestamp <= at and m.timestamp.microsecond % 1000 == 0 for m in batch)
        for message in batch:
            if not isinstance(message, OddsChange):
                continue
            for market in message.markets:
                if market.status is FeedMarketStatus.ACTIVE and market.market.market_id != CORRECT_SCORE_MARKET:
                    mapped = map_market(market.market, SIMULATOR_MARKETS)
                    assert mapped is not None
                    sport = "horse_racing" if mapped.market_type is MarketType.WINNER else "football"
                    _assert_book(market, DEFAULT_POLICY.margin_for(sport, mapped.market_type))


def _event_messages(messages: list[FeedMessage], event: str) -> list[FeedMessage]:
    return [m for m in messages if m.event == event]


def test_a_match_goes_from_fixture_to_settlement() -> None:
    config = SimulatorConfig(seed=11, live_matches=0, prematch_matches=4, races=0, replace_finished=False)
    sim = Simulator(config, START)
    messages: list[FeedMessage] = []
    live_checked = 0
    at = START
    while at < START + timedelta(minutes=20):
        at += timedelta(seconds=1)
        batch = sim.advance(at)
        for message in batch:
            # a live price is the goal model's for the score and the minute at its time
            if (
                isinstance(message, OddsChange)
                and message.producer == LIVE
                and message.state is not None
                and message.state.phase is EventPhase.LIVE
                and message.markets
                and message.event is not None
            ):
                state = FootballState(
                    sim.match_minute(message.event, message.timestamp),
                    message.state.home_score or 0,
                    message.state.away_score or 0,
                )
                assert message.markets == football_markets(sim.football_model(message.event), state, DEFAULT_POLICY)
                live_checked += 1
        messages += batch
    assert live_checked > 100
    events = list(dict.fromkeys(m.event for m in messages if m.event))
    assert len(events) == 4
    goals = 0
    for event in events:
        stream = _event_messages(messages, event)
        fixture = stream[0]
        assert isinstance(fixture, FixtureChange)
        assert fixture.producer == PREMATCH
        assert fixture.fixture is not None
        assert fixture.fixture.sport == "football"
        assert fixture.fixture.competitors is not None
        kickoff = fixture.fixture.start_time
        assert fixture.fixture.name == " v ".join(fixture.fixture.competitors)
        prematch = [m for m in stream if m.timestamp < kickoff]
        assert all(isinstance(m, OddsChange) and m.state is not None for m in prematch[1:])
        assert all(
            m.state.phase is EventPhase.NOT_STARTED for m in prematch[1:] if isinstance(m, OddsChange) and m.state
        )
        assert len(prematch) >= 2
        handover, first_live = (m for m in stream if m.timestamp == kickoff)
        assert isinstance(handover, OddsChange)
        assert handover.producer == PREMATCH
        assert {m.status for m in handover.markets} == {FeedMarketStatus.HANDED_OVER}
        assert isinstance(first_live, OddsChange)
        assert first_live.producer == LIVE
        assert first_live.state is not None
        assert (first_live.state.home_score, first_live.state.away_score) == (0, 0)
        # in play: every goal stops betting, and the next prices carry the score one goal on
        in_play = [m for m in stream if m.timestamp > kickoff]
        score = (0, 0)
        stopped = False
        ended_at = None
        for message in in_play:
            if isinstance(message, BetStop):
                stopped = True
                continue
            if isinstance(message, OddsChange) and message.state is not None:
                phase = message.state.phase
                new = (message.state.home_score or 0, message.state.away_score or 0)
                if phase is EventPhase.LIVE:
                    if new != score:
                        assert stopped
                        assert sum(new) - sum(score) >= 1
                        assert new >= score
                        goals += sum(new) - sum(score)
                        assert {m.status for m in message.markets} <= {
                            FeedMarketStatus.ACTIVE,
                            FeedMarketStatus.DEACTIVATED,
                        }
                    else:
                        assert not stopped or message.timestamp > kickoff
                    score, stopped = new, False
                elif phase is EventPhase.ENDED:
                    assert stopped
                    assert new >= score
                    score, ended_at = new, message.timestamp
                elif phase is EventPhase.CLOSED:
                    assert {m.status for m in message.markets} == {FeedMarketStatus.SETTLED}
            if isinstance(message, BetSettlement):
                assert ended_at is not None
                assert message.timestamp >= ended_at
                assert message.markets == football_results(*score)
        assert isinstance(in_play[-1], OddsChange)
        assert in_play[-1].state is not None
        assert in_play[-1].state.phase is EventPhase.CLOSED
        assert isinstance(in_play[-2], BetSettlement)
        assert ended_at == kickoff + timedelta(minutes=10)  # 90 minutes at 9 match seconds a second
    assert goals >= 3


def test_goals_move_the_prices_the_right_way_in_the_stream() -> None:
    sim = Simulator(SimulatorConfig(seed=5, live_matches=6, prematch_matches=0, races=0), START)
    messages = _run(sim, timedelta(minutes=10))
    moves = 0
    for event in {m.event for m in messages if m.event}:
        live = [
            m
            for m in _event_messages(messages, event)
            if isinstance(m, OddsChange) and m.state is not None and m.state.phase is EventPhase.LIVE
        ]
        for before, after in itertools.pairwise(live):
            assert before.state is not None
            assert after.state is not None
            home = (after.state.home_score or 0) - (before.state.home_score or 0)
            away = (after.state.away_score or 0) - (before.state.away_score or 0)
            if (home, away) == (0, 0):
                continue
            p_before = _probabilities(_market(before.markets, MarketRef(1)))
            p_after = _probabilities(_market(after.markets, MarketRef(1)))
            if home > 0 and away == 0:
                assert p_after["1"] > p_before["1"]
                assert p_after["3"] < p_before["3"]
            elif away > 0 and home == 0:
                assert p_after["3"] > p_before["3"]
                assert p_after["1"] < p_before["1"]
            moves += 1
    assert moves >= 5


def test_live_matches_start_in_play_with_the_goals_of_the_minutes_played() -> None:
    config = SimulatorConfig(seed=2, live_matches=8, prematch_matches=0, races=0)
    sim = Simulator(config, START)
    first = sim.advance(START)
    fixtures = [m for m in first if isinstance(m, FixtureChange)]
    odds = [m for m in first if isinstance(m, OddsChange)]
    assert len(fixtures) == len(odds) == 8
    for fixture, change in zip(fixtures, odds, strict=True):
        assert fixture.producer == change.producer == LIVE
        assert fixture.fixture is not None
        assert fixture.fixture.start_time < START
        assert change.state is not None
        assert change.state.phase is EventPhase.LIVE
        assert change.event is not None
        assert 5 <= sim.match_minute(change.event, START) <= 80
    assert any(m.state is not None and (m.state.home_score or m.state.away_score) for m in odds)


def test_a_race_goes_from_declaration_to_result() -> None:
    config = SimulatorConfig(seed=4, live_matches=0, prematch_matches=0, races=12, non_runner_probability=0.3)
    messages = Simulator(config, START).advance(START + timedelta(minutes=6))
    races = list(dict.fromkeys(m.event for m in messages if m.event and m.event.startswith("sr:stage:")))
    assert len(races) >= 12
    settled = non_runners_seen = 0
    sizes = set()
    for event in races:
        stream = _event_messages(messages, event)
        fixture = stream[0]
        assert isinstance(fixture, FixtureChange)
        assert fixture.fixture is not None
        assert fixture.fixture.sport == "horse_racing"
        assert fixture.fixture.runners is not None
        runners = fixture.fixture.runners
        assert len(set(runners)) == len(runners)
        sizes.add(len(runners))
        ref = MarketRef(RACE_WINNER_MARKET, each_way_specifiers(len(runners)))
        off = fixture.fixture.start_time
        withdrawn: set[str] = set()
        for message in stream[1:]:
            assert message.producer == PREMATCH
            if isinstance(message, OddsChange) and message.timestamp < off:
                (market,) = message.markets
                assert market.market == ref
                assert [o.outcome_id for o in market.outcomes] == list(runners)
                inactive = {o.outcome_id for o in market.outcomes if not o.active}
                assert withdrawn <= inactive  # a non-runner never comes back
                withdrawn = inactive
                _assert_book(market, DEFAULT_POLICY.margin_for("horse_racing", MarketType.WINNER))
        non_runners_seen += len(withdrawn)
        if off > START + timedelta(minutes=6):
            continue  # a replacement, not off yet
        stop = next(m for m in stream if isinstance(m, BetStop))
        assert stop.timestamp == off
        assert stop.markets == ()
        settlement = next((m for m in stream if isinstance(m, BetSettlement)), None)
        if settlement is None:
            continue
        settled += 1
        (result,) = settlement.markets
        assert result.market == ref
        kinds = Counter(o.result for o in result.outcomes if o.void_factor == 0)
        places = int(dict(ref.specifiers).get("ew_places", "1"))
        assert kinds[OutcomeResultKind.WON] == 1
        assert kinds[OutcomeResultKind.PLACED] == places - 1
        void = {o.outcome_id for o in result.outcomes if o.void_factor == 1}
        assert void == withdrawn
        assert all(o.result is OutcomeResultKind.LOST for o in result.outcomes if o.outcome_id in void)
    assert settled >= 10
    assert non_runners_seen >= 3
    assert min(sizes) < 5 <= max(sizes)
    assert max(sizes) >= 8


def test_each_producer_is_alive_every_interval() -> None:
    config = replace(SMALL, alive_interval=timedelta(seconds=10))
    alive = [m for m in _run(Simulator(config, START), timedelta(minutes=1)) if isinstance(m, Alive)]
    for producer in (LIVE, PREMATCH):
        times = [m.timestamp for m in alive if m.producer == producer]
        assert times == [START + timedelta(seconds=10 * i) for i in range(7)]


def test_a_finished_event_is_replaced_or_not() -> None:
    config = SimulatorConfig(seed=9, live_matches=1, prematch_matches=0, races=1, race_lead=timedelta(minutes=1))
    replaced = _run(Simulator(config, START), timedelta(minutes=30), timedelta(seconds=10))
    fixtures = [m for m in replaced if isinstance(m, FixtureChange)]
    assert len(fixtures) > 4
    assert len({m.event for m in fixtures}) == len(fixtures)
    alone = _run(
        Simulator(replace(config, replace_finished=False), START), timedelta(minutes=30), timedelta(seconds=10)
    )
    assert len([m for m in alone if isinstance(m, FixtureChange)]) == 2
    assert all(isinstance(m, Alive) for m in alone if m.timestamp > START + timedelta(minutes=15))


# ---- recovery ----


def test_a_snapshot_is_every_open_event_of_the_producer_then_complete() -> None:
    sim = Simulator(SMALL, START)
    messages = sim.advance(START + timedelta(seconds=30))
    now = START + timedelta(seconds=30, microseconds=1500)
    live = sim.snapshot(LIVE, 42, now)
    stamp = START + timedelta(seconds=30, milliseconds=1)
    assert live[-1] == SnapshotComplete(producer=LIVE, timestamp=stamp, request_id=42)
    assert all(m.timestamp == stamp and m.producer == LIVE for m in live)
    pairs = list(zip(live[:-1:2], live[1:-1:2], strict=True))
    assert len(pairs) == 2  # the two matches in play
    for fixture, odds in pairs:
        assert isinstance(fixture, FixtureChange)
        assert fixture.fixture is not None
        assert isinstance(odds, OddsChange)
        assert odds.event == fixture.event
        assert odds.state is not None
        assert odds.state.phase is EventPhase.LIVE
    prematch = sim.snapshot(PREMATCH, 43, now)
    events = {m.event for m in prematch if isinstance(m, FixtureChange)}
    assert len(events) == 4  # two matches before kick-off, two races
    announced = {m.event for m in messages if isinstance(m, FixtureChange) and m.producer == PREMATCH}
    assert events == announced
    # the snapshot's odds are the state's, and sending one changes nothing that follows
    other = Simulator(SMALL, START)
    other.advance(START + timedelta(seconds=30))
    assert sim.advance(START + timedelta(minutes=5)) == other.advance(START + timedelta(minutes=5))


def test_a_snapshot_during_a_goal_pause_keeps_the_markets_suspended() -> None:
    sim = Simulator(SimulatorConfig(seed=5, live_matches=6, prematch_matches=0, races=0), START)
    at = START
    while at < START + timedelta(minutes=10):
        at += timedelta(milliseconds=500)
        stops = [m for m in sim.advance(at) if isinstance(m, BetStop)]
        if stops:
            break
    assert stops
    snapshot = sim.snapshot(LIVE, 1, at)
    odds = next(m for m in snapshot if isinstance(m, OddsChange) and m.event == stops[0].event)
    assert {m.status for m in odds.markets} == {FeedMarketStatus.SUSPENDED}


def test_a_snapshot_is_refused_for_an_unknown_producer_or_an_earlier_time() -> None:
    sim = Simulator(SMALL, START)
    sim.advance(START + timedelta(seconds=10))
    with pytest.raises(ValueError, match="producer"):
        sim.snapshot("ctrl", 1, START + timedelta(seconds=10))
    with pytest.raises(ValueError, match="older"):
        sim.snapshot(LIVE, 1, START + timedelta(seconds=9))


# ---- UOF ----


def test_every_message_uof_can_carry_encodes_and_decodes_back() -> None:
    sim = Simulator(replace(SMALL, races=3), START)
    messages = _run(sim, timedelta(minutes=12), timedelta(seconds=3))
    messages += sim.snapshot(LIVE, 1, sim.start + timedelta(minutes=12))
    refused = 0
    for message in messages:
        placed = isinstance(message, BetSettlement) and any(
            o.result is OutcomeResultKind.PLACED for m in message.markets for o in m.outcomes
        )
        if placed:
            with pytest.raises(ValueError, match="placed"):
                encode(message)
            refused += 1
            continue
        expected = replace(message, fixture=None) if isinstance(message, FixtureChange) else message
        assert decode(encode(message)) == expected
    assert refused >= 1
    football_settlements = [m for m in messages if isinstance(m, BetSettlement) and m.producer == LIVE]
    assert football_settlements
    assert all(map_market(m.market) is not None for s in football_settlements for m in s.markets[:-1])


def test_the_start_is_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Simulator(SMALL, datetime(2026, 1, 1))

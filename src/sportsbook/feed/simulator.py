"""The odds feed simulator: a feed of its own, for the demo and the tests, that plays football matches and horse
races and sends what a real provider sends (`feed.model`). Pure: no I/O, no wall clock (every call is given the
time), no global random state.

- **Football, in play.** Each side's goals follow the Poisson goal model of `pricing.football`: a constant rate of
  its expected goals per 90 minutes, so the time to the next goal is exponential. Goals are drawn that way, event by
  event, which is exact and does not depend on how often `advance` is called. A goal stops betting (`BetStop`)
  and the markets come back repriced (`OddsChange` with the new score) `goal_pause` later; the markets are also
  repriced every `update_interval`. Match time runs `match_seconds_per_second` times faster than the feed's time.
  At full time: `BetStop`, `OddsChange` with the event ended, then after `settlement_delay` a `BetSettlement` of
  every market from the final score (UOF's way: a push is result lost with void factor 1, a half win result won
  with void factor 0.5, a half loss result lost with void factor 0.5) and an `OddsChange` with the event closed.
- **Football, pre-match.** A fixture is announced (`FixtureChange` with its `Fixture`) and priced by the
  `prematch` producer, its expected goals drifting a little at each update, until kick-off; there the pre-match
  markets are handed over (`HANDED_OVER`) and the `live` producer takes them.
- **Horse races** (`prematch` producer): a win market, each way as bookmakers offer it by field size, priced from
  the runners' strengths (win probabilities proportional to them, a Plackett-Luce model) which drift before the
  off. A runner may be withdrawn (a non-runner: its outcome goes inactive and the rest reprice). At the off,
  `BetStop`; after the race, the finishing order is drawn by Plackett-Luce and settled: the winner won, the other
  runners within the each-way places placed, the rest lost, non-runners lost with void factor 1.
- **Prices.** Every active outcome carries its ladder price, with the margin of the `PricingPolicy`, and its fair
  probability (rounded to 6 places), from which the platform can price with a margin of its own.
- **Producers.** Each sends `Alive` every `alive_interval`; `snapshot` answers a recovery.
- **Determinism.** Each event draws from its own `random.Random`, seeded from the simulator's seed and the event's
  serial number, and the simulator's own work is ordered by time, then by when it was scheduled: one seed and start
  give one stream of messages, however `advance` is called.
- **Ids.** Events are `sr:match:<n>` (football) and `sr:stage:<n>` (races), numbers of the simulator's own (not
  Sportradar's), drawn from the seed and the start time so a restarted simulator does not reuse its ids. Market
  90001 (correct score) and 90002 (race winner) are the simulator's own too (`SIMULATOR_MARKETS`); the others are
  UOF's (`UOF_MARKETS`), so football's messages are UOF's and can be written as UOF's XML (`uof.encode`).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from types import MappingProxyType

from sportsbook.core.markets import MarketType
from sportsbook.feed.model import (
    Alive,
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
    SnapshotComplete,
    Specifiers,
)
from sportsbook.feed.uof import UOF_MARKETS, MarketMapping
from sportsbook.pricing import football
from sportsbook.pricing.football import FULL_TIME, FootballModel, FootballState
from sportsbook.pricing.model import PricingPolicy, apply_margin

__all__ = [
    "CORRECT_SCORES",
    "CORRECT_SCORE_MARKET",
    "DEFAULT_POLICY",
    "FOOTBALL_MARKETS",
    "HANDICAP_LINES",
    "LIVE",
    "PREMATCH",
    "RACE_WINNER_MARKET",
    "SIMULATOR_MARKETS",
    "TOTAL_LINES",
    "Simulator",
    "SimulatorConfig",
    "each_way_specifiers",
    "finishing_order",
    "football_markets",
    "football_results",
    "race_market",
    "race_results",
    "win_probabilities",
]

LIVE = "live"
PREMATCH = "prematch"
FOOTBALL = "football"
HORSE_RACING = "horse_racing"

ONE_X_TWO_MARKET = 1
HANDICAP_MARKET = 16
TOTAL_MARKET = 18
BTTS_MARKET = 29
CORRECT_SCORE_MARKET = 90001
RACE_WINNER_MARKET = 90002

SIMULATOR_MARKETS: Mapping[int, MarketMapping] = MappingProxyType(
    {
        **UOF_MARKETS,
        CORRECT_SCORE_MARKET: MarketMapping(MarketType.CORRECT_SCORE, None),
        RACE_WINNER_MARKET: MarketMapping(MarketType.WINNER, None, each_way=True),
    }
)
"""The markets the simulator sends: UOF's, and two of its own that UOF numbers otherwise: 90001, the correct score
(outcome ids are the scores, "2:1"), and 90002, a race's winner (outcome ids are the runners' names; each-way terms
in the specifiers `ew_fraction` and `ew_places`)."""

TOTAL_LINES: tuple[str, ...] = ("1.5", "2.5", "3.5")
HANDICAP_LINES: tuple[str, ...] = ("-1.5", "-1", "-0.75", "-0.5", "-0.25", "0", "0.25", "0.5", "0.75", "1", "1.5")
"""The home side's lines: half, whole and quarter lines."""
CORRECT_SCORES: tuple[str, ...] = tuple(f"{h}:{a}" for h in range(5) for a in range(5))
"""The scores offered: any other score is priced in the book (as `pricing.football.correct_score` does) but not
offered, since the catalogue takes scores only."""

DEFAULT_POLICY = PricingPolicy(
    Decimal("0.05"),
    {(FOOTBALL, MarketType.CORRECT_SCORE): Decimal("0.15"), (HORSE_RACING, MarketType.WINNER): Decimal("0.15")},
)
"""5% on football's main markets; 15% on correct scores and race winners, whose risk is higher."""

_PROBABILITY_PLACES = Decimal("0.000001")
_MILLISECOND = timedelta(milliseconds=1)
_SECOND = timedelta(seconds=1)
_ONE = Decimal(1)
_HALF = Decimal("0.5")
_QUARTER = Decimal("0.25")


# ---- configuration ----


@dataclass(frozen=True)
class SimulatorConfig:
    """What the simulator plays and how fast.

    `live_matches` are in play from the start (at a random minute, with the score drawn for the minutes played);
    `prematch_matches` kick off in turn within `prematch_lead`; `races` go off in turn within `race_lead`. When an
    event is settled, `replace_finished` announces a new one of its kind in its place (a match kicking off
    `prematch_lead` later, a race going off `race_lead` later), so the demo keeps running."""

    seed: int = 1
    live_matches: int = 3
    prematch_matches: int = 3
    races: int = 2
    update_interval: timedelta = timedelta(seconds=5)
    alive_interval: timedelta = timedelta(seconds=10)
    match_seconds_per_second: float = 9.0  # a 90-minute match in 10 minutes
    goal_pause: timedelta = timedelta(seconds=5)
    settlement_delay: timedelta = timedelta(seconds=10)
    prematch_lead: timedelta = timedelta(minutes=5)
    race_lead: timedelta = timedelta(minutes=3)
    race_duration: timedelta = timedelta(seconds=60)
    race_runners: tuple[int, int] = (4, 12)  # the smallest and the largest field
    non_runner_probability: float = 0.05  # of each declared runner
    replace_finished: bool = True
    policy: PricingPolicy = DEFAULT_POLICY

    def __post_init__(self) -> None:
        if min(self.live_matches, self.prematch_matches, self.races) < 0:
            raise ValueError("the numbers of matches and races cannot be negative")
        for name in ("update_interval", "alive_interval", "prematch_lead", "race_lead", "race_duration"):
            value: timedelta = getattr(self, name)
            if value < _MILLISECOND:
                raise ValueError(f"{name} must be at least a millisecond")
        for name in ("goal_pause", "settlement_delay"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} cannot be negative")
        if not (math.isfinite(self.match_seconds_per_second) and self.match_seconds_per_second > 0):
            raise ValueError("match_seconds_per_second must be a positive number")
        low, high = self.race_runners
        if not 2 <= low <= high <= 40:
            raise ValueError("race_runners is a range of field sizes from 2 to 40")
        if not 0 <= self.non_runner_probability <= 1:
            raise ValueError("non_runner_probability is from 0 to 1")


# ---- football: prices and results ----


def _probability(p: float) -> Decimal:
    return Decimal(p).quantize(_PROBABILITY_PLACES)


def _book(
    ref: MarketRef,
    fair: Mapping[str, float],
    margin: Decimal,
    policy: PricingPolicy,
    *,
    inactive: frozenset[str] = frozenset(),
    hidden: frozenset[str] = frozenset(),
) -> MarketOdds:
    """An active market priced from its whole book of fair probabilities: `inactive` outcomes are sent without a
    price, `hidden` ones priced in the book but not sent."""
    names = list(fair)
    prices = apply_margin([fair[n] for n in names], margin, min_odds=policy.min_odds, max_odds=policy.max_odds)
    outcomes = tuple(
        OutcomeOdds(name, None, False) if name in inactive else OutcomeOdds(name, price, True, _probability(fair[name]))
        for name, price in zip(names, prices, strict=True)
        if name not in hidden
    )
    return MarketOdds(ref, FeedMarketStatus.ACTIVE, outcomes)


def _by_uof_id(market_id: int, fair: Mapping[str, float]) -> dict[str, float]:
    """Fair probabilities keyed by the feed's outcome ids rather than our outcome names."""
    outcomes = SIMULATOR_MARKETS[market_id].outcomes
    assert outcomes is not None
    return {uof_id: fair[ours] for uof_id, ours in outcomes.items()}


def _football_refs() -> tuple[MarketRef, ...]:
    return (
        MarketRef(ONE_X_TWO_MARKET),
        *(MarketRef(TOTAL_MARKET, (("total", line),)) for line in TOTAL_LINES),
        *(MarketRef(HANDICAP_MARKET, (("hcp", line),)) for line in HANDICAP_LINES),
        MarketRef(BTTS_MARKET),
        MarketRef(CORRECT_SCORE_MARKET),
    )


FOOTBALL_MARKETS: tuple[MarketRef, ...] = _football_refs()
"""Every market of a simulated match, in the order sent: 1x2, totals, handicaps, btts, correct score."""


def football_markets(model: FootballModel, state: FootballState, policy: PricingPolicy) -> tuple[MarketOdds, ...]:
    """Every market of a match at `state`, priced from one score matrix of the goal model (`pricing.football`).

    A market already decided (a total line passed, both teams scored) is `DEACTIVATED`, with no outcome; a score
    the match can no longer end with is an inactive outcome of the correct score."""
    matrix = football.score_matrix(model, state)
    home, away = state.home_goals, state.away_goals

    def margin(kind: MarketType) -> Decimal:
        return policy.margin_for(FOOTBALL, kind)

    def deactivated(ref: MarketRef) -> MarketOdds:
        return MarketOdds(ref, FeedMarketStatus.DEACTIVATED)

    markets: list[MarketOdds] = []
    for ref in FOOTBALL_MARKETS:
        spec = dict(ref.specifiers)
        match ref.market_id:
            case 1:
                fair = _by_uof_id(ref.market_id, football.one_x_two(matrix))
                markets.append(_book(ref, fair, margin(MarketType.ONE_X_TWO), policy))
            case 18:
                line = Decimal(spec["total"])
                if home + away > line:
                    markets.append(deactivated(ref))
                else:
                    fair = _by_uof_id(ref.market_id, football.total(matrix, line))
                    markets.append(_book(ref, fair, margin(MarketType.TOTAL), policy))
            case 16:
                fair = _by_uof_id(ref.market_id, football.asian_handicap(matrix, Decimal(spec["hcp"])))
                markets.append(_book(ref, fair, margin(MarketType.ASIAN_HANDICAP), policy))
            case 29:
                if home > 0 and away > 0:
                    markets.append(deactivated(ref))
                else:
                    fair = _by_uof_id(ref.market_id, football.btts(matrix))
                    markets.append(_book(ref, fair, margin(MarketType.BTTS), policy))
            case _:
                gone = frozenset(s for s in CORRECT_SCORES if _score(s)[0] < home or _score(s)[1] < away)
                if len(gone) == len(CORRECT_SCORES):
                    markets.append(deactivated(ref))
                else:
                    fair = football.correct_score(matrix, CORRECT_SCORES)
                    kind = MarketType.CORRECT_SCORE
                    markets.append(_book(ref, fair, margin(kind), policy, inactive=gone, hidden=frozenset({"other"})))
    return tuple(markets)


def _score(text: str) -> tuple[int, int]:
    home, away = text.split(":")
    return int(home), int(away)


def _line_result(outcome_id: str, margin: int, line: Decimal) -> OutcomeResult:
    """One side of a line as UOF settles it: the side wins a (part of the) line when `margin` + that line is above
    0, pushes when it is 0. A quarter line is half the stake on each line beside it; a push makes its part of the
    stake void (UOF: a push is lost with void factor 1, a half win won with 0.5, a half loss lost with 0.5)."""
    quarter = abs(line / _QUARTER) % 2 == 1
    parts = (line - _QUARTER, line + _QUARTER) if quarter else (line,)
    weight = _ONE / len(parts)
    won = void = Decimal(0)
    for part in parts:
        if margin + part > 0:
            won += weight
        elif margin + part == 0:
            void += weight
    return OutcomeResult(outcome_id, OutcomeResultKind.WON if won > 0 else OutcomeResultKind.LOST, void)


def _won_if(outcome_id: str, won: bool) -> OutcomeResult:
    return OutcomeResult(outcome_id, OutcomeResultKind.WON if won else OutcomeResultKind.LOST)


def football_results(home: int, away: int) -> tuple[MarketResult, ...]:
    """The settlement of every market of a match that ended `home`:`away`."""
    goals, lead = home + away, home - away
    results: list[MarketResult] = []
    for ref in FOOTBALL_MARKETS:
        spec = dict(ref.specifiers)
        outcomes: tuple[OutcomeResult, ...]
        match ref.market_id:
            case 1:
                outcomes = (_won_if("1", home > away), _won_if("2", home == away), _won_if("3", home < away))
            case 18:
                line = Decimal(spec["total"])
                # over wins when goals - line > 0, under when line - goals > 0
                outcomes = (_line_result("12", goals, -line), _line_result("13", -goals, line))
            case 16:
                hcp = Decimal(spec["hcp"])  # the home side's line; away takes the opposite one
                outcomes = (_line_result("1714", lead, hcp), _line_result("1715", -lead, -hcp))
            case 29:
                both = home > 0 and away > 0
                outcomes = (_won_if("74", both), _won_if("76", not both))
            case _:
                outcomes = tuple(_won_if(s, _score(s) == (home, away)) for s in CORRECT_SCORES)
        results.append(MarketResult(ref, outcomes))
    return tuple(results)


# ---- races: prices and results ----


def each_way_specifiers(runners: int) -> Specifiers:
    """Each-way terms by field size, as bookmakers offer them: fewer than 5 runners win only (no terms), 5 to 7
    a quarter of the odds for 2 places, 8 or more a fifth for 3 places."""
    if runners < 5:
        return ()
    if runners < 8:
        return (("ew_fraction", "1/4"), ("ew_places", "2"))
    return (("ew_fraction", "1/5"), ("ew_places", "3"))


def win_probabilities(strengths: Sequence[float]) -> list[float]:
    """Each runner's chance of winning: its share of the field's strength (Plackett-Luce's first place)."""
    whole = math.fsum(strengths)
    if not (whole > 0 and all(s >= 0 and math.isfinite(s) for s in strengths)):
        raise ValueError("strengths are finite, not negative, and not all 0")
    return [s / whole for s in strengths]


def finishing_order(rng: random.Random, strengths: Sequence[float]) -> list[int]:
    """A finishing order (indexes into `strengths`) drawn by Plackett-Luce: each place goes to one of the runners
    left with a chance in proportion to its strength."""
    left = list(range(len(strengths)))
    order: list[int] = []
    while left:
        pick = rng.random() * math.fsum(strengths[i] for i in left)
        chosen = len(left) - 1  # float rounding can leave `pick` past the last runner's share
        acc = 0.0
        for position, index in enumerate(left):
            acc += strengths[index]
            if pick < acc:
                chosen = position
                break
        order.append(left.pop(chosen))
    return order


def race_market(
    ref: MarketRef,
    runners: Sequence[str],
    strengths: Sequence[float],
    non_runners: frozenset[str],
    policy: PricingPolicy,
) -> MarketOdds:
    """A race's win market: the runners priced from their strengths, non-runners inactive."""
    running = [(r, s) for r, s in zip(runners, strengths, strict=True) if r not in non_runners]
    fair = dict(zip((r for r, _ in running), win_probabilities([s for _, s in running]), strict=True))
    fair.update((r, 0.0) for r in runners if r in non_runners)
    ordered = {r: fair[r] for r in runners}
    return _book(ref, ordered, policy.margin_for(HORSE_RACING, MarketType.WINNER), policy, inactive=non_runners)


def race_results(
    ref: MarketRef, runners: Sequence[str], order: Sequence[str], non_runners: frozenset[str]
) -> MarketResult:
    """A race settled from its finishing order (of the runners that ran): the winner won, the next within the
    market's each-way places placed, the rest lost; non-runners lost with their stakes void."""
    places = int(dict(ref.specifiers).get("ew_places", "1"))
    position = {runner: i for i, runner in enumerate(order)}
    outcomes = []
    for runner in runners:
        if runner in non_runners:
            outcomes.append(OutcomeResult(runner, OutcomeResultKind.LOST, _ONE))
        elif position[runner] == 0:
            outcomes.append(OutcomeResult(runner, OutcomeResultKind.WON))
        elif position[runner] < places:
            outcomes.append(OutcomeResult(runner, OutcomeResultKind.PLACED))
        else:
            outcomes.append(OutcomeResult(runner, OutcomeResultKind.LOST))
    return MarketResult(ref, tuple(outcomes))


# ---- names ----

_TEAMS = (
    "Ashford Rovers", "Bramley Town", "Castleton United", "Dunmore Athletic", "Eastbrook City", "Fairhaven FC",
    "Glenmoor Wanderers", "Harrowgate Albion", "Ironbridge County", "Kingsway Rangers", "Larkhill Borough",
    "Millbrook Villa", "Northcliffe Orient", "Oakridge Athletic", "Portwell United", "Queensferry Town",
    "Redcastle City", "Stonehaven Rovers", "Thornbury Wanderers", "Westmere Albion",
)  # fmt: skip
_COMPETITIONS = ("Simulator League", "Simulator Cup")
_VENUES = ("Ashcombe Park", "Bellmoor", "Castlerigg Downs", "Fenwick Vale", "Highcroft", "Larkspur Heath")
_ADJECTIVES = (
    "Silver", "Golden", "Midnight", "Royal", "Wild", "Lucky", "Northern", "Crimson", "Quiet", "Brave", "Distant",
    "Amber",
)  # fmt: skip
_NOUNS = (
    "Arrow", "Storm", "Echo", "Legend", "Dancer", "Spirit", "Harbour", "Comet", "Falcon", "Melody", "Whisper",
    "Ember",
)  # fmt: skip


# ---- the simulator ----


def _floor_ms(at: datetime) -> datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def _ms(delta: timedelta) -> timedelta:
    return delta // _MILLISECOND * _MILLISECOND


@dataclass(eq=False)
class _Match:
    serial: int
    event: str
    rng: random.Random
    fixture: Fixture
    model: FootballModel
    kickoff: datetime
    full_time: datetime
    home_goals: int = 0
    away_goals: int = 0
    started: bool = False
    stopped: bool = False  # betting stopped after a goal, until `resume_at`
    resume_at: datetime | None = None
    ended: bool = False
    closed: bool = False
    goal_minute: float | None = None  # the exact minute of the next goal


@dataclass(eq=False)
class _Race:
    serial: int
    event: str
    rng: random.Random
    fixture: Fixture
    runners: tuple[str, ...]
    ratings: list[float]
    ref: MarketRef
    off: datetime
    withdrawals: dict[str, datetime]
    non_runners: set[str] = field(default_factory=set)
    running: bool = False
    ended: bool = False
    closed: bool = False
    order: tuple[str, ...] = ()

    def strengths(self) -> list[float]:
        return [math.exp(r) for r in self.ratings]


Action = Callable[[datetime], list[FeedMessage]]


class Simulator:
    """Plays the configured matches and races from `start`, pure and deterministic: `advance(now)` returns every
    message due up to `now`, in time order, each stamped with the time it was due; `snapshot` answers a
    recovery."""

    def __init__(self, config: SimulatorConfig, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulator's start is timezone-aware")
        self.config = config
        self.start = _floor_ms(start.astimezone(UTC))
        self._now = self.start
        self._queue: list[tuple[datetime, int, Action]] = []
        self._order = count()
        self._serials = count()
        self._id_base = random.Random(f"{config.seed}/ids/{self.start.isoformat()}").randrange(10**8, 9 * 10**8)
        self._events: dict[str, _Match | _Race] = {}  # the events not closed yet, in the order announced
        self._speed = config.match_seconds_per_second
        for producer in (LIVE, PREMATCH):
            self._at(self.start, self._alive(producer))
        for i in range(config.live_matches):
            self._at(self.start, self._announce_match(live_slot=i))
        for i in range(config.prematch_matches):
            kickoff = self.start + _ms(config.prematch_lead * (i + 1) / config.prematch_matches)
            self._at(self.start, self._announce_match(kickoff=kickoff))
        for i in range(config.races):
            self._at(self.start, self._announce_race(self.start + _ms(config.race_lead * (i + 1) / config.races)))

    # ---- the public surface ----

    def advance(self, now: datetime) -> list[FeedMessage]:
        """Every message due up to `now` (inclusive), in time order."""
        if now.tzinfo is None:
            raise ValueError("the simulator's time is timezone-aware")
        messages: list[FeedMessage] = []
        while self._queue and self._queue[0][0] <= now:
            due, _, action = heapq.heappop(self._queue)
            messages.extend(action(due))
        self._now = max(self._now, now)
        return messages

    def snapshot(self, producer: str, request_id: int, now: datetime) -> list[FeedMessage]:
        """A recovery's answer: each of the producer's open events, its fixture (`FixtureChange`) then its current
        odds (`OddsChange`), and `SnapshotComplete(request_id)`, all stamped `now` (to the millisecond). It tells
        the state as advanced to: call `advance(now)` first."""
        if producer not in (LIVE, PREMATCH):
            raise ValueError(f"the simulator has no producer {producer!r}")
        if now.tzinfo is None:
            raise ValueError("the simulator's time is timezone-aware")
        if now < self._now:
            raise ValueError("a snapshot cannot be older than the time the simulator was advanced to")
        at = _floor_ms(now)
        messages: list[FeedMessage] = []
        for sim_event in self._events.values():
            if self._producer_of(sim_event) != producer:
                continue
            messages.append(self._fixture_change(sim_event, producer, at))
            messages.append(self._current_odds(sim_event, at))
        messages.append(SnapshotComplete(producer=producer, timestamp=at, request_id=request_id))
        return messages

    def football_model(self, event: str) -> FootballModel:
        """The goal model an open match is priced with now (it drifts before kick-off, and is fixed after)."""
        sim_event = self._events[event]
        if not isinstance(sim_event, _Match):
            raise KeyError(event)
        return sim_event.model

    def match_minute(self, event: str, at: datetime) -> float:
        """The match minute of an open match at feed time `at` (negative before kick-off)."""
        sim_event = self._events[event]
        if not isinstance(sim_event, _Match):
            raise KeyError(event)
        return self._minute(sim_event, at)

    # ---- scheduling ----

    def _at(self, due: datetime, action: Action) -> None:
        heapq.heappush(self._queue, (due, next(self._order), action))

    def _alive(self, producer: str) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            self._at(at + _ms(self.config.alive_interval), act)
            return [Alive(producer=producer, timestamp=at)]

        return act

    def _new_rng(self) -> tuple[int, random.Random]:
        serial = next(self._serials)
        return serial, random.Random(f"{self.config.seed}/event/{serial}")

    # ---- football ----

    def _minute(self, match: _Match, at: datetime) -> float:
        return (at - match.kickoff) / _SECOND * self._speed / 60

    def _time_of(self, match: _Match, minute: float) -> datetime:
        return match.kickoff + _ms(timedelta(seconds=minute * 60 / self._speed))

    def _draw_goal(self, match: _Match, after: float) -> float | None:
        """The minute of the next goal after minute `after` (None: none before full time)."""
        rate = (match.model.home_xg + match.model.away_xg) / FULL_TIME
        minute = after + match.rng.expovariate(rate)
        return minute if minute < FULL_TIME else None

    def _home_scores(self, match: _Match) -> bool:
        model = match.model
        return match.rng.random() < model.home_xg / (model.home_xg + model.away_xg)

    def _announce_match(self, *, live_slot: int | None = None, kickoff: datetime | None = None) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            serial, rng = self._new_rng()
            home, away = rng.sample(_TEAMS, 2)
            model = FootballModel(round(rng.uniform(0.9, 2.2), 2), round(rng.uniform(0.6, 1.8), 2))
            played = rng.uniform(5.0, 80.0) if live_slot is not None else 0.0
            start = kickoff if kickoff is not None else at - _ms(timedelta(seconds=played * 60 / self._speed))
            fixture = Fixture(
                FOOTBALL, f"{home} v {away}", start, competitors=(home, away), competition=rng.choice(_COMPETITIONS)
            )
            full_time = start + _ms(timedelta(seconds=FULL_TIME * 60 / self._speed))
            match = _Match(serial, f"sr:match:{self._id_base + serial}", rng, fixture, model, start, full_time)
            self._events[match.event] = match
            if start > at:
                self._schedule_prematch(match, at)
                self._at(start, self._kickoff(match))
                return [
                    self._fixture_change(match, PREMATCH, at),
                    self._prematch_odds(match, at),
                ]
            # already in play: the goals of the minutes played, then on as from kick-off
            match.started = True
            now_minute = self._minute(match, at)
            goal = self._draw_goal(match, 0.0)
            while goal is not None and goal <= now_minute:
                if self._home_scores(match):
                    match.home_goals += 1
                else:
                    match.away_goals += 1
                goal = self._draw_goal(match, goal)
            self._schedule_live(match, at, goal)
            return [self._fixture_change(match, LIVE, at), self._live_odds(match, at)]

        return act

    def _schedule_prematch(self, match: _Match, at: datetime) -> None:
        following = at + _ms(self.config.update_interval)
        if following < match.kickoff:
            self._at(following, self._prematch_update(match))

    def _prematch_update(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            rng, model = match.rng, match.model

            def drift(xg: float) -> float:
                return min(max(xg * math.exp(rng.gauss(0.0, 0.02)), 0.2), 4.0)

            match.model = FootballModel(drift(model.home_xg), drift(model.away_xg))
            self._schedule_prematch(match, at)
            return [self._prematch_odds(match, at)]

        return act

    def _kickoff(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            match.started = True
            self._schedule_live(match, at, self._draw_goal(match, 0.0))
            handed_over = tuple(MarketOdds(ref, FeedMarketStatus.HANDED_OVER) for ref in FOOTBALL_MARKETS)
            return [
                OddsChange(producer=PREMATCH, timestamp=at, event=match.event, markets=handed_over),
                self._live_odds(match, at),
            ]

        return act

    def _schedule_live(self, match: _Match, at: datetime, goal: float | None) -> None:
        self._at(match.full_time, self._full_time(match))
        following = at + _ms(self.config.update_interval)
        if following < match.full_time:
            self._at(following, self._live_update(match))
        self._schedule_goal(match, goal)

    def _schedule_goal(self, match: _Match, minute: float | None) -> None:
        match.goal_minute = minute
        if minute is None:
            return
        due = self._time_of(match, minute)
        if due < match.full_time:
            self._at(due, self._goal(match))

    def _live_update(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            if match.ended:
                return []
            following = at + _ms(self.config.update_interval)
            if following < match.full_time:
                self._at(following, act)
            return [] if match.stopped else [self._live_odds(match, at)]

        return act

    def _goal(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            if match.ended:
                return []
            if self._home_scores(match):
                match.home_goals += 1
            else:
                match.away_goals += 1
            match.stopped = True
            match.resume_at = at + _ms(self.config.goal_pause)
            if match.resume_at < match.full_time:
                self._at(match.resume_at, self._resume(match))
            assert match.goal_minute is not None
            self._schedule_goal(match, self._draw_goal(match, match.goal_minute))
            return [BetStop(producer=LIVE, timestamp=at, event=match.event)]

        return act

    def _resume(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            if match.ended or match.resume_at != at:
                return []  # the match ended, or another goal moved the resumption on
            match.stopped = False
            return [self._live_odds(match, at)]

        return act

    def _full_time(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            match.ended = True
            self._at(at + _ms(self.config.settlement_delay), self._settle_match(match))
            return [
                BetStop(producer=LIVE, timestamp=at, event=match.event),
                self._ended_odds(match, at),
            ]

        return act

    def _settle_match(self, match: _Match) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            match.closed = True
            del self._events[match.event]
            if self.config.replace_finished:
                self._at(at, self._announce_match(kickoff=at + _ms(self.config.prematch_lead)))
            settled = tuple(MarketOdds(ref, FeedMarketStatus.SETTLED) for ref in FOOTBALL_MARKETS)
            return [
                BetSettlement(
                    producer=LIVE,
                    timestamp=at,
                    event=match.event,
                    markets=football_results(match.home_goals, match.away_goals),
                ),
                OddsChange(
                    producer=LIVE,
                    timestamp=at,
                    event=match.event,
                    markets=settled,
                    state=EventState(EventPhase.CLOSED, match.home_goals, match.away_goals),
                ),
            ]

        return act

    def _prematch_odds(self, match: _Match, at: datetime) -> OddsChange:
        markets = football_markets(match.model, FootballState(0.0, 0, 0), self.config.policy)
        return OddsChange(
            producer=PREMATCH,
            timestamp=at,
            event=match.event,
            markets=markets,
            state=EventState(EventPhase.NOT_STARTED),
        )

    def _live_odds(self, match: _Match, at: datetime) -> OddsChange:
        state = FootballState(self._minute(match, at), match.home_goals, match.away_goals)
        return OddsChange(
            producer=LIVE,
            timestamp=at,
            event=match.event,
            markets=football_markets(match.model, state, self.config.policy),
            state=EventState(EventPhase.LIVE, match.home_goals, match.away_goals),
        )

    def _ended_odds(self, match: _Match, at: datetime) -> OddsChange:
        state = EventState(EventPhase.ENDED, match.home_goals, match.away_goals)
        return OddsChange(producer=LIVE, timestamp=at, event=match.event, state=state)

    # ---- races ----

    def _announce_race(self, off: datetime) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            serial, rng = self._new_rng()
            low, high = self.config.race_runners
            size = rng.randint(low, high)
            names = [f"{a} {n}" for a in _ADJECTIVES for n in _NOUNS]
            runners = tuple(rng.sample(names, size))
            ratings = [rng.gauss(0.0, 0.8) for _ in runners]
            ref = MarketRef(RACE_WINNER_MARKET, each_way_specifiers(size))
            places = int(dict(ref.specifiers).get("ew_places", "1"))
            withdrawals: dict[str, datetime] = {}
            most = size - max(2, places + 1)  # leave a race with more runners than places
            for runner in runners:
                if rng.random() < self.config.non_runner_probability and len(withdrawals) < most:
                    withdrawals[runner] = at + _ms((off - at) * rng.random())
            venue = rng.choice(_VENUES)
            fixture = Fixture(HORSE_RACING, f"{off:%H:%M} {venue}", off, runners=runners, competition=venue)
            race = _Race(
                serial, f"sr:stage:{self._id_base + serial}", rng, fixture, runners, ratings, ref, off, withdrawals
            )
            self._events[race.event] = race
            self._schedule_race_update(race, at)
            for runner, when in withdrawals.items():
                self._at(when, self._withdraw(race, runner))
            self._at(off, self._race_off(race))
            return [self._fixture_change(race, PREMATCH, at), self._race_odds(race, at)]

        return act

    def _schedule_race_update(self, race: _Race, at: datetime) -> None:
        following = at + _ms(self.config.update_interval)
        if following < race.off:
            self._at(following, self._race_update(race))

    def _race_update(self, race: _Race) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            race.ratings = [r + race.rng.gauss(0.0, 0.05) for r in race.ratings]
            self._schedule_race_update(race, at)
            return [self._race_odds(race, at)]

        return act

    def _withdraw(self, race: _Race, runner: str) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            race.non_runners.add(runner)
            return [self._race_odds(race, at)]

        return act

    def _race_off(self, race: _Race) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            race.running = True
            self._at(at + _ms(self.config.race_duration), self._race_finish(race))
            return [BetStop(producer=PREMATCH, timestamp=at, event=race.event), self._race_running_odds(race, at)]

        return act

    def _race_finish(self, race: _Race) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            ran = [r for r in race.runners if r not in race.non_runners]
            strengths = dict(zip(race.runners, race.strengths(), strict=True))
            race.order = tuple(ran[i] for i in finishing_order(race.rng, [strengths[r] for r in ran]))
            race.ended = True
            self._at(at + _ms(self.config.settlement_delay), self._settle_race(race))
            return [self._race_ended_odds(race, at)]

        return act

    def _settle_race(self, race: _Race) -> Action:
        def act(at: datetime) -> list[FeedMessage]:
            race.closed = True
            del self._events[race.event]
            if self.config.replace_finished:
                self._at(at, self._announce_race(at + _ms(self.config.race_lead)))
            result = race_results(race.ref, race.runners, race.order, frozenset(race.non_runners))
            return [
                BetSettlement(producer=PREMATCH, timestamp=at, event=race.event, markets=(result,)),
                OddsChange(
                    producer=PREMATCH,
                    timestamp=at,
                    event=race.event,
                    markets=(MarketOdds(race.ref, FeedMarketStatus.SETTLED),),
                    state=EventState(EventPhase.CLOSED),
                ),
            ]

        return act

    def _race_odds(self, race: _Race, at: datetime) -> OddsChange:
        market = race_market(race.ref, race.runners, race.strengths(), frozenset(race.non_runners), self.config.policy)
        return OddsChange(
            producer=PREMATCH,
            timestamp=at,
            event=race.event,
            markets=(market,),
            state=EventState(EventPhase.NOT_STARTED),
        )

    def _race_running_odds(self, race: _Race, at: datetime) -> OddsChange:
        return OddsChange(
            producer=PREMATCH,
            timestamp=at,
            event=race.event,
            markets=(MarketOdds(race.ref, FeedMarketStatus.SUSPENDED),),
            state=EventState(EventPhase.LIVE),
        )

    def _race_ended_odds(self, race: _Race, at: datetime) -> OddsChange:
        return OddsChange(
            producer=PREMATCH,
            timestamp=at,
            event=race.event,
            markets=(MarketOdds(race.ref, FeedMarketStatus.SUSPENDED),),
            state=EventState(EventPhase.ENDED),
        )

    # ---- what a snapshot sends ----

    def _producer_of(self, sim_event: _Match | _Race) -> str:
        if isinstance(sim_event, _Match):
            return LIVE if sim_event.started else PREMATCH
        return PREMATCH

    def _fixture_change(self, sim_event: _Match | _Race, producer: str, at: datetime) -> FixtureChange:
        fixture = sim_event.fixture
        return FixtureChange(
            producer=producer, timestamp=at, event=sim_event.event, start_time=fixture.start_time, fixture=fixture
        )

    def _current_odds(self, sim_event: _Match | _Race, at: datetime) -> OddsChange:
        """The event's odds as they stand (priced at the time advanced to, stamped `at`)."""
        if isinstance(sim_event, _Race):
            if sim_event.ended:
                return self._race_ended_odds(sim_event, at)
            if sim_event.running:
                return self._race_running_odds(sim_event, at)
            odds = self._race_odds(sim_event, self._now)
        elif not sim_event.started:
            odds = self._prematch_odds(sim_event, self._now)
        elif sim_event.ended:
            return self._ended_odds(sim_event, at)
        elif sim_event.stopped:
            suspended = tuple(MarketOdds(ref, FeedMarketStatus.SUSPENDED) for ref in FOOTBALL_MARKETS)
            state = EventState(EventPhase.LIVE, sim_event.home_goals, sim_event.away_goals)
            return OddsChange(producer=LIVE, timestamp=at, event=sim_event.event, markets=suspended, state=state)
        else:
            odds = self._live_odds(sim_event, self._now)
        return OddsChange(
            producer=odds.producer, timestamp=at, event=odds.event, markets=odds.markets, state=odds.state
        )

"""The catalogue's rules, pure: events, markets and selections, their statuses and how they may change.

Nothing here does I/O. Every change is a function from an `Event` (the aggregate: the event and all its
markets) to a new `Event`; a changed event or market gets its `version` raised by one, which is how every
node's read model tells a newer state from an older or repeated one."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sportsbook.core.errors import Conflict, InvalidRequest, NotFound
from sportsbook.core.markets import EachWayTerms, InvalidMarket, MarketType, Score, check_market, line_value
from sportsbook.core.money import MAX_AMOUNT
from sportsbook.core.odds import odds_text, parse_odds

MAX_IN_PLAY_DELAY_S = 30
# a top football match carries a thousand markets at a big book (every line of totals and handicaps, and more);
# the bound keeps one event's snapshot and read model finite
MAX_MARKETS_PER_EVENT = 1_200
MAX_SELECTIONS_PER_MARKET = 200
MAX_RUNNERS = 100
_SPORT_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


# --- errors (stable codes) ---------------------------------------------------------------------------


class EventNotFound(NotFound):
    """No event has this id."""

    code = "event_not_found"


class MarketNotFound(NotFound):
    """No market has this id."""

    code = "market_not_found"


class SelectionNotFound(NotFound):
    """No selection has this id (in this market)."""

    code = "selection_not_found"


class InvalidEvent(InvalidRequest):
    """The event's sport, name, competitors or runners are not valid."""

    code = "invalid_event"


class InvalidScore(InvalidRequest):
    """A score only fits a live or ended event between two competitors."""

    code = "invalid_score"


class InvalidStatusTransition(Conflict):
    """The status cannot change that way from the current one."""

    code = "invalid_status_transition"


class EventClosed(Conflict):
    """The event is ended or cancelled: it takes no new market."""

    code = "event_closed"


class ExternalIdTaken(Conflict):
    """Another event already carries this feed id."""

    code = "external_id_taken"


class DuplicateMarket(Conflict):
    """The event already has a market of this type and line."""

    code = "duplicate_market"


class MarketClosed(Conflict):
    """The market is settled or cancelled: its prices and limits can no longer change."""

    code = "market_closed"


class SelectionClosed(Conflict):
    """The selection is no longer running (non-runner or resulted)."""

    code = "selection_closed"


# --- statuses ----------------------------------------------------------------------------------------


class EventStatus(enum.StrEnum):
    UPCOMING = "upcoming"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


EVENT_TRANSITIONS: dict[EventStatus, frozenset[EventStatus]] = {
    EventStatus.UPCOMING: frozenset({EventStatus.LIVE, EventStatus.CANCELLED}),
    EventStatus.LIVE: frozenset({EventStatus.ENDED, EventStatus.CANCELLED}),
    EventStatus.ENDED: frozenset(),
    EventStatus.CANCELLED: frozenset(),
}


class MarketStatus(enum.StrEnum):
    ACTIVE = "active"  # open for bets
    SUSPENDED = "suspended"  # prices held, no bets
    SETTLED = "settled"  # resulted; a settlement rollback takes it back to suspended
    CANCELLED = "cancelled"  # void: every bet on it is void (undone only by rolling its void settlement back)


OPEN_MARKET = frozenset({MarketStatus.ACTIVE, MarketStatus.SUSPENDED})


class SelectionStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # this runner or outcome alone is off, the rest of the market trades
    NON_RUNNER = "non_runner"  # withdrawn before the off: void, Rule 4 for the others
    WON = "won"
    PLACED = "placed"  # finished within the each-way places without winning
    LOST = "lost"
    VOID = "void"


RUNNING = frozenset({SelectionStatus.ACTIVE, SelectionStatus.SUSPENDED})
RESULTS = frozenset({SelectionStatus.WON, SelectionStatus.PLACED, SelectionStatus.LOST, SelectionStatus.VOID})


# --- the aggregate -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sport:
    """A sport as the catalogue lists it, with how many events it has open."""

    key: str
    name: str
    upcoming: int
    live: int


@dataclass(frozen=True, slots=True)
class Limits:
    """A market's stake and liability limits, in minor units of any currency."""

    min_stake: int = 10
    max_stake: int = 100_000
    max_payout: int = 10_000_000
    selection_liability_limit: int = 50_000_000
    market_liability_limit: int = 100_000_000

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
                raise InvalidMarket(f"{name} must be a whole number of minor units from 1 to {MAX_AMOUNT}")
        if self.min_stake > self.max_stake:
            raise InvalidMarket("min_stake cannot be above max_stake")

    def updated(self, changes: Mapping[str, int]) -> Limits:
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise InvalidMarket(f"unknown limits {sorted(unknown)}")
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Selection:
    """One outcome of a market and its decimal price."""

    id: UUID
    market_id: UUID
    outcome: str
    name: str
    odds: Decimal
    status: SelectionStatus

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING


@dataclass(frozen=True, slots=True)
class Market:
    """A market of an event: its type and line, status, in-play delay, each-way terms, limits, selections."""

    id: UUID
    event_id: UUID
    type: MarketType
    specifiers: dict[str, str]
    status: MarketStatus
    in_play_delay_s: int
    each_way: EachWayTerms | None
    min_stake: int
    max_stake: int
    max_payout: int
    selection_liability_limit: int
    market_liability_limit: int
    selections: tuple[Selection, ...]
    version: int = 1
    # a trader's suspension or prices hold against the odds feed until the trader releases the market
    trader_override: bool = False

    @property
    def limits(self) -> Limits:
        return Limits(
            self.min_stake, self.max_stake, self.max_payout, self.selection_liability_limit, self.market_liability_limit
        )

    def selection(self, selection_id: UUID) -> Selection:
        for s in self.selections:
            if s.id == selection_id:
                return s
        raise SelectionNotFound(f"market {self.id} has no selection {selection_id}")


@dataclass(frozen=True, slots=True)
class Event:
    """A fixture between two competitors, or a race or outright between runners, with its markets."""

    id: UUID
    sport: str
    competition: str | None
    name: str
    start_time: datetime
    status: EventStatus
    competitors: tuple[str, str] | None
    runners: tuple[str, ...] | None
    score: Score | None
    markets: tuple[Market, ...]
    version: int = 1
    # the event's ids at odds feeds, (provider, id) sorted: `(("uof", "sr:match:10927088"),)`
    external_ids: tuple[tuple[str, str], ...] = ()

    def external_id(self, provider: str) -> str | None:
        """The event's id at a feed provider, if it has one."""
        return dict(self.external_ids).get(provider)

    def market(self, market_id: UUID) -> Market:
        for m in self.markets:
            if m.id == market_id:
                return m
        raise MarketNotFound(f"event {self.id} has no market {market_id}")

    def is_open(self) -> bool:
        """Whether bets may be taken on it at all (its markets and selections decide the rest)."""
        return self.status in (EventStatus.UPCOMING, EventStatus.LIVE)


def is_open_for_bets(event: Event, market: Market, selection: Selection) -> bool:
    """Whether a bet on this selection may be accepted now, as far as the catalogue is concerned."""
    return event.is_open() and market.status is MarketStatus.ACTIVE and selection.status is SelectionStatus.ACTIVE


def is_sport_key(key: str) -> bool:
    """Whether `key` is a sport's key: lower-case letters, digits and _ (football, horse_racing)."""
    return bool(_SPORT_RE.match(key))


def sport_name(key: str) -> str:
    """The display name of a sport key: "horse_racing" -> "Horse racing"."""
    return key.replace("_", " ").capitalize()


# --- creation ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SelectionDraft:
    outcome: str
    odds: str | Decimal
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MarketDraft:
    type: str
    selections: Sequence[SelectionDraft]
    specifiers: Mapping[str, str] = field(default_factory=dict)
    in_play_delay_s: int = 0
    each_way: tuple[str, int] | None = None  # (fraction "1/5", places)
    limits: Mapping[str, int] = field(default_factory=dict)  # overrides of the service's defaults


@dataclass(frozen=True, slots=True)
class EventDraft:
    """What staff send to create an event."""

    sport: str
    name: str
    start_time: datetime
    markets: Sequence[MarketDraft]
    competition: str | None = None
    competitors: Sequence[str] | None = None
    runners: Sequence[str] | None = None
    external_ids: Mapping[str, str] | None = None


MAX_EXTERNAL_IDS = 8
_PROVIDER_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_EXTERNAL_ID_RE = re.compile(r"^[\x21-\x7e]{1,100}$")


def external_ids(given: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """An event's feed ids checked and in canonical form: a provider is a key like `uof`, an id 1 to 100
    printable ASCII characters without spaces (`sr:match:10927088`), at most 8 providers."""
    if not given:
        return ()
    if len(given) > MAX_EXTERNAL_IDS:
        raise InvalidEvent(f"an event has at most {MAX_EXTERNAL_IDS} external ids")
    for provider, value in given.items():
        if not _PROVIDER_RE.match(provider):
            raise InvalidEvent("an external id's provider is a key of lower-case letters, digits and _ (like uof)")
        if not _EXTERNAL_ID_RE.match(value):
            raise InvalidEvent("an external id is 1 to 100 printable characters without spaces")
    return tuple(sorted(given.items()))


def _text(value: str, what: str, max_len: int = 200) -> str:
    value = value.strip()
    if not 0 < len(value) <= max_len:
        raise InvalidEvent(f"{what} must be 1 to {max_len} characters")
    return value


def build_event(
    draft: EventDraft, *, new_id: Callable[[], UUID], defaults: Limits, require_markets: bool = True
) -> Event:
    """A new upcoming event from staff's draft, every rule checked, every id from `new_id`. An odds feed's
    fixture may come before its markets (`require_markets=False`): the feed adds them as it prices them."""
    sport = draft.sport.strip().lower()
    if not _SPORT_RE.match(sport):
        raise InvalidEvent("sport is a key of lower-case letters, digits and _ (like football or horse_racing)")
    if draft.start_time.tzinfo is None:
        raise InvalidEvent("start_time needs a time zone")
    try:
        start_time = draft.start_time.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last datetime once in UTC
        raise InvalidEvent("start_time is out of range") from None
    competitors: tuple[str, str] | None = None
    runners: tuple[str, ...] | None = None
    if (draft.competitors is None) == (draft.runners is None):
        raise InvalidEvent("an event has either two competitors or at least two runners")
    if draft.competitors is not None:
        names = [_text(c, "a competitor's name", 100) for c in draft.competitors]
        if len(names) != 2 or names[0] == names[1]:
            raise InvalidEvent("competitors are exactly two different names: [home, away]")
        competitors = (names[0], names[1])
    if draft.runners is not None:
        runners = tuple(_text(r, "a runner's name", 100) for r in draft.runners)
        if not 2 <= len(runners) <= MAX_RUNNERS or len(set(runners)) != len(runners):
            raise InvalidEvent(f"runners are 2 to {MAX_RUNNERS} different names")
    if not draft.markets and require_markets:
        raise InvalidMarket("an event needs at least one market")
    if len(draft.markets) > MAX_MARKETS_PER_EVENT:
        raise InvalidMarket(f"an event has at most {MAX_MARKETS_PER_EVENT} markets")
    event_id = new_id()
    markets = tuple(
        build_market(m, event_id, competitors, runners, new_id=new_id, defaults=defaults) for m in draft.markets
    )
    if len({_line(m) for m in markets}) != len(markets):
        raise InvalidMarket("the same market type and line appears twice")
    return Event(
        id=event_id,
        sport=sport,
        competition=_text(draft.competition, "competition") if draft.competition is not None else None,
        name=_text(draft.name, "name"),
        start_time=start_time,
        status=EventStatus.UPCOMING,
        competitors=competitors,
        runners=runners,
        external_ids=external_ids(draft.external_ids),
        score=None,
        markets=markets,
    )


def build_market(
    draft: MarketDraft,
    event_id: UUID,
    competitors: tuple[str, str] | None,
    runners: tuple[str, ...] | None,
    *,
    new_id: Callable[[], UUID],
    defaults: Limits,
) -> Market:
    """A new active market of an event, checked against the event's shape."""
    specifiers = {str(k): str(v) for k, v in draft.specifiers.items()}
    outcomes = [s.outcome for s in draft.selections]
    if len(outcomes) > MAX_SELECTIONS_PER_MARKET:
        raise InvalidMarket(f"a market has at most {MAX_SELECTIONS_PER_MARKET} selections")
    kind = check_market(draft.type, specifiers, outcomes)
    if kind is MarketType.WINNER:
        if runners is None:
            raise InvalidMarket("a winner market needs an event with runners")
        if set(outcomes) != set(runners):
            raise InvalidMarket("a winner market has one selection per runner, its outcome the runner's name")
    elif competitors is None:
        raise InvalidMarket(f"{kind} is resulted from a score, so it needs an event with two competitors")
    delay = draft.in_play_delay_s
    if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_IN_PLAY_DELAY_S:
        raise InvalidMarket(f"in_play_delay_s is 0 to {MAX_IN_PLAY_DELAY_S} seconds")
    each_way: EachWayTerms | None = None
    if draft.each_way is not None:
        if kind is not MarketType.WINNER:
            raise InvalidMarket("each-way terms are offered on winner markets only")
        each_way = EachWayTerms.parse(draft.each_way[0], draft.each_way[1])
        if each_way.places >= len(outcomes):
            raise InvalidMarket("each-way places must be fewer than the runners")
    limits = defaults.updated(draft.limits)
    market_id = new_id()
    selections = tuple(
        Selection(
            id=new_id(),
            market_id=market_id,
            outcome=s.outcome,
            name=_selection_name(kind, s, specifiers, competitors),
            odds=parse_odds(s.odds),
            status=SelectionStatus.ACTIVE,
        )
        for s in draft.selections
    )
    return Market(
        id=market_id,
        event_id=event_id,
        type=kind,
        specifiers=specifiers,
        status=MarketStatus.ACTIVE,
        in_play_delay_s=delay,
        each_way=each_way,
        min_stake=limits.min_stake,
        max_stake=limits.max_stake,
        max_payout=limits.max_payout,
        selection_liability_limit=limits.selection_liability_limit,
        market_liability_limit=limits.market_liability_limit,
        selections=selections,
    )


def add_market(event: Event, draft: MarketDraft, *, new_id: Callable[[], UUID], defaults: Limits) -> Event:
    """The event with one more (active) market, checked as a market of a new event would be.

    Only an upcoming or live event takes one (`event_closed`), and only on a type and line it does not
    have yet, whatever that market's status (`duplicate_market`). The event's own version stays: the
    new market is announced as a market of version 1."""
    market = build_market(draft, event.id, event.competitors, event.runners, new_id=new_id, defaults=defaults)
    if not event.is_open():
        raise EventClosed(f"the event is {event.status}: it takes no new market")
    if len(event.markets) >= MAX_MARKETS_PER_EVENT:
        raise InvalidMarket(f"an event has at most {MAX_MARKETS_PER_EVENT} markets")
    if any(_line(m) == _line(market) for m in event.markets):
        raise DuplicateMarket(f"the event already has a {market.type} market on this line")
    return replace(event, markets=(*event.markets, market))


LineKey = tuple[MarketType, tuple[tuple[str, Decimal], ...]]


def line_key(market_type: MarketType, specifiers: Mapping[str, str]) -> LineKey:
    """What a market is unique by within its event: its type and line ("2.5" and "2.50" are one line).
    `invalid_market` when a line is not a number."""
    given = dict(specifiers)
    return market_type, tuple(sorted((k, line_value(given, k)) for k in given))


def _line(market: Market) -> LineKey:
    return line_key(market.type, market.specifiers)


def _selection_name(
    kind: MarketType, draft: SelectionDraft, specifiers: Mapping[str, str], competitors: tuple[str, str] | None
) -> str:
    """Staff's name for the selection, else one that reads well ("Arsenal", "Over 2.5", "Arsenal -0.25")."""
    if draft.name is not None:
        name = draft.name.strip()
        if not 0 < len(name) <= 100:
            raise InvalidMarket("a selection's name is 1 to 100 characters")
        return name
    home, away = competitors or ("Home", "Away")
    o = draft.outcome
    if kind is MarketType.TOTAL:
        return f"{o.capitalize()} {specifiers['total']}"
    if kind is MarketType.ASIAN_HANDICAP:
        hcp = Decimal(specifiers["hcp"])
        line = hcp if o == "home" else -hcp
        text = "0" if line == 0 else f"{'+' if line > 0 else ''}{line.normalize():f}"
        return f"{home if o == 'home' else away} {text}"
    parts = {"home": home, "away": away, "draw": "Draw", "yes": "Yes", "no": "No"}
    if kind is MarketType.DOUBLE_CHANCE:
        a, b = o.split("_")
        return f"{parts[a]} or {parts[b]}"
    return parts.get(o, o)


# --- changes -----------------------------------------------------------------------------------------


def _with_market(event: Event, market: Market) -> Event:
    return replace(event, markets=tuple(market if m.id == market.id else m for m in event.markets))


def _bump(market: Market, **changes: Any) -> Market:
    return replace(market, version=market.version + 1, **changes)


def change_event(event: Event, *, status: EventStatus | None = None, score: Score | None = None) -> Event:
    """The event after a status change and/or a new score.

    Cancelling an event cancels its open markets (every selection still running goes void); ending it
    suspends its active markets, since nothing may be bet on a finished event while it is resulted."""
    if status is None and score is None:
        raise InvalidRequest("send a status, a score or both")
    new_status = event.status
    markets = event.markets
    if status is not None and status is not event.status:
        if status not in EVENT_TRANSITIONS[event.status]:
            raise InvalidStatusTransition(f"an event cannot go from {event.status} to {status}")
        new_status = status
        if status is EventStatus.CANCELLED:
            markets = tuple(_cancel(m) if m.status in OPEN_MARKET else m for m in markets)
        elif status is EventStatus.ENDED:
            markets = tuple(
                _bump(m, status=MarketStatus.SUSPENDED) if m.status is MarketStatus.ACTIVE else m for m in markets
            )
    new_score = event.score
    if score is not None:
        if event.competitors is None:
            raise InvalidScore("only an event between two competitors has a score")
        if new_status not in (EventStatus.LIVE, EventStatus.ENDED):
            raise InvalidScore("a score is given once the event is live")
        new_score = score
    if new_status is event.status and new_score == event.score:
        return event  # nothing changed: no new version, no event
    return replace(event, status=new_status, score=new_score, markets=markets, version=event.version + 1)


def _cancel(market: Market) -> Market:
    return _bump(market, status=MarketStatus.CANCELLED, selections=_void_running(market.selections))


def _void_running(selections: tuple[Selection, ...]) -> tuple[Selection, ...]:
    return tuple(replace(s, status=SelectionStatus.VOID) if s.status in RUNNING else s for s in selections)


def change_market(
    event: Event,
    market_id: UUID,
    *,
    status: MarketStatus | None = None,
    odds: Mapping[UUID, str | Decimal] | None = None,
    selection_status: Mapping[UUID, SelectionStatus] | None = None,
    limits: Mapping[str, int] | None = None,
    trader_override: bool | None = None,
) -> Event:
    """The event after trading changes one market: its status (active, suspended, cancelled), prices,
    a selection's suspension, or its limits. Prices and selection changes apply before the status.

    A status, price or selection set by staff holds against the odds feed (`trader_override`) until staff
    release it (`trader_override=False`, which may come with the change itself); limits alone do not hold it."""
    original = event.market(market_id)
    if original.status not in OPEN_MARKET:
        raise MarketClosed(f"the market is {original.status}")
    selections = {s.id: s for s in original.selections}
    for selection_id, price in (odds or {}).items():
        _running(original, selection_id)
        selections[selection_id] = replace(selections[selection_id], odds=parse_odds(price))
    for selection_id, new in (selection_status or {}).items():
        if new not in RUNNING:
            raise InvalidStatusTransition("trading sets a selection active or suspended; results come from settlement")
        _running(original, selection_id)
        selections[selection_id] = replace(selections[selection_id], status=new)
    changes: dict[str, Any] = {"selections": tuple(selections[s.id] for s in original.selections)}
    if status is not None and status is not original.status:
        if status is MarketStatus.SETTLED:
            raise InvalidStatusTransition("a market is settled by resulting it, not by setting its status")
        if status is MarketStatus.ACTIVE and not event.is_open():
            raise InvalidStatusTransition(f"the event is {event.status}: its markets cannot reopen")
        changes["status"] = status
        if status is MarketStatus.CANCELLED:
            changes["selections"] = _void_running(changes["selections"])
    if limits:
        updated = original.limits.updated(limits)
        changes.update(
            min_stake=updated.min_stake,
            max_stake=updated.max_stake,
            max_payout=updated.max_payout,
            selection_liability_limit=updated.selection_liability_limit,
            market_liability_limit=updated.market_liability_limit,
        )
    candidate = replace(original, **changes)
    traded = candidate.status != original.status or candidate.selections != original.selections
    if trader_override is not None or traded:
        candidate = replace(candidate, trader_override=trader_override if trader_override is not None else True)
    if candidate == original:
        return event  # nothing changed: no new version, no event
    return _with_market(event, replace(candidate, version=original.version + 1))


@dataclass(frozen=True, slots=True)
class FeedPrices:
    """What an odds feed says of one market: its status (active or suspended) and each selection's price and
    status (active or suspended), by selection id; selections not named keep theirs."""

    status: MarketStatus
    selections: Mapping[UUID, tuple[Decimal, SelectionStatus]] = field(default_factory=dict)


def apply_feed(event: Event, changes: Mapping[UUID, FeedPrices]) -> Event:
    """The event after an odds feed's prices and statuses for some of its markets. The feed never touches a
    market a trader holds (`trader_override`), a settled or cancelled one, or a result; it opens a market only
    while the event takes bets. A market whose state does not change keeps its version."""
    markets = list(event.markets)
    changed = False
    for i, market in enumerate(markets):
        feed = changes.get(market.id)
        if feed is None or market.trader_override or market.status not in OPEN_MARKET:
            continue
        active = feed.status is MarketStatus.ACTIVE and event.is_open()
        status = MarketStatus.ACTIVE if active else MarketStatus.SUSPENDED
        selections = []
        for s in market.selections:
            price = feed.selections.get(s.id)
            if price is None or s.status not in RUNNING:
                selections.append(s)
                continue
            odds, state = price
            if state not in RUNNING:
                state = SelectionStatus.SUSPENDED
            selections.append(s if (s.odds == odds and s.status is state) else replace(s, odds=odds, status=state))
        candidate = replace(market, status=status, selections=tuple(selections))
        if candidate != market:
            markets[i] = replace(candidate, version=market.version + 1)
            changed = True
    return replace(event, markets=tuple(markets)) if changed else event


def _running(market: Market, selection_id: UUID) -> Selection:
    selection = market.selection(selection_id)
    if selection.status not in RUNNING:
        raise SelectionClosed(f"selection {selection_id} is {selection.status}")
    return selection


def mark_non_runner(event: Event, selection_id: UUID) -> Event:
    """The event after a runner is withdrawn: its selection is a non-runner (void), the market trades on."""
    for market in event.markets:
        for selection in market.selections:
            if selection.id == selection_id:
                if market.type is not MarketType.WINNER:
                    raise InvalidRequest("only a runner of a winner market can be a non-runner", code="invalid_market")
                if market.status not in OPEN_MARKET:
                    raise MarketClosed(f"the market is {market.status}")
                _running(market, selection_id)
                selections = tuple(
                    replace(s, status=SelectionStatus.NON_RUNNER) if s.id == selection_id else s
                    for s in market.selections
                )
                return _with_market(event, _bump(market, selections=selections))
    raise SelectionNotFound(f"event {event.id} has no selection {selection_id}")


def settle_market(event: Event, market_id: UUID, results: Mapping[UUID, SelectionStatus]) -> Event:
    """The event after a market is resulted: each running selection takes its result (won, placed, lost,
    void) and the market is settled. Selections not named lose; non-runners stay non-runners."""
    market = event.market(market_id)
    if market.status not in OPEN_MARKET:
        raise MarketClosed(f"the market is {market.status}")
    for selection_id, result in results.items():
        if result not in RESULTS:
            raise InvalidRequest(f"a result is one of {sorted(RESULTS)}")
        if result is SelectionStatus.PLACED and market.each_way is None:
            raise InvalidRequest("placed is a result of each-way markets only", code="invalid_market")
        if market.selection(selection_id).status is SelectionStatus.NON_RUNNER:
            raise SelectionClosed(f"selection {selection_id} is a non-runner")
    selections = tuple(
        s if s.status is SelectionStatus.NON_RUNNER else replace(s, status=results.get(s.id, SelectionStatus.LOST))
        for s in market.selections
    )
    return _with_market(event, _bump(market, status=MarketStatus.SETTLED, selections=selections))


def unsettle_market(event: Event, market_id: UUID) -> Event:
    """The event after a settlement is rolled back: the market is suspended again, results cleared. A market
    cancelled in error (its bets voided) comes back the same way, unless its whole event was cancelled."""
    market = event.market(market_id)
    if market.status not in (MarketStatus.SETTLED, MarketStatus.CANCELLED):
        raise InvalidStatusTransition(f"the market is {market.status}, not settled or cancelled")
    if market.status is MarketStatus.CANCELLED and event.status is EventStatus.CANCELLED:
        raise InvalidStatusTransition("the event is cancelled: its markets stay cancelled")
    selections = tuple(
        s if s.status is SelectionStatus.NON_RUNNER else replace(s, status=SelectionStatus.ACTIVE)
        for s in market.selections
    )
    return _with_market(event, _bump(market, status=MarketStatus.SUSPENDED, selections=selections))


# --- wire form (event payloads); pure dict conversion ---------------------------------------------------


def event_payload(event: Event) -> dict[str, Any]:
    """The `catalog.event_changed` v2 payload: the event without its markets, with its feed ids."""
    return {
        "event_id": str(event.id),
        "sport": event.sport,
        "competition": event.competition,
        "name": event.name,
        "start_time": event.start_time.isoformat(),
        "status": event.status.value,
        "competitors": list(event.competitors) if event.competitors is not None else None,
        "runners": list(event.runners) if event.runners is not None else None,
        "score": {"home": event.score.home, "away": event.score.away} if event.score is not None else None,
        "version": event.version,
        "external_ids": dict(event.external_ids),
    }


def market_payload(market: Market) -> dict[str, Any]:
    """The `catalog.market_changed` v2 payload: the whole market, selections and prices included, and whether a
    trader holds it against the odds feed (v1 had no `trader_override`)."""
    return {
        "market_id": str(market.id),
        "event_id": str(market.event_id),
        "type": market.type.value,
        "specifiers": dict(market.specifiers),
        "status": market.status.value,
        "in_play_delay_s": market.in_play_delay_s,
        "each_way": (
            {"fraction": market.each_way.text(), "places": market.each_way.places} if market.each_way else None
        ),
        "limits": {
            "min_stake": market.min_stake,
            "max_stake": market.max_stake,
            "max_payout": market.max_payout,
            "selection_liability_limit": market.selection_liability_limit,
            "market_liability_limit": market.market_liability_limit,
        },
        "selections": [
            {"id": str(s.id), "outcome": s.outcome, "name": s.name, "odds": odds_text(s.odds), "status": s.status.value}
            for s in market.selections
        ],
        "version": market.version,
        "trader_override": market.trader_override,
    }


def event_from_payload(payload: Mapping[str, Any], markets: tuple[Market, ...] = ()) -> Event:
    """An event (header) from its `catalog.event_changed` payload (v1 or v2); markets come from their own
    events."""
    competitors = payload["competitors"]
    score = payload["score"]
    return Event(
        id=UUID(payload["event_id"]),
        sport=payload["sport"],
        competition=payload["competition"],
        name=payload["name"],
        start_time=datetime.fromisoformat(payload["start_time"]).astimezone(UTC),
        status=EventStatus(payload["status"]),
        competitors=(competitors[0], competitors[1]) if competitors is not None else None,
        runners=tuple(payload["runners"]) if payload["runners"] is not None else None,
        score=Score(score["home"], score["away"]) if score is not None else None,
        markets=markets,
        version=int(payload["version"]),
        external_ids=tuple(sorted(payload.get("external_ids", {}).items())),  # absent from earlier payloads
    )


def market_from_payload(payload: Mapping[str, Any]) -> Market:
    """A market from its `catalog.market_changed` payload."""
    market_id = UUID(payload["market_id"])
    each_way = payload["each_way"]
    limits = payload["limits"]
    return Market(
        id=market_id,
        event_id=UUID(payload["event_id"]),
        type=MarketType(payload["type"]),
        specifiers=dict(payload["specifiers"]),
        status=MarketStatus(payload["status"]),
        in_play_delay_s=int(payload["in_play_delay_s"]),
        each_way=EachWayTerms.parse(each_way["fraction"], each_way["places"]) if each_way is not None else None,
        min_stake=limits["min_stake"],
        max_stake=limits["max_stake"],
        max_payout=limits["max_payout"],
        selection_liability_limit=limits["selection_liability_limit"],
        market_liability_limit=limits["market_liability_limit"],
        selections=tuple(
            Selection(
                id=UUID(s["id"]),
                market_id=market_id,
                outcome=s["outcome"],
                name=s["name"],
                odds=Decimal(s["odds"]),
                status=SelectionStatus(s["status"]),
            )
            for s in payload["selections"]
        ),
        version=int(payload["version"]),
        trader_override=bool(payload.get("trader_override", False)),  # absent from v1
    )

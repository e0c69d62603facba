"""The odds feed's message model and its rules, pure: what a provider's adapter decodes its wire format into,
which messages apply (duplicates and stale ones do not), and when a producer is up, down or recovering.

The model follows the industry's feeds (Sportradar's Unified Odds Feed, UOF): producers (pre-match, live) send
`odds_change`, `bet_stop`, `bet_settlement`, `rollback_bet_settlement`, `bet_cancel`, `rollback_bet_cancel`,
`fixture_change`, `alive` and `snapshot_complete`; a market's status is active, suspended, deactivated, handed
over, settled or cancelled. Messages name events and markets by the feed's own ids (`sr:match:10927088`, market
18 with `total=2.5`); mapping them to the catalogue's events and market types is the adapter's and the
ingestion's business, not this module's."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

__all__ = [
    "Alive",
    "BetCancel",
    "BetSettlement",
    "BetStop",
    "EventPhase",
    "EventState",
    "FeedMarketStatus",
    "FeedMessage",
    "Fixture",
    "FixtureChange",
    "MarketOdds",
    "MarketRef",
    "MarketResult",
    "MessageType",
    "OddsChange",
    "OutcomeOdds",
    "OutcomeResult",
    "ProducerMonitor",
    "ProducerState",
    "Recover",
    "Resume",
    "RollbackBetCancel",
    "RollbackBetSettlement",
    "Sequencer",
    "SnapshotComplete",
    "Suspend",
    "Verdict",
]


class MessageType(enum.StrEnum):
    ODDS_CHANGE = "odds_change"
    BET_STOP = "bet_stop"
    BET_SETTLEMENT = "bet_settlement"
    ROLLBACK_BET_SETTLEMENT = "rollback_bet_settlement"
    BET_CANCEL = "bet_cancel"
    ROLLBACK_BET_CANCEL = "rollback_bet_cancel"
    FIXTURE_CHANGE = "fixture_change"
    ALIVE = "alive"
    SNAPSHOT_COMPLETE = "snapshot_complete"


class FeedMarketStatus(enum.StrEnum):
    """A market's status as a feed states it."""

    ACTIVE = "active"  # open for bets
    SUSPENDED = "suspended"  # shown, closed for now
    DEACTIVATED = "deactivated"  # withdrawn by the feed, may come back
    HANDED_OVER = "handed_over"  # pre-match hands the market over to the live producer
    SETTLED = "settled"
    CANCELLED = "cancelled"

    @classmethod
    def from_uof(cls, status: int) -> FeedMarketStatus:
        """UOF's market status numbers: 1 active, 0 suspended, -1 deactivated, -2 handed over, -3 settled,
        -4 cancelled. Any other is a ValueError (the adapter counts and skips the message)."""
        try:
            return _UOF_STATUS[status]
        except KeyError:
            raise ValueError(f"unknown UOF market status {status}") from None


_UOF_STATUS = {
    1: FeedMarketStatus.ACTIVE,
    0: FeedMarketStatus.SUSPENDED,
    -1: FeedMarketStatus.DEACTIVATED,
    -2: FeedMarketStatus.HANDED_OVER,
    -3: FeedMarketStatus.SETTLED,
    -4: FeedMarketStatus.CANCELLED,
}

Specifiers = tuple[tuple[str, str], ...]
"""A market's specifiers as sorted (name, value) pairs: `(("total", "2.5"),)`. Hashable, so a market is a key."""


def specifiers(values: Mapping[str, str]) -> Specifiers:
    """Specifiers in their canonical, hashable form."""
    return tuple(sorted(values.items()))


@dataclass(frozen=True, slots=True)
class MarketRef:
    """A feed market: its type id in the feed's market descriptions and its specifiers."""

    market_id: int
    specifiers: Specifiers = ()


@dataclass(frozen=True, slots=True)
class OutcomeOdds:
    """One outcome's price in an `odds_change`: `odds` None when the feed sends none; `active` False for an
    outcome the feed marks inactive (not bettable); `probability` the feed's fair probability of the outcome
    when it sends one (UOF's `probabilities`), from which the platform prices with its own margin."""

    outcome_id: str
    odds: Decimal | None
    active: bool = True
    probability: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarketOdds:
    market: MarketRef
    status: FeedMarketStatus
    outcomes: tuple[OutcomeOdds, ...] = ()


class OutcomeResultKind(enum.StrEnum):
    WON = "won"
    PLACED = "placed"  # a runner that finished within the each-way places without winning (the simulator's races)
    LOST = "lost"
    UNDECIDED = "undecided"  # UOF's result for an outcome not yet known (a partial settlement)


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """One outcome's result in a `bet_settlement`: `void_factor` the share of stakes returned (0, 0.5 or 1),
    `dead_heat_factor` the share of a winning bet paid at full odds when runners tie."""

    outcome_id: str
    result: OutcomeResultKind
    void_factor: Decimal = Decimal(0)
    dead_heat_factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarketResult:
    market: MarketRef
    outcomes: tuple[OutcomeResult, ...]


class EventPhase(enum.StrEnum):
    """Where an event stands, as the feed says (UOF's `sport_event_status`)."""

    NOT_STARTED = "not_started"
    LIVE = "live"
    ENDED = "ended"  # play is over; results may still change
    CLOSED = "closed"  # results confirmed
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class EventState:
    """An event's phase and score as an `odds_change` carries them."""

    phase: EventPhase
    home_score: int | None = None
    away_score: int | None = None


@dataclass(frozen=True, slots=True)
class Fixture:
    """What a feed says an event is, so the ingestion can create it when it first hears of it: a fixture between
    two `competitors`, or a race between `runners`."""

    sport: str
    name: str
    start_time: datetime
    competitors: tuple[str, str] | None = None
    runners: tuple[str, ...] | None = None
    competition: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Message:
    """What every message carries: its producer, the feed's time for it (tz-aware UTC) and the event it is
    about (None for a producer's own messages: alive, snapshot_complete)."""

    producer: str
    timestamp: datetime
    event: str | None = None

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError("a feed message's timestamp is timezone-aware")


@dataclass(frozen=True, slots=True, kw_only=True)
class OddsChange(_Message):
    markets: tuple[MarketOdds, ...] = ()
    state: EventState | None = None
    type: MessageType = field(default=MessageType.ODDS_CHANGE, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class BetStop(_Message):
    """Stop betting on the listed markets, or on every market of the event when none is listed."""

    markets: tuple[MarketRef, ...] = ()
    type: MessageType = field(default=MessageType.BET_STOP, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class BetSettlement(_Message):
    markets: tuple[MarketResult, ...] = ()
    type: MessageType = field(default=MessageType.BET_SETTLEMENT, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackBetSettlement(_Message):
    markets: tuple[MarketRef, ...] = ()
    type: MessageType = field(default=MessageType.ROLLBACK_BET_SETTLEMENT, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class BetCancel(_Message):
    """Void the bets placed on the markets in `[start, end)` (either end open when None)."""

    markets: tuple[MarketRef, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    type: MessageType = field(default=MessageType.BET_CANCEL, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RollbackBetCancel(_Message):
    markets: tuple[MarketRef, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    type: MessageType = field(default=MessageType.ROLLBACK_BET_CANCEL, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class FixtureChange(_Message):
    """The event's fixture changed (created, start time moved, ...). `fixture` carries the whole fixture where
    the feed sends it (the simulator does; UOF's consumers read it from its Sports API), so an event the
    catalogue does not have yet can be created from it."""

    start_time: datetime | None = None
    fixture: Fixture | None = None
    type: MessageType = field(default=MessageType.FIXTURE_CHANGE, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alive(_Message):
    """The producer's heartbeat. `subscribed` False: the feed has lost this consumer's subscription (recover)."""

    subscribed: bool = True
    type: MessageType = field(default=MessageType.ALIVE, init=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotComplete(_Message):
    """The feed finished resending what a recovery request asked for."""

    request_id: int
    type: MessageType = field(default=MessageType.SNAPSHOT_COMPLETE, init=False)


FeedMessage = (
    OddsChange
    | BetStop
    | BetSettlement
    | RollbackBetSettlement
    | BetCancel
    | RollbackBetCancel
    | FixtureChange
    | Alive
    | SnapshotComplete
)


# ---- which messages apply ----


class Verdict(enum.StrEnum):
    APPLY = "apply"
    DUPLICATE = "duplicate"  # the very message was applied already
    STALE = "stale"  # an older message than one applied for the same market (or event)


class Sequencer:
    """Decides, per message, whether it applies: a message seen before is a duplicate, and an `odds_change` or
    `bet_stop` older than the last one applied to a market it names is stale for that market (a price must
    never go back in time). Settlement messages are ordered by their meaning (a rollback after its settlement)
    and apply once each; the ingestion makes every applied message idempotent besides.

    Memory is bounded: `remember` messages of identity are kept (the oldest forgotten first); a market's last
    time is kept while its event is live (`forget_event` when it ends)."""

    def __init__(self, remember: int = 100_000) -> None:
        self._remember = remember
        self._seen: dict[FeedMessage, None] = {}  # insertion-ordered: the oldest first
        self._market_time: dict[tuple[str, MarketRef], datetime] = {}
        self._event_time: dict[str, datetime] = {}  # the last bet_stop of the whole event

    def admit(self, message: FeedMessage) -> Verdict:
        """Whether `message` applies (recorded as applied when it does): for an `odds_change` whose markets are
        partly stale, `fresh` gives the markets that apply."""
        if message in self._seen:
            return Verdict.DUPLICATE
        verdict = Verdict.APPLY
        if isinstance(message, OddsChange | BetStop) and message.event is not None:
            verdict = self._order(message)
        self._seen[message] = None
        if len(self._seen) > self._remember:
            del self._seen[next(iter(self._seen))]
        return verdict

    def fresh(self, message: OddsChange) -> tuple[MarketOdds, ...]:
        """The markets of an admitted `odds_change` that are not older than what was applied to them before it
        (read right after `admit`, which moved their times on)."""
        event = message.event
        assert event is not None
        return tuple(m for m in message.markets if self._market_time.get((event, m.market)) == message.timestamp)

    def _order(self, message: OddsChange | BetStop) -> Verdict:
        event = message.event
        assert event is not None
        at = message.timestamp
        if isinstance(message, BetStop) and not message.markets:
            if at < self._event_time.get(event, at):
                return Verdict.STALE
            self._event_time[event] = at
            return Verdict.APPLY
        refs = [m.market for m in message.markets] if isinstance(message, OddsChange) else list(message.markets)
        stopped = self._event_time.get(event)
        applied = False
        for ref in refs:
            key = (event, ref)
            last = self._market_time.get(key)
            if (last is not None and at < last) or (stopped is not None and at < stopped):
                continue
            self._market_time[key] = at
            applied = True
        return Verdict.APPLY if applied or not refs else Verdict.STALE

    def forget_event(self, event: str) -> None:
        """Drop what is kept of an event's markets (it ended)."""
        self._event_time.pop(event, None)
        for key in [k for k in self._market_time if k[0] == event]:
            del self._market_time[key]


# ---- producer liveness ----


class ProducerState(enum.StrEnum):
    UP = "up"
    DOWN = "down"  # no alive for too long, or the subscription was lost: its markets are suspended
    RECOVERING = "recovering"  # a recovery was asked for; its markets stay suspended until snapshot_complete


@dataclass(frozen=True, slots=True)
class Suspend:
    """Suspend every market of the producer, at once."""

    producer: str


@dataclass(frozen=True, slots=True)
class Recover:
    """Ask the feed to resend what the producer sent after `since` (None: everything it holds, as on a first
    start), under `request_id`."""

    producer: str
    since: datetime | None
    request_id: int


@dataclass(frozen=True, slots=True)
class Resume:
    """The producer is up again: its markets follow the feed again."""

    producer: str


Action = Suspend | Recover | Resume


class ProducerMonitor:
    """One producer's liveness, pure: fed the producer's `alive` and `snapshot_complete` messages and the clock's
    ticks, it answers what to do.

    - It starts down and asks for a recovery from the last good time it is given (a restart resumes from what it
      last processed).
    - No `alive` for `timeout` (by the consumer's clock), or an `alive` saying the subscription was lost, puts
      it down: suspend every market of the producer at once, then ask for a recovery from the last good time.
    - The last good time is the timestamp of the last `alive` received while up: everything before it was
      processed.
    - `snapshot_complete` of the recovery asked for puts it up again (resume). A recovery that does not
      complete within `recovery_timeout` is asked for again."""

    def __init__(
        self,
        producer: str,
        timeout: timedelta,
        *,
        recovery_timeout: timedelta = timedelta(minutes=5),
        last_good: datetime | None = None,
    ) -> None:
        self.producer = producer
        self.timeout = timeout
        self.recovery_timeout = recovery_timeout
        self.state = ProducerState.DOWN
        self.last_good = last_good
        self._last_alive_seen: datetime | None = None  # by the consumer's clock
        self._request_id = 0
        self._asked_at: datetime | None = None

    @property
    def request_id(self) -> int:
        """The id of the recovery asked for last (0: none yet)."""
        return self._request_id

    def start(self, now: datetime) -> list[Action]:
        """Begin: suspended until a recovery completes."""
        return [Suspend(self.producer), self._recover(now)]

    def alive(self, message: Alive, now: datetime) -> list[Action]:
        self._last_alive_seen = now
        if not message.subscribed:
            return self._down(now) if self.state is ProducerState.UP else []
        if self.state is ProducerState.UP:
            self.last_good = message.timestamp
        return []

    def snapshot_complete(self, message: SnapshotComplete, now: datetime) -> list[Action]:
        if self.state is not ProducerState.RECOVERING or message.request_id != self._request_id:
            return []  # not the recovery under way: an old one, or another consumer's
        self.state = ProducerState.UP
        self._last_alive_seen = now
        return [Resume(self.producer)]

    def tick(self, now: datetime) -> list[Action]:
        """What the passing of time asks: down when no alive came for `timeout`; a recovery asked again when
        the last did not complete in time."""
        if self.state is ProducerState.UP:
            if self._last_alive_seen is None or now - self._last_alive_seen > self.timeout:
                return self._down(now)
            return []
        asked = self._asked_at
        if self.state is ProducerState.RECOVERING and asked is not None and now - asked > self.recovery_timeout:
            return [self._recover(now)]
        return []

    def _down(self, now: datetime) -> list[Action]:
        return [Suspend(self.producer), self._recover(now)]

    def _recover(self, now: datetime) -> Recover:
        self.state = ProducerState.RECOVERING
        self._request_id += 1
        self._asked_at = now
        return Recover(self.producer, self.last_good, self._request_id)

"""Odds feed ingestion: one adapter's messages into the catalogue and the settlement jobs.

Per message, in arrival order:
- the `Sequencer` drops duplicates and stale prices; an undecodable message is counted, logged and kept;
- `odds_change` finds its event by the feed's id, creates a mapped market it has not seen, and stages each
  market's prices and status in the feed book (what the feed last said of each of our markets); its event state
  moves the event live, scores it, ends or cancels it;
- `bet_stop` stages the event's (or the listed) markets suspended;
- settlement messages queue the settlement jobs (`betting.settlement_jobs`), each market once whatever the feed
  resends (`feed_applied`);
- `fixture_change` creates an event the catalogue does not have, where the feed sends its fixture;
- `alive` and `snapshot_complete` feed the producers' liveness (`ProducerMonitor`): a producer down suspends
  every market it priced, at once, and asks for a recovery from what was last processed; it resumes on the
  recovery's `snapshot_complete`.

Staged prices are written by the flusher, coalesced: a market's latest state once per flush, in one unit of work
(`Catalog.apply_feed_in`), so the database writes scale with the markets that moved, not with the feed's rate.
A market a trader holds (`trader_override`) is left alone; when the trader releases it, the feed's latest state
for it is staged again."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import structlog
from prometheus_client import Counter, Gauge, Histogram

from sportsbook.betting.settlement_jobs import SettlementJobs
from sportsbook.betting.settlements import Outcome
from sportsbook.catalog.model import (
    Event,
    EventDraft,
    EventStatus,
    FeedPrices,
    LineKey,
    Market,
    MarketDraft,
    MarketStatus,
    SelectionDraft,
    SelectionStatus,
    line_key,
)
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import Clock
from sportsbook.core.errors import DomainError
from sportsbook.core.markets import MarketType, Score
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import reading, unit_of_work
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
    FixtureChange,
    MarketOdds,
    MarketRef,
    OddsChange,
    OutcomeResultKind,
    ProducerMonitor,
    ProducerState,
    Recover,
    Resume,
    RollbackBetCancel,
    RollbackBetSettlement,
    Sequencer,
    SnapshotComplete,
    Suspend,
    Verdict,
)
from sportsbook.feed.store import FeedStore
from sportsbook.feed.uof import PRODUCERS, map_market, map_outcome
from sportsbook.pricing.model import PricingPolicy, apply_margin, to_ladder

log = structlog.get_logger(__name__)

MESSAGES = Counter(
    "sportsbook_feed_messages_total",
    "Odds feed messages by type, producer and what became of them (applied, duplicate, stale, skipped).",
    ("type", "producer", "outcome"),
)
UNDECODABLE = Counter(
    "sportsbook_feed_undecodable_total", "Odds feed messages that could not be decoded (kept in feed_rejects).", ()
)
UNMAPPED = Counter(
    "sportsbook_feed_unmapped_markets_total", "Feed markets skipped because no mapping to our types exists.", ()
)
SELECTION_UPDATES = Counter(
    "sportsbook_feed_selection_updates_total", "Selection prices staged from the feed (before coalescing).", ()
)
MARKETS_WRITTEN = Counter(
    "sportsbook_feed_markets_written_total", "Markets whose state the feed changed in the catalogue.", ()
)
LAG = Histogram(
    "sportsbook_feed_lag_seconds",
    "From a message's time at the feed to its prices written in the catalogue.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PRODUCER_UP = Gauge(
    "sportsbook_feed_producer_up", "1 while a producer is up, 0 while down or recovering.", ("adapter", "producer")
)

_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
_REJECTS_KEPT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Report:
    """What one message did: its type, its event (the feed's id) and what it changed or why it was skipped."""

    type: str
    event: str | None
    changed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def outcome(self) -> str:
        if self.changed:
            return "applied"
        return self.skipped[0].split(":", 1)[0] if self.skipped else "applied"

    def lines(self) -> list[str]:
        head = f"{self.type} {self.event or '-'}"
        return [f"{head}: {c}" for c in self.changed] + [f"{head}: skipped ({s})" for s in self.skipped] or [
            f"{head}: nothing to change"
        ]


@dataclass(slots=True)
class _Book:
    """What the feed last said of one of our markets."""

    event_id: UUID
    producer: str
    status: FeedMarketStatus
    prices: dict[UUID, tuple[Decimal, bool]] = field(default_factory=dict)  # selection id: (odds, active)
    at: datetime = _FAR_PAST  # the feed's time of the last message that moved it


@dataclass(frozen=True, slots=True)
class _Known:
    """One of our markets as the feed's messages find it: its id and its selections by our outcome names."""

    market_id: UUID
    selections: Mapping[str, UUID]
    sport: str
    market_type: str
    by_feed: Mapping[str, UUID]  # the feed's outcome ids to our selections


class FeedIngestion:
    """One adapter's feed into the catalogue and the settlement jobs (see the module's docstring)."""

    def __init__(
        self,
        adapter: FeedAdapter,
        db: Database,
        clock: Clock,
        catalog: Catalog,
        jobs: SettlementJobs,
        *,
        pricing: PricingPolicy | Callable[[], PricingPolicy] | None = None,
        alive_timeout_s: float = 20.0,
        recovery_timeout_s: float = 300.0,
        flush_s: float = 0.05,
        in_play_delay_s: int = 5,
        liveness: bool = True,
        explain: bool = False,
    ) -> None:
        self.adapter = adapter
        self.db = db
        self.clock = clock
        self.catalog = catalog
        self.jobs = jobs
        self._pricing = pricing
        self.alive_timeout = timedelta(seconds=alive_timeout_s)
        self.recovery_timeout = timedelta(seconds=recovery_timeout_s)
        self.flush_s = flush_s
        self.in_play_delay_s = in_play_delay_s
        self.liveness = liveness  # off for a replay: producers count as up, no recovery is asked
        self.explain = explain  # reports list each market's prices (a replay's output), not just how many moved
        self.sequencer = Sequencer()
        self.monitors: dict[str, ProducerMonitor] = {}
        self._book: dict[UUID, _Book] = {}
        self._known: dict[tuple[UUID, LineKey], _Known] = {}
        self._by_ref: dict[tuple[UUID, MarketRef], _Known] = {}  # the same, by the feed's market
        self._pending: dict[UUID, _Book] = {}  # the markets staged since the last flush
        self._pending_at: dict[UUID, datetime] = {}
        self._held: set[UUID] = set()  # markets seen held by a trader
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._saved_good: dict[str, datetime] = {}
        self._counters: dict[tuple[str, str, str], Counter] = {}
        catalog.watch(self._on_market)

    # ---- running ----

    async def start(self) -> None:
        """`open`, then consume, flush and watch the clock until `stop`."""
        await self.open()
        self._tasks = [
            asyncio.create_task(self._consume(), name="feed-consume"),
            asyncio.create_task(self._flusher(), name="feed-flush"),
        ]
        if self.liveness:
            self._tasks.append(asyncio.create_task(self._ticker(), name="feed-liveness"))

    async def open(self) -> None:
        """Connect, and start the producers down (their markets suspended), asking each for a recovery from what
        was last processed (everything the feed holds on a first start)."""
        async with reading(self.db) as uow:
            last_good = await uow.store(FeedStore).last_good(self.adapter.name)
        self._saved_good = dict(last_good)
        await self.adapter.start()
        if not self.liveness:
            return
        now = self.clock.now()
        for producer in PRODUCERS.values():
            monitor = ProducerMonitor(
                producer, self.alive_timeout, recovery_timeout=self.recovery_timeout, last_good=last_good.get(producer)
            )
            self.monitors[producer] = monitor
            PRODUCER_UP.labels(self.adapter.name, producer).set(0)
            await self._act(monitor.start(now))

    async def tick(self) -> None:
        """What the passing of time asks of each producer (a down producer suspended, a recovery asked again)."""
        now = self.clock.now()
        for monitor in self.monitors.values():
            await self._act(monitor.tick(now))

    async def stop(self) -> None:
        await self.adapter.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self.flush()

    async def _consume(self) -> None:
        async for item in self.adapter.messages():
            try:
                await self.process(item)
            except Exception:  # a message must never stop the feed
                log.exception("feed.message_failed", adapter=self.adapter.name)
            # A message is processed without a pause; under a storm the adapter's queue never runs dry, so yield
            # after each: the flusher's and the relay's database round trips each need a turn of the loop, and
            # one turn every few microseconds keeps a flush in milliseconds rather than seconds.
            await asyncio.sleep(0)

    async def _flusher(self) -> None:
        delay = self.flush_s
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_s)  # let a burst coalesce
            try:
                await self.flush()
                delay = self.flush_s
            except Exception:
                log.exception("feed.flush_failed")
                delay = min(max(delay * 2, 0.1), 5.0)
                await asyncio.sleep(delay)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except Exception:
                log.exception("feed.tick_failed")

    # ---- one message ----

    async def process(self, item: FeedMessage | Undecodable) -> Report:
        """Apply one message (its prices staged for the flusher) and say what it did."""
        if isinstance(item, Undecodable):
            return await self._reject(item)
        message = item
        verdict = self.sequencer.admit(message)
        if verdict is not Verdict.APPLY:
            report = Report(message.type.value, message.event, skipped=(f"{verdict.value}: seen already or older",))
        else:
            report = await self._apply(message)
        key = (message.type.value, message.producer, report.outcome)
        counter = self._counters.get(key)
        if counter is None:  # labels() validates and locks on every call: find each child once
            counter = self._counters[key] = MESSAGES.labels(*key)
        counter.inc()
        return report

    async def _apply(self, message: FeedMessage) -> Report:
        if isinstance(message, Alive):
            return await self._alive(message)
        if isinstance(message, SnapshotComplete):
            return await self._snapshot_complete(message)
        if isinstance(message, FixtureChange):
            return await self._fixture(message)
        event = self.catalog.event_by_external_id(self.adapter.provider, message.event or "")
        if event is None:
            return Report(message.type.value, message.event, skipped=("unknown_event: no event has this feed id",))
        if isinstance(message, OddsChange):
            return await self._odds(message, event)
        if isinstance(message, BetStop):
            return self._bet_stop(message, event)
        return await self._settlement(message, event)

    # ---- prices ----

    async def _odds(self, message: OddsChange, event: Event) -> Report:
        changed: list[str] = []
        skipped: list[str] = []
        moved = 0
        for odds in self.sequencer.fresh(message):
            known = self._by_ref.get((event.id, odds.market)) or self._find(event, odds.market)
            if known is None:
                created = await self._create_market(event, odds, changed, skipped)
                if created is None:
                    continue
                known = created
            held = self._book.get(known.market_id)
            before = dict(held.prices) if held is not None else {}
            prices = self._stage_odds(known, odds, message, event.id)
            if known.market_type == MarketType.WINNER.value and event.status is EventStatus.UPCOMING:
                changed += await self._non_runners(known, odds, before)
            if self.explain:
                changed.append(_describe(known, odds, prices))
            moved += 1
        if moved and not self.explain:
            changed.append(f"{moved} markets priced")
        if message.state is not None:
            changed += await self._event_state(event, message.state)
        return Report(message.type.value, message.event, tuple(changed), tuple(skipped))

    async def _non_runners(
        self, known: _Known, odds: MarketOdds, before: Mapping[UUID, tuple[Decimal, bool]]
    ) -> list[str]:
        """A runner the feed takes out before the off (its outcome inactive, priced before) is a non-runner: its
        bets are void and Rule 4 deducts from the winning bets struck before, by its last price."""
        withdrawn = []
        for outcome in odds.outcomes:
            selection_id = known.by_feed.get(outcome.outcome_id)
            last = before.get(selection_id) if selection_id is not None else None
            if outcome.active or selection_id is None or last is None or not last[1]:
                continue
            try:
                deduction = await self.jobs.settlements.non_runner(known.market_id, selection_id, last[0])
            except DomainError as exc:
                withdrawn.append(f"non-runner {outcome.outcome_id} refused ({exc.code})")
                continue
            withdrawn.append(f"non-runner {outcome.outcome_id} at {last[0]}: Rule 4 deduction {deduction}")
        return withdrawn

    def _stage_odds(
        self, known: _Known, odds: MarketOdds, message: OddsChange, event_id: UUID
    ) -> dict[UUID, tuple[Decimal, bool]]:
        book = self._book.get(known.market_id)
        if book is None:
            book = self._book[known.market_id] = _Book(event_id, message.producer, odds.status)
        book.producer = message.producer
        book.status = odds.status
        book.at = message.timestamp
        prices = self._prices(known, odds)
        book.prices.update(prices)
        SELECTION_UPDATES.inc(len(prices))
        self._stage(known.market_id, book)
        return prices

    def _prices(self, known: _Known, odds: MarketOdds) -> dict[UUID, tuple[Decimal, bool]]:
        """Our prices for a market's outcomes: from the feed's fair probabilities with our margin where it sends
        them for the whole book, else its odds on our ladder."""
        policy = self.pricing
        by_feed = known.by_feed
        named: list[tuple[UUID, Decimal | None, bool, Decimal | None]] = []
        probabilities = False
        for outcome in odds.outcomes:
            selection_id = by_feed.get(outcome.outcome_id)
            if selection_id is not None:
                named.append((selection_id, outcome.odds, outcome.active, outcome.probability))
                probabilities = probabilities or outcome.probability is not None
        active = [n for n in named if n[2]] if probabilities else []
        priced: dict[UUID, Decimal] = {}
        if active and len(named) == len(known.selections) and all(n[3] is not None for n in active):
            total = sum((Fraction(n[3]) for n in active if n[3] is not None), Fraction(0))
            if total > 0:
                margin = policy.margin_for(known.sport, MarketType(known.market_type))
                fair = [Fraction(n[3]) / total for n in active if n[3] is not None]
                ladder = apply_margin(fair, margin, min_odds=policy.min_odds, max_odds=policy.max_odds)
                priced = {n[0]: p for n, p in zip(active, ladder, strict=True)}
        result: dict[UUID, tuple[Decimal, bool]] = {}
        low, high = policy.min_odds, policy.max_odds
        for selection_id, feed_odds, is_active, _p in named:
            price: Decimal | None = priced.get(selection_id)
            if price is None and feed_odds is not None and feed_odds.is_finite() and feed_odds > 1:
                price = to_ladder(feed_odds, min_odds=low, max_odds=high)
            if price is None:
                held = self._book.get(known.market_id)
                previous = held.prices.get(selection_id) if held is not None else None
                if previous is None:
                    continue
                price = previous[0]
                is_active = False  # no price: not bettable
            result[selection_id] = (price, is_active)
        return result

    @property
    def pricing(self) -> PricingPolicy:
        given = self._pricing
        if given is None:
            return _DEFAULT_POLICY
        return given if isinstance(given, PricingPolicy) else given()

    def _bet_stop(self, message: BetStop, event: Event) -> Report:
        targets = (
            [m.id for m in event.markets]
            if not message.markets
            else [k.market_id for k in (self._find(event, ref) for ref in message.markets) if k is not None]
        )
        stopped = 0
        for market_id in targets:
            book = self._book.get(market_id)
            if book is None:
                market = self.catalog.view.market(market_id)
                if market is None:
                    continue
                book = self._book[market_id] = _Book(event.id, message.producer, FeedMarketStatus.SUSPENDED)
            book.status = FeedMarketStatus.SUSPENDED
            book.at = max(book.at, message.timestamp)
            self._stage(market_id, book)
            stopped += 1
        return Report(message.type.value, message.event, (f"{stopped} markets suspended",) if stopped else ())

    def _stage(self, market_id: UUID, book: _Book) -> None:
        """Mark the market for the next flush, which writes what its book says then (its latest state)."""
        self._pending[market_id] = book
        self._pending_at.setdefault(market_id, book.at)
        self._wake.set()

    def _desired(self, book: _Book) -> FeedPrices:
        up = self._up(book.producer)
        status = MarketStatus.ACTIVE if up and book.status is FeedMarketStatus.ACTIVE else MarketStatus.SUSPENDED
        return FeedPrices(
            status,
            {
                sid: (odds, SelectionStatus.ACTIVE if active else SelectionStatus.SUSPENDED)
                for sid, (odds, active) in book.prices.items()
            },
        )

    def _up(self, producer: str) -> bool:
        monitor = self.monitors.get(producer)
        return monitor is None or monitor.state is ProducerState.UP

    async def flush(self) -> list[Market]:
        """Write the staged states, each market's latest, in one unit of work; the markets that changed."""
        self._wake.clear()
        if not self._pending:
            return []
        pending, stamps = self._pending, self._pending_at
        self._pending, self._pending_at = {}, {}
        try:
            async with unit_of_work(self.db) as uow:
                changed = await self.catalog.apply_feed_in(
                    uow, {market_id: self._desired(book) for market_id, book in pending.items()}
                )
        except BaseException:
            for market_id, book in pending.items():  # to be written with the next flush
                self._pending.setdefault(market_id, book)
                self._pending_at.setdefault(market_id, stamps[market_id])
            raise
        now = self.clock.now()
        for market_id in pending:
            at = stamps.get(market_id)
            if at is not None and at > _FAR_PAST:
                LAG.observe(max((now - at).total_seconds(), 0.0))
        MARKETS_WRITTEN.inc(len(changed))
        return changed

    # ---- markets and events ----

    def _find(self, event: Event, ref: MarketRef) -> _Known | None:
        mapped = map_market(ref, self.adapter.markets)
        if mapped is None:
            return None
        try:
            key = line_key(mapped.market_type, mapped.specifiers)
        except DomainError:
            return None
        known = self._known.get((event.id, key))
        if known is not None:
            self._by_ref[(event.id, ref)] = known
            return known
        current = self.catalog.view.event(event.id) or event
        for market in current.markets:
            try:
                if line_key(market.type, market.specifiers) == key:
                    return self._remember(current, market, key, ref)
            except DomainError:
                continue
        return None

    def _remember(self, event: Event, market: Market, key: LineKey, ref: MarketRef) -> _Known:
        mapping = self.adapter.markets[ref.market_id]
        ours = {s.outcome: s.id for s in market.selections}
        by_feed = (
            dict(ours)
            if mapping.outcomes is None
            else {feed: ours[name] for feed, name in mapping.outcomes.items() if name in ours}
        )
        known = _Known(market.id, ours, event.sport, market.type.value, by_feed)
        self._known[(event.id, key)] = known
        self._by_ref[(event.id, ref)] = known
        return known

    async def _create_market(
        self, event: Event, odds: MarketOdds, changed: list[str], skipped: list[str]
    ) -> _Known | None:
        """A mapped market seen for the first time: created with the feed's prices (then staged as the feed
        says, so it opens only if the feed has it active)."""
        mapped = map_market(odds.market, self.adapter.markets)
        if mapped is None:
            UNMAPPED.inc()
            skipped.append(f"unmapped: market {_refs(odds.market)} has no mapping")
            return None
        selections = []
        for outcome in odds.outcomes:
            ours = map_outcome(odds.market, outcome.outcome_id, self.adapter.markets)
            if ours is None:
                skipped.append(f"unmapped: outcome {outcome.outcome_id} of market {_refs(odds.market)}")
                return None
            if outcome.odds is None or not outcome.odds.is_finite() or outcome.odds <= 1:
                skipped.append(f"unpriced: market {_refs(odds.market)} has an outcome without odds")
                return None
            policy = self.pricing
            selections.append(
                SelectionDraft(ours, to_ladder(outcome.odds, min_odds=policy.min_odds, max_odds=policy.max_odds))
            )
        each_way = (mapped.each_way.text(), mapped.each_way.places) if mapped.each_way is not None else None
        draft = MarketDraft(
            type=mapped.market_type.value,
            selections=selections,
            specifiers=mapped.specifiers,
            in_play_delay_s=self.in_play_delay_s,
            each_way=each_way,
        )
        try:
            async with unit_of_work(self.db) as uow:
                market = await self.catalog.add_market_in(uow, event.id, draft)
        except DomainError as exc:
            skipped.append(f"refused: market {_refs(odds.market)}: {exc.code}: {exc.message}")
            return None
        current = self.catalog.view.event(event.id) or event
        changed.append(f"created {market.type.value} market {market.id}")
        return self._remember(current, market, line_key(market.type, market.specifiers), odds.market)

    async def _event_state(self, event: Event, state: EventState) -> list[str]:
        """Move the event as the feed says: live, its score, ended, cancelled."""
        target = {
            EventPhase.LIVE: EventStatus.LIVE,
            EventPhase.ENDED: EventStatus.ENDED,
            EventPhase.CLOSED: EventStatus.ENDED,
            EventPhase.CANCELLED: EventStatus.CANCELLED,
        }.get(state.phase)
        current = self.catalog.view.event(event.id) or event
        score = (
            Score(state.home_score, state.away_score)
            if state.home_score is not None and state.away_score is not None and current.competitors is not None
            else None
        )
        if target is None or (target is current.status and (score is None or score == current.score)):
            return []
        changed = []
        try:
            if target is EventStatus.ENDED and current.status is EventStatus.UPCOMING:
                await self.catalog.update_event(event.id, status=EventStatus.LIVE)
            if target is EventStatus.CANCELLED or current.status is EventStatus.ENDED:
                score = None
            await self.catalog.update_event(event.id, status=target, score=score)
        except DomainError as exc:
            return [f"event not moved ({exc.code}: {exc.message})"]
        changed.append(f"event {target.value}" + (f" {score.home}:{score.away}" if score is not None else ""))
        return changed

    async def _fixture(self, message: FixtureChange) -> Report:
        event = self.catalog.event_by_external_id(self.adapter.provider, message.event or "")
        if event is not None:
            return Report(message.type.value, message.event, skipped=("known: the event exists",))
        fixture = message.fixture
        if fixture is None or message.event is None:
            return Report(
                message.type.value,
                message.event,
                skipped=("unknown_event: no fixture in the message; create the event with its external_ids",),
            )
        draft = EventDraft(
            sport=fixture.sport,
            name=fixture.name,
            start_time=fixture.start_time,
            markets=[],
            competition=fixture.competition,
            competitors=fixture.competitors,
            runners=fixture.runners,
            external_ids={self.adapter.provider: message.event},
        )
        try:
            async with unit_of_work(self.db) as uow:
                created = await self.catalog.create_feed_event_in(uow, draft)
        except DomainError as exc:
            return Report(message.type.value, message.event, skipped=(f"refused: {exc.code}: {exc.message}",))
        return Report(message.type.value, message.event, (f"created event {created.id} {created.name!r}",))

    # ---- settlement ----

    async def _settlement(
        self, message: BetSettlement | RollbackBetSettlement | BetCancel | RollbackBetCancel, event: Event
    ) -> Report:
        """Queue a settlement job per market the message names, each once (the flusher's staged prices are
        written first, so no price lands after the market closed)."""
        await self.flush()
        changed: list[str] = []
        skipped: list[str] = []
        refs = [m.market for m in message.markets] if isinstance(message, BetSettlement) else list(message.markets)
        for i, ref in enumerate(refs):
            known = self._find(event, ref)
            if known is None:
                skipped.append(f"unknown_market: {_refs(ref)}")
                continue
            key = _key(message, ref)
            try:
                async with unit_of_work(self.db) as uow:
                    if not await uow.store(FeedStore).mark_applied(
                        key, message.type.value, message.event, self.clock.now()
                    ):
                        skipped.append(f"duplicate: {_refs(ref)} was applied before")
                        continue
                    if isinstance(message, BetSettlement):
                        outcomes = self._outcomes(known, message, i)
                        if outcomes is None:
                            raise _Skip(f"undecided: {_refs(ref)} has outcomes not yet decided")
                        job = await self.jobs.settle_market(uow, known.market_id, outcomes)
                    elif isinstance(message, RollbackBetSettlement):
                        job = await self.jobs.rollback(uow, known.market_id)
                    elif isinstance(message, BetCancel):
                        job = await self.jobs.cancel_bets(
                            uow, known.market_id, message.start or _FAR_PAST, message.end or _FAR_FUTURE
                        )
                    else:
                        job = await self.jobs.rollback_bet_cancel(
                            uow, known.market_id, message.start or _FAR_PAST, message.end or _FAR_FUTURE
                        )
            except _Skip as skip:
                skipped.append(str(skip))
                continue
            except DomainError as exc:
                skipped.append(f"refused: {_refs(ref)}: {exc.code}: {exc.message}")
                continue
            self._book.pop(known.market_id, None)
            changed.append(f"{job.kind.value} job {job.id} for {known.market_type} {_refs(ref)}")
        return Report(message.type.value, message.event, tuple(changed), tuple(skipped))

    def _outcomes(self, known: _Known, message: BetSettlement, index: int) -> list[Outcome] | None:
        result = message.markets[index]
        outcomes = []
        for o in result.outcomes:
            ours = map_outcome(result.market, o.outcome_id, self.adapter.markets)
            selection_id = known.selections.get(ours) if ours is not None else None
            if selection_id is None:
                continue
            if o.result is OutcomeResultKind.UNDECIDED:
                return None
            void = o.void_factor if o.void_factor > 0 else None
            outcomes.append(Outcome(selection_id, o.result.value, void, o.dead_heat_factor))
        return outcomes

    # ---- producers ----

    async def _alive(self, message: Alive) -> Report:
        monitor = self.monitors.get(message.producer)
        if monitor is None:
            return Report(message.type.value, None)
        await self._act(monitor.alive(message, self.clock.now()))
        await self._save_good(monitor)
        return Report(message.type.value, None, (f"{message.producer} {monitor.state.value}",))

    async def _snapshot_complete(self, message: SnapshotComplete) -> Report:
        monitor = self.monitors.get(message.producer)
        if monitor is None:
            return Report(message.type.value, None)
        await self._act(monitor.snapshot_complete(message, self.clock.now()))
        return Report(message.type.value, None, (f"{message.producer} {monitor.state.value}",))

    async def _act(self, actions: Iterable[Suspend | Recover | Resume]) -> None:
        for action in actions:
            if isinstance(action, Recover):
                log.info("feed.recovery_requested", producer=action.producer, since=action.since, id=action.request_id)
                await self.adapter.request_recovery(action.producer, action.since, action.request_id)
            else:
                log.warning(
                    "feed.producer_" + ("down" if isinstance(action, Suspend) else "up"), producer=action.producer
                )
                PRODUCER_UP.labels(self.adapter.name, action.producer).set(1 if isinstance(action, Resume) else 0)
                for market_id, book in self._book.items():
                    if book.producer == action.producer:
                        self._stage(market_id, book)
                if isinstance(action, Suspend):
                    await self.flush()  # at once, not at the next tick

    async def _save_good(self, monitor: ProducerMonitor) -> None:
        good = monitor.last_good
        saved = self._saved_good.get(monitor.producer)
        if good is None or (saved is not None and good - saved < timedelta(seconds=30)):
            return
        async with unit_of_work(self.db) as uow:
            await uow.store(FeedStore).save_last_good(self.adapter.name, monitor.producer, good, self.clock.now())
        self._saved_good[monitor.producer] = good

    # ---- the rest ----

    async def _reject(self, item: Undecodable) -> Report:
        UNDECODABLE.inc()
        log.warning("feed.undecodable", adapter=self.adapter.name, reason=item.reason, routing_key=item.routing_key)
        async with unit_of_work(self.db) as uow:
            store = uow.store(FeedStore)
            await store.reject(self.adapter.name, item.received_at, item.routing_key, item.reason, item.raw)
            await store.prune_rejects(item.received_at - _REJECTS_KEPT)
        return Report("undecodable", None, skipped=(f"undecodable: {item.reason}",))

    def _on_market(self, market: Market) -> None:
        """A trader released a market the feed prices: the feed's latest state for it applies again."""
        if market.trader_override:
            self._held.add(market.id)
        elif market.id in self._held:
            self._held.discard(market.id)
            book = self._book.get(market.id)
            if book is not None:
                self._stage(market.id, book)


class _Skip(Exception):
    """A market of a message left alone, and why (its unit of work rolls back)."""


_DEFAULT_POLICY = PricingPolicy(Decimal("0.05"))


def _describe(known: _Known, odds: MarketOdds, prices: Mapping[UUID, tuple[Decimal, bool]]) -> str:
    """`1x2 (1): home 2.10, draw 3.40, away 3.60; active`: a market's prices as staged (`off`: not bettable)."""
    outcome_of = {sid: outcome for outcome, sid in known.selections.items()}
    listed = ", ".join(
        f"{outcome_of[sid]} {price}" + ("" if active else " off") for sid, (price, active) in prices.items()
    )
    return f"{known.market_type} ({_refs(odds.market)}): {listed or 'no prices'}; {odds.status.value}"


def _refs(ref: MarketRef) -> str:
    return str(ref.market_id) + "".join(f"|{k}={v}" for k, v in ref.specifiers)


def _key(message: FeedMessage, ref: MarketRef) -> str:
    """A settlement message's identity for one of its markets: the same message resent has the same key."""
    return hashlib.sha256(repr((message, ref)).encode()).hexdigest()

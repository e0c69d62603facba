"""Betting use cases: place a bet, accept or refuse it after its in-play delay, read a player's bets.

Placement is group-committed: a request is priced against the in-memory catalogue in its own coroutine (no
database read), then joins a batch that, in one transaction, skips replays, checks liability, reserves every
stake with a pending ledger transfer (player cash into their `reserved` account, bound for house revenue) and
inserts the bets with their `bet.placed` events. The stake stays reserved until the bet is settled."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from prometheus_client import Counter, Histogram

from sportsbook.betting.liability import LiabilityBook, exposure_deltas, exposures_for
from sportsbook.betting.model import Bet, BetStatus, Leg, LegSpec, check_stake, max_stake_for_payout
from sportsbook.betting.placement import BetRequest, Quote, price, quote, request_of
from sportsbook.betting.refusals import BetNotFound, OddsChanged
from sportsbook.betting.store import BetStore, RefusalRow, bet_store
from sportsbook.catalog.model import SelectionClosed
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import Clock
from sportsbook.core.errors import DomainError, IdempotencyKeyReused, InsufficientFunds
from sportsbook.core.ids import derived_id
from sportsbook.db.batching import GroupCommitter
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading, unit_of_work
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.verbs import Movements, Result

log = structlog.get_logger("sportsbook.betting")

PLACED = Counter("sportsbook_bets_placed", "Bets placed, by outcome", ["outcome"])
PLACEMENT_SECONDS = Histogram(
    "sportsbook_bet_placement_seconds",
    "Time to accept or refuse a bet in the service",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)


@dataclass(frozen=True, slots=True)
class _Draft:
    bet_id: UUID
    player_id: UUID
    currency: str
    request: BetRequest
    quote: Quote
    fingerprint: str
    placed_at: datetime


@dataclass(frozen=True, slots=True)
class _Refused:
    """A slip refused before it reached the writer (its pricing): recorded under its key like any refusal."""

    bet_id: UUID
    player_id: UUID
    fingerprint: str
    error: DomainError


@dataclass(frozen=True, slots=True)
class _Replay:
    """This key was answered before, with the same request: answer as then."""


class RecordedRefusal(DomainError):
    """A slip refused before under the same Idempotency-Key, refused again exactly as then."""

    def __init__(self, row: RefusalRow) -> None:
        super().__init__(row.message, code=row.code, status=row.status)
        self._extra = dict(row.extra)

    @property
    def extra(self) -> dict[str, object]:
        return self._extra


_Item = _Draft | _Refused
_Outcome = Bet | _Replay | DomainError


@dataclass(frozen=True, slots=True)
class SlipQuote:
    """A bet slip priced now, and the stakes it would be struck at: `max_stake` is the largest stake per line that
    the stake and payout limits and the liability room left on its selections all take (0 when none does).
    `refusal` is the code that would refuse the slip at its own stake, if one would (funds aside)."""

    terms: Quote
    min_stake: int
    max_stake: int
    refusal: str | None


class Betting:
    """Places bets and keeps the book of what they could cost the house."""

    def __init__(self, db: Database, clock: Clock, ledger: Ledger, catalog: Catalog, *, batch_max: int = 500) -> None:
        self.db = db
        self.clock = clock
        self.ledger = ledger
        self.catalog = catalog
        # a group committer per ledger shard: a bet joins its player's, so batches of different shards commit
        # in parallel (each locks only its own shard's chain)
        self._writers: list[GroupCommitter[_Item, _Outcome]] = [
            GroupCommitter(db, self._process, max_batch=batch_max, name=f"bets:{shard}")
            for shard in range(ledger.shards)
        ]
        self._acceptor: asyncio.Task[None] | None = None
        self._stop_accepting = asyncio.Event()

    # ---- lifecycle ----

    async def start(self, *, accept_poll_s: float = 0.05) -> None:
        """Start the writers and the in-play acceptor."""
        for writer in self._writers:
            await writer.start()
        if self._acceptor is None:
            self._stop_accepting.clear()
            self._acceptor = asyncio.create_task(self._accept_forever(accept_poll_s), name="bets-acceptor")

    async def stop(self) -> None:
        acceptor, self._acceptor = self._acceptor, None
        if acceptor is not None:
            self._stop_accepting.set()
            await acceptor
        for writer in self._writers:
            await writer.stop()

    # ---- placement ----

    async def place(self, player_id: UUID, currency: str, request: BetRequest, key: str, fingerprint: str) -> Bet:
        """Strike the bet, or raise the refusal. The key's first answer, a bet or a refusal, is recorded with it:
        the same key with the same request answers it again (a bet as it was struck), another request is refused
        `idempotency_key_reused`. Replays are decided in one place, the writer's batch (`_process`)."""
        started = asyncio.get_running_loop().time()
        bet_id = derived_id("bet", player_id, key)
        now = self.clock.now()
        item: _Item
        try:
            item = _Draft(
                bet_id, player_id, currency, request, quote(request, self.catalog.view.selection, now), fingerprint, now
            )
        except DomainError as exc:
            item = _Refused(bet_id, player_id, fingerprint, exc)
        outcome = await self._writer_for(player_id).submit(item)
        PLACEMENT_SECONDS.observe(asyncio.get_running_loop().time() - started)
        if isinstance(outcome, _Replay):
            outcome = await self._first_answer(bet_id)
        if isinstance(outcome, DomainError):
            PLACED.labels(outcome.code).inc()
            raise outcome
        PLACED.labels(outcome.status).inc()
        return outcome

    def _writer_for(self, player_id: UUID) -> GroupCommitter[_Item, _Outcome]:
        """The group committer of the player's ledger shard (from memory)."""
        return self._writers[self.ledger.shard_of(player_id) % len(self._writers)]

    async def quote_slip(self, request: BetRequest) -> SlipQuote:
        """Price a slip without striking it: its terms, the stakes the limits and the liability room take, and
        whether its own stake would pass them. Raises what pricing refuses (a closed market, a changed price)."""
        terms = price(request, self.catalog.view.selection, self.clock.now())
        async with reading(self.db) as uow:  # a quote reserves nothing: every node's exposures as they stand now
            bets = uow.store(bet_store)
            book = await _shared_book(bets, set(terms.market_of.values()))
        room = book.max_acceptable_stake(terms.lines, terms.legs, terms.selection_limit, terms.market_limit)
        best = min(max_stake_for_payout(terms.lines, terms.legs, terms.limits), room)
        refusal: str | None = None
        try:
            check_stake(terms.stake, len(terms.lines), terms.potential_return, terms.limits)
            _check_liability(book, exposures_for(terms.lines, terms.legs, terms.stake), terms)
        except DomainError as exc:
            refusal = exc.code
        return SlipQuote(terms, terms.limits.min_stake, best if best >= terms.limits.min_stake else 0, refusal)

    async def _first_answer(self, bet_id: UUID) -> Bet | DomainError:
        """What this key answered first: the bet as it was struck (pending or accepted, at its first odds) or
        the refusal as it was given."""
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            bet = await bets.get(bet_id)
            if bet is None:
                refused = await bets.refusal(bet_id)
                assert refused is not None, "a replay is decided from a stored answer"
                return RecordedRefusal(refused)
            first = await bets.first_terms(bet_id) if bet.accept_at is not None else None
        return bet.as_struck(first)

    async def _process(self, uow: UnitOfWork, items: Sequence[_Item]) -> list[_Outcome]:
        bets = uow.store(bet_store)
        outcomes: list[_Outcome | None] = [None] * len(items)
        # The ledger lock of the batch's players' shards first (one shard: the batch came through its group
        # committer): it queues every node's placement batches of that shard, and settlement's listing and
        # bet-cancel windows (which take every shard) wait for it. Replays are looked up under it, so a bet
        # found new here has no stake transfer stored (both are written together). Batches of other shards run
        # at the same time: the markets' locks below keep the exposures read true until this commits, so the
        # liability limits hold across shards and nodes.
        await self.ledger.lock(uow, players={item.player_id for item in items})
        stored = await bets.existing({d.bet_id for d in items})
        seen: dict[UUID, str] = {}
        candidates: list[int] = []
        for i, item in enumerate(items):
            known = stored.get(item.bet_id, seen.get(item.bet_id))
            if known is not None:
                outcomes[i] = _Replay() if known == item.fingerprint else IdempotencyKeyReused()
                continue
            seen[item.bet_id] = item.fingerprint
            if isinstance(item, _Refused):
                outcomes[i] = item.error
            else:
                candidates.append(i)
        drafts = {i: item for i, item in enumerate(items) if isinstance(item, _Draft)}
        refused_now = await self._refusals_under_lock(
            uow, {i: (drafts[i].placed_at, drafts[i].quote.legs) for i in candidates}
        )
        for i, refusal in refused_now.items():
            outcomes[i] = refusal
        candidates = [i for i in candidates if i not in refused_now]
        markets = {leg.market_id for i in candidates for leg in drafts[i].quote.legs}
        await bets.lock_markets(markets)  # after the shard locks, as every placement batch: no deadlock
        book = await _shared_book(bets, markets)
        rows: list[Bet] = []
        # A bet the ledger refuses for funds frees the liability room it took; the bets it crowded out
        # get a second round (rare: only when a refusal for funds and one for liability meet in a batch).
        for _ in range(2):
            crowded = await self._strike(uow, book, drafts, candidates, outcomes, rows)
            if not crowded:
                break
            candidates = crowded
        await bets.insert(rows)
        await bets.add_exposure(exposure_deltas(rows, +1))
        await uow.outbox.add([bet.placed() for bet in rows])
        refused = [
            RefusalRow(item.bet_id, item.player_id, item.fingerprint, o.status, o.code, o.message, o.extra)
            for item, o in zip(items, outcomes, strict=True)
            if isinstance(o, DomainError) and not isinstance(o, IdempotencyKeyReused)
        ]
        await bets.insert_refusals(refused, self.clock.now())
        return [o if o is not None else DomainError("not decided", code="internal_error") for o in outcomes]

    async def _refusals_under_lock(
        self, uow: UnitOfWork, priced: Mapping[int, tuple[datetime, Sequence[LegSpec] | Sequence[Leg]]]
    ) -> dict[int, DomainError]:
        """The refusals only the database knows, for slips priced from memory (each: when it was priced, its
        legs), checked under the ledger lock by placement and by in-play acceptance alike, in this order:
        - a leg's market the database shows settled or cancelled (`selection_closed`): settlement lists a
          market's open bets under the same lock after marking it settled, so a bet is listed there or refused
          here;
        - a feed's bet-cancel window on a leg's market covering when it was priced (`odds_changed`): a bet
          cancel lists the bets it voids under the lock after recording its window, so a bet priced in it is
          voided there or refused here (its price is the one the feed cancelled).
        Liability comes after, in the caller, against the shared exposure rows (`_check_liability`)."""
        if not priced:
            return {}
        markets = {leg.market_id for _at, legs in priced.values() for leg in legs}
        closed = await self.catalog.closed_market_ids(uow, markets)
        since = min(at for at, _legs in priced.values())
        windows = await uow.store(bet_store).cancel_windows(markets, since)
        refused: dict[int, DomainError] = {}
        for i, (at, legs) in priced.items():
            if any(leg.market_id in closed for leg in legs):
                refused[i] = SelectionClosed("the market is closed")
                continue
            hit = next(
                (leg for leg in legs if any(start <= at < end for start, end in windows.get(leg.market_id, ()))),
                None,
            )
            if hit is not None:
                refused[i] = OddsChanged(
                    "bets struck at that time on this market were cancelled: quote again", current=hit.odds
                )
        return refused

    async def _strike(
        self,
        uow: UnitOfWork,
        book: LiabilityBook,
        drafts: Mapping[int, _Draft],
        candidates: Sequence[int],
        outcomes: list[_Outcome | None],
        rows: list[Bet],
    ) -> list[int]:
        """Check liability and reserve stakes for these drafts; returns those refused for liability that may
        fit now because a bet refused for funds gave its room back."""
        accepted: list[int] = []
        refused_for_room: list[int] = []
        for i in candidates:
            terms = drafts[i].quote
            exposures = exposures_for(terms.lines, terms.legs, terms.stake)
            try:
                _check_liability(book, exposures, terms)
            except DomainError as exc:
                outcomes[i] = exc
                refused_for_room.append(i)
                continue
            # booked now so the next bet of this batch sees it; taken back below if the bet fails
            book.add(drafts[i].bet_id, exposures)
            accepted.append(i)
        stakes = Movements()
        stake_ids = {i: derived_id("stake", drafts[i].bet_id) for i in accepted}
        for i in accepted:
            draft = drafts[i]
            stakes.reserve_stake(
                stake_ids[i],
                draft.player_id,
                draft.currency,
                draft.quote.total_stake,
                reference=f"bet:{draft.bet_id}",
            )
        # Each stake id derives from its bet's, found new under the lock in `_process`: not looked up again.
        results = await self.ledger.apply(uow, stakes, new_ids=True)
        freed = False
        for i, result in zip(accepted, results, strict=True):
            draft = drafts[i]
            if result is not Result.OK:
                book.remove(draft.bet_id)
                freed = True
                outcomes[i] = (
                    InsufficientFunds("your cash balance does not cover the stake")
                    if result is Result.INSUFFICIENT_FUNDS
                    else DomainError(f"the ledger refused the stake: {result.value}", code="stake_refused")
                )
                continue
            bet = _struck(draft, stake_ids[i])
            rows.append(bet)
            outcomes[i] = bet
        return refused_for_room if freed else []

    # ---- in-play acceptance ----

    async def accept_due(self) -> int:
        """Decide every pending bet whose delay is over: accept it at the odds struck, or refuse and release."""
        now = self.clock.now()
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            pending = await bets.due_pending(now, limit=1000)
        for bet in pending:
            await self._decide(bet)
        return len(pending)

    async def _decide(self, bet: Bet) -> None:
        """Re-check a pending bet against the catalogue now, as if placed again under its own odds-change policy:
        accept it (re-struck at the current price where its policy takes a change), or refuse it and release
        its stake. A re-strike that adds exposure is checked against the liability limits first."""
        now = self.clock.now()
        terms: Quote | None = None
        code: str | None = None
        try:
            terms = quote(request_of(bet), self.catalog.view.selection, now)
        except DomainError as exc:
            code = exc.code
        async with unit_of_work(self.db) as uow:
            bets = uow.store(bet_store)
            if await bets.lock_status(bet.id) is not BetStatus.PENDING:
                return  # another acceptor (this node's poll or another node's) decided it first
            await self.ledger.lock(uow)  # as placement: a market settled meanwhile is seen closed here
            # the same refusals as a placement batch: a market closed or a bet cancel during the delay
            refusal = (await self._refusals_under_lock(uow, {0: (bet.placed_at, bet.legs)})).get(0)
            if refusal is not None:
                terms, code = None, refusal.code
            if terms is not None:
                code = await self._restrike(bets, bet, terms)
            if code is None:
                opened, accepted = bet.accept(now)
                await bets.set_status(bet.id, opened.status, expect=bet.status)
                await uow.outbox.add([accepted])
                return
            refused, rejected = bet.reject(code, now)
            await bets.set_status(bet.id, refused.status, reject_code=code, expect=bet.status)
            release = Movements()
            release.void_hold(derived_id("stake-void", bet.id), bet.stake_transfer_id)
            (result,) = await self.ledger.apply(uow, release)
            if result not in (Result.OK, Result.EXISTS):
                raise RuntimeError(f"could not release the stake of bet {bet.id}: {result.value}")
            await bets.add_exposure(exposure_deltas([bet], -1))
            await uow.outbox.add([rejected])

    async def _restrike(self, bets: BetStore, bet: Bet, terms: Quote) -> str | None:
        """Move the bet to the odds of `terms` if they differ from those struck; the refusal code if the new
        exposure does not fit the liability limits, else None. The caller holds the ledger lock, so the
        exposures read stay true until it commits (as in placement)."""
        if all(leg.odds == new.odds for leg, new in zip(bet.legs, terms.legs, strict=True)):
            return None
        old = exposure_deltas([bet], -1)
        new = exposures_for(terms.lines, terms.legs, terms.stake)
        delta = {sel: (market, new.get(sel, 0) + amount) for sel, (market, amount) in old.items()}
        book = await _shared_book(bets, set(terms.market_of.values()))  # under the caller's ledger lock
        try:
            _check_liability(book, {sel: amount for sel, (_market, amount) in delta.items()}, terms)
        except DomainError as exc:
            return exc.code
        await bets.restrike(bet.id, [leg.odds for leg in terms.legs], terms.potential_return)
        await bets.add_exposure(delta)
        return None

    async def _accept_forever(self, poll_s: float) -> None:
        while not self._stop_accepting.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_accepting.wait(), poll_s)
            if self._stop_accepting.is_set():
                return
            try:
                await self.accept_due()
            except Exception as exc:  # keep deciding; the next pass retries
                log.warning("bets_accept_failed", error=repr(exc))

    # ---- reading ----

    async def bet(self, player_id: UUID, bet_id: UUID) -> Bet:
        """One of the player's bets, each leg with its result where its market is settled."""
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            bet = await bets.get(bet_id)
            if bet is None or bet.player_id != player_id:
                raise BetNotFound()
            return (await _with_leg_results(bets, [bet]))[0]

    async def bets(
        self, player_id: UUID, statuses: Collection[BetStatus] | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> list[Bet]:
        """The player's bets, newest first, each leg with its result where its market is settled."""
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            return await _with_leg_results(bets, await bets.of_player(player_id, statuses, limit, after))

    # ---- liability ----

    async def exposures(self, market_ids: Sequence[UUID]) -> dict[UUID, int]:
        """What each selection of these markets could cost the house now, from the shared exposure rows."""
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            return {sel: exposure for sel, _market, exposure in await bets.exposures_on_markets(market_ids)}


async def _with_leg_results(bets: BetStore, rows: list[Bet]) -> list[Bet]:
    results = await bets.results_for_markets({leg.market_id for bet in rows for leg in bet.legs})
    if not results:
        return rows

    def label(leg: Leg) -> str | None:
        found = results.get(leg.market_id, {}).get(leg.selection_id)
        return found.label.value if found else None

    return [replace(bet, legs=tuple(replace(leg, result=label(leg)) for leg in bet.legs)) for bet in rows]


def _check_liability(book: LiabilityBook, exposures: Mapping[UUID, int], terms: Quote) -> None:
    """Raise `liability_exceeded` unless these exposures fit the limits of the quote's markets."""
    book.check(
        exposures,
        terms.market_of,
        terms.selection_limit,
        terms.market_limit,
        lines=terms.lines,
        legs=terms.legs,
    )


async def _shared_book(bets: BetStore, market_ids: set[UUID]) -> LiabilityBook:
    """The liability book of these markets from the shared exposure rows (one per selection, every node's)."""
    book = LiabilityBook()
    for selection_id, _market_id, exposure in await bets.exposures_on_markets(market_ids):
        book.add(selection_id, {selection_id: exposure})
    return book


def _struck(draft: _Draft, stake_transfer_id: UUID) -> Bet:
    """The bet a draft strikes: pending its in-play delay, or open."""
    terms = draft.quote
    pending = terms.delay_s > 0
    return Bet(
        id=draft.bet_id,
        player_id=draft.player_id,
        currency=draft.currency,
        type=draft.request.type.value,
        system=draft.request.system,
        each_way=draft.request.each_way,
        odds_change=draft.request.odds_change.value,
        stake=terms.stake,
        lines=len(terms.lines),
        total_stake=terms.total_stake,
        potential_return=terms.potential_return,
        status=BetStatus.PENDING if pending else BetStatus.OPEN,
        reject_code=None,
        return_amount=None,
        request_hash=draft.fingerprint,
        placed_at=draft.placed_at,
        accept_at=draft.placed_at + timedelta(seconds=terms.delay_s) if pending else None,
        settled_at=None,
        stake_transfer_id=stake_transfer_id,
        legs=tuple(
            Leg(
                leg.selection_id,
                leg.market_id,
                leg.event_id,
                leg.odds,
                leg.each_way.text() if leg.each_way else None,
                leg.each_way.places if leg.each_way else None,
            )
            for leg in terms.legs
        ),
    )

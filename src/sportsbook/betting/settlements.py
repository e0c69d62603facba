"""Settlement use cases: result a market, roll it back, resettle, withdraw a runner, cash a bet out.

Money, per bet (the stake S is reserved at placement by pending transfer P, player cash -> reserved -> revenue):
- settled with return R while P is open: R == S -> void P (all back); R < S -> post P for (S - R), the rest
  released back to cash; R > S -> post P in full and pay R from revenue;
- rolled back: S back from revenue to cash and held again by a new pending transfer P' (cash -> reserved, bound
  for revenue), which becomes the bet's stake transfer; R taken back from cash to revenue (what the player no
  longer holds is booked as a receivable on them). Linked, all or nothing. The wallet reads as before the
  settlement (cash and reserved), and the next settlement posts or voids P' as the first did P;
- settled while its stake is not held (a bet reopened before rollbacks held stakes again): pay R from revenue.
So a player's net for a bet is always -S + R once settled, -S with S reserved while open, and every step is a
ledger transfer with an id derived from the bet and its settle count."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any
from uuid import UUID

from sportsbook.betting.cashout import LegState, OpenLeg, SettledLeg, cashout_value, within_tolerance
from sportsbook.betting.liability import exposure_deltas
from sportsbook.betting.model import Bet, BetStatus, BetType, Leg, Line, LinePart, line_ratios
from sportsbook.betting.refusals import BetNotFound, BetNotOpen, CashoutPriceChanged, CashoutUnavailable
from sportsbook.betting.settlement_rules import (
    ZERO,
    BetSettlement,
    InvalidSettlement,
    LegResult,
    Part,
    SelectionResult,
    SettlementPlan,
    explicit_result,
    leg_multiplier,
    plan_bet,
    result_from_score,
    rule4_deduction,
    total_deduction,
)
from sportsbook.betting.store import BetStore, bet_store, decode_results
from sportsbook.catalog.model import EventStatus, Market, MarketStatus, SelectionStatus, is_open_for_bets
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import Clock
from sportsbook.core.errors import Conflict, DomainError, NotFound
from sportsbook.core.ids import derived_id, new_id
from sportsbook.core.markets import SCORE_BASED, Score
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading, unit_of_work
from sportsbook.ledger.model import Transfer
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.verbs import Movements, Result


class MarketAlreadySettled(Conflict):
    """The market is settled already; roll the settlement back first to resettle it."""

    code = "market_already_settled"


class EventAlreadyResulted(Conflict):
    """The event was resulted with another score; roll its settlements back first to result it again."""

    code = "event_already_resulted"


class SettlementNotFound(NotFound):
    """The market has no settlement to roll back."""

    code = "settlement_not_found"


class BetCancelNotFound(NotFound):
    """The market has no standing bet cancel of that window to roll back."""

    code = "bet_cancel_not_found"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One selection's result as staff or a feed sends it."""

    selection_id: UUID
    result: str  # won, placed, lost, void
    void_factor: Decimal | None = None
    dead_heat_factor: Decimal | None = None


_STATUS_OF = {
    LegResult.WON: SelectionStatus.WON,
    LegResult.HALF_WON: SelectionStatus.WON,
    LegResult.PLACED: SelectionStatus.PLACED,
    LegResult.VOID: SelectionStatus.VOID,
    LegResult.HALF_LOST: SelectionStatus.LOST,
    LegResult.LOST: SelectionStatus.LOST,
}


@dataclass(frozen=True, slots=True)
class ChunkDone:
    """What one committed chunk of a job did: the bets it walked (up to `last_id`, in id order), the bets it
    closed and the bets it reopened, each as (status, total stake, return; for a reopened bet, the status and
    return it had)."""

    last_id: UUID
    walked: int
    settled: Sequence[tuple[str, int, int]] = ()
    reopened: Sequence[tuple[str, int, int]] = ()


# Called in each chunk's unit of work before it commits: a job records its progress with the chunk.
OnChunk = Callable[[UnitOfWork, ChunkDone], Awaitable[None]]


async def _no_progress(_uow: UnitOfWork, _done: ChunkDone) -> None:
    return None


class Settlements:
    """The settlement use cases. Results, rollbacks and bet cancels are accepted in the caller's unit of work
    (the request's, which queues the job with them: the market closes to new bets at once), then their bets are
    walked chunk by chunk in id order, each chunk in its own transaction under the ledger lock (a job's work,
    in a worker). Also: withdraw a runner, cash a bet out. Its collaborators are its own: the database (each
    use case's unit of work, where the bet store lives), the ledger's verbs and the catalogue's service."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        ledger: Ledger,
        catalog: Catalog,
        *,
        chunk: int = 200,
        cashout_margin: Decimal = Decimal("0.05"),
    ) -> None:
        self.db = db
        self.chunk = chunk  # bets per settlement transaction
        self.clock = clock
        self.ledger = ledger
        self.catalog = catalog
        self.cashout_margin = cashout_margin

    # ---- accepting: in the caller's unit of work ----

    async def accept_settlement(self, uow: UnitOfWork, market_id: UUID, outcomes: Sequence[Outcome]) -> None:
        """Result a market from explicit outcomes (unnamed running selections lose): the results are recorded
        and the market settled in the catalogue, closed to bets; its bets are left for `settle_chunks`."""
        market = self.catalog.market(market_id)
        await self._record(uow, market, self._explicit_results(market, outcomes))

    async def accept_result(self, uow: UnitOfWork, event_id: UUID, score: Score) -> list[UUID]:
        """End an event with its final score and result every open score-based market of it; the ids of the
        markets resulted. The same score again results only what was rolled back since; another score than
        the ended event's is refused (`event_already_resulted`) while any of its score-based markets is still
        settled, however it was settled."""
        event = self.catalog.event(event_id)
        if event.competitors is None:
            raise InvalidSettlement("only two-sided events are resulted from a score")
        settled = [m for m in event.markets if m.type in SCORE_BASED and m.status is MarketStatus.SETTLED]
        if event.status is EventStatus.ENDED and event.score is not None and event.score != score and settled:
            raise EventAlreadyResulted(
                f"the event was resulted {event.score.home}:{event.score.away} and {len(settled)} of its score-based"
                " markets are settled: roll their settlements back first to result it with another score"
            )
        if event.status is EventStatus.UPCOMING:  # resulted without going live first (e.g. a late feed)
            await self.catalog.update_event_in(uow, event_id, status=EventStatus.LIVE)
        if event.status is not EventStatus.ENDED or event.score != score:
            await self.catalog.update_event_in(uow, event_id, status=EventStatus.ENDED, score=score)
        stored = await self.catalog.stored_event(uow, event_id)
        assert stored is not None  # it was locked and changed above, or is in memory and never deleted
        resulted = []
        for market in stored.markets:
            if market.type not in SCORE_BASED or market.status not in (MarketStatus.ACTIVE, MarketStatus.SUSPENDED):
                continue
            results = {
                s.id: (
                    _VOID
                    if s.status is SelectionStatus.NON_RUNNER
                    else result_from_score(market.type, market.specifiers, s.outcome, score)
                )
                for s in market.selections
            }
            await self._record(uow, market, results)
            resulted.append(market.id)
        return resulted

    async def accept_void(self, uow: UnitOfWork, market_id: UUID) -> bool:
        """Record a cancelled market's results as all void, once per cancellation and only while it is still
        cancelled (a late or repeated event must not void it again after the cancellation was rolled back);
        False when there is nothing to void."""
        market = self.catalog.market(market_id)
        bets = uow.store(bet_store)
        stored = await self.catalog.stored_event(uow, market.event_id)
        if stored is None or stored.market(market_id).status is not MarketStatus.CANCELLED:
            return False
        if await bets.has_settlement(market_id):
            return False
        await bets.insert_settlement(new_id(), market_id, {s.id: _VOID for s in market.selections}, self.clock.now())
        return True

    async def accept_rollback(self, uow: UnitOfWork, market_id: UUID) -> None:
        """Undo a market's settlement: its results are stamped rolled back and the market is suspended again
        (a cancelled market's void settlement rolls back the same way: the cancellation is undone); the bets
        it closed are left for `reopen_chunk`. Safe while the settlement is still being walked: chunks written
        after this commits find the results gone."""
        self.catalog.market(market_id)  # market_not_found before anything is written
        if not await uow.store(bet_store).roll_back_settlement(market_id, self.clock.now()):
            raise SettlementNotFound()
        await self.catalog.unsettle_market(uow, market_id)

    async def accept_bet_cancel(self, uow: UnitOfWork, market_id: UUID, start: datetime, end: datetime) -> None:
        """A feed's bet cancel: the window [start, end) is recorded under the ledger lock, so a bet priced in it
        but not yet written is refused by its placement batch (see `Betting`); the bets placed in it are left for
        `cancel_chunk`."""
        self.catalog.market(market_id)
        if not start < end:
            raise InvalidSettlement("the window must end after it starts")
        await self.ledger.lock(uow)
        await uow.store(bet_store).insert_bet_cancellation(new_id(), market_id, start, end, self.clock.now())

    async def accept_bet_cancel_rollback(
        self, uow: UnitOfWork, market_id: UUID, start: datetime, end: datetime
    ) -> None:
        """A feed's rollback of its bet cancel of [start, end): the window stops voiding anything, under the ledger
        lock (a bet priced in it is no longer refused); the bets placed in it are left for `uncancel_chunk`.
        `bet_cancel_not_found` when no such cancel stands."""
        self.catalog.market(market_id)
        await self.ledger.lock(uow)
        if not await uow.store(bet_store).roll_back_bet_cancellation(market_id, start, end, self.clock.now()):
            raise BetCancelNotFound()

    def _explicit_results(self, market: Market, outcomes: Sequence[Outcome]) -> dict[UUID, SelectionResult]:
        ids = {s.id for s in market.selections}
        named: dict[UUID, SelectionResult] = {}
        for outcome in outcomes:
            if outcome.selection_id not in ids:
                raise InvalidSettlement(f"selection {outcome.selection_id} is not in this market")
            if outcome.selection_id in named:
                raise InvalidSettlement(f"selection {outcome.selection_id} is named twice")
            if outcome.result not in ("won", "placed", "lost", "void"):
                raise InvalidSettlement(f"result {outcome.result!r} is not won, placed, lost or void")
            if outcome.result == "placed" and market.each_way is None:
                raise InvalidSettlement("`placed` needs a market with each-way terms")
            named[outcome.selection_id] = explicit_result(
                outcome.result, outcome.void_factor, outcome.dead_heat_factor, market.each_way
            )
        results: dict[UUID, SelectionResult] = {}
        for selection in market.selections:
            if selection.status is SelectionStatus.NON_RUNNER:
                results[selection.id] = _VOID
            else:
                results[selection.id] = named.get(selection.id, _LOST)
        return results

    async def _record(self, uow: UnitOfWork, market: Market, results: Mapping[UUID, SelectionResult]) -> None:
        if market.status in (MarketStatus.SETTLED, MarketStatus.CANCELLED):
            raise MarketAlreadySettled()
        await uow.store(bet_store).insert_settlement(new_id(), market.id, results, self.clock.now())
        withdrawn = {s.id for s in market.selections if s.status is SelectionStatus.NON_RUNNER}
        statuses = {sid: _STATUS_OF[r.label] for sid, r in results.items() if sid not in withdrawn}
        await self.catalog.settle_market_selections(uow, market.id, statuses)

    # ---- listing a job's bets: under the ledger lock ----

    async def open_bets_on(self, market_id: UUID, after: UUID | None = None) -> list[UUID]:
        """The market's open bets after `after`, in id order, listed under the ledger lock: a placement batch or
        an in-play acceptance that priced a bet before the market closed either committed it before this list,
        or finds the market closed in the database under the same lock and refuses it."""
        async with unit_of_work(self.db) as uow:
            await self.ledger.lock(uow)
            return await uow.store(bet_store).open_bet_ids_on(market_id, after)

    async def settled_bets_on(self, market_id: UUID, after: UUID | None = None) -> list[UUID]:
        """The bets with a leg on the market that a settlement closed, after `after`, in id order, listed under
        the ledger lock: a settlement chunk still being written commits before the list."""
        async with unit_of_work(self.db) as uow:
            await self.ledger.lock(uow)
            return await uow.store(bet_store).settled_bet_ids_on(market_id, after)

    async def bets_in_window(
        self, market_id: UUID, start: datetime, end: datetime, after: UUID | None = None
    ) -> list[UUID]:
        """The bets on the market placed in [start, end) after `after`, in id order, under the ledger lock."""
        async with unit_of_work(self.db) as uow:
            await self.ledger.lock(uow)
            return await uow.store(bet_store).bet_ids_placed_on(market_id, start, end, after)

    # ---- walking a job's bets: a transaction per chunk ----

    async def settle_chunks(
        self, chunks: Sequence[Sequence[UUID]], on_chunk: OnChunk = _no_progress, now: datetime | None = None
    ) -> int:
        """Settle chunk after chunk, each in its own transaction under the ledger lock, and the number settled.
        The next chunk is read and worked out outside the lock while the current one is written, so Python and
        the database overlap; a chunk is written as worked out only if what decided it still holds under the
        lock, else it is decided again there (a cash-out, a rollback or a withdrawal came in between)."""
        now = now or self.clock.now()
        settled = 0
        upcoming: asyncio.Task[_Chunk] | None = None
        try:
            for i, chunk in enumerate(chunks):
                current = await upcoming if upcoming is not None else await self._read_chunk(chunk)
                upcoming = asyncio.create_task(self._read_chunk(chunks[i + 1])) if i + 1 < len(chunks) else None
                settled += await self._write_chunk(current, now, on_chunk)
        finally:
            if upcoming is not None and not upcoming.done():
                upcoming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upcoming
        return settled

    async def _read_chunk(self, bet_ids: Sequence[UUID]) -> _Chunk:
        async with reading(self.db) as uow:
            return await self._work_out(uow, bet_ids)

    async def _write_chunk(self, chunk: _Chunk, now: datetime, on_chunk: OnChunk) -> int:
        async with unit_of_work(self.db) as uow:
            await self.ledger.lock(uow)
            if not await self._still_holds(uow.store(bet_store), chunk):
                chunk = await self._work_out(uow, chunk.bet_ids)
            # Each transfer id derives from its bet and the bet's settle count, which every transfer of that
            # name moves on in its own transaction: the bets open at the counts checked above have none stored.
            await self._apply(uow, chunk.movements, chunk.pending, new_ids=True)
            await self._mark_settled(uow, chunk.done, now, chunk.exposure)
            await on_chunk(uow, ChunkDone(chunk.bet_ids[-1], len(chunk.bet_ids), _closed(chunk.done)))
        return len(chunk.done)

    async def _work_out(self, uow: UnitOfWork, bet_ids: Sequence[UUID]) -> _Chunk:
        """What settling these bets takes, from what `uow` sees: the open bets, the results, withdrawals and
        void legs that decide them, the ledger's movements, the bets' closing and their exposure."""
        bets = uow.store(bet_store)
        rows = await bets.open_bets(bet_ids)
        markets = {leg.market_id for b in rows for leg in b.legs}
        plans = await _read_plans(bets, markets, [b.id for b in rows])
        chunk = _Chunk(list(bet_ids), {b.id: b.settle_count for b in rows}, markets, plans)
        for bet in rows:
            settled = plans.settle(bet, chunk.exposure)
            if settled is None:
                continue
            _pay_out(chunk.movements, bet, settled.total_return)
            chunk.done.append((bet, BetStatus(settled.status.value), settled.total_return))
        held = [bet.stake_transfer_id for bet, _status, _return in chunk.done if bet.stake_state == "held"]
        chunk.pending = await self.ledger.pending_transfers(uow, held)  # rows never change: read with the bets
        return chunk

    async def _still_holds(self, bets: BetStore, chunk: _Chunk) -> bool:
        """Whether the bets open when `chunk` was worked out are the open ones now (each settled as many times as
        then), under the same results, withdrawals and void legs. Under the ledger lock nothing changes them."""
        plans = chunk.plans
        return (
            await bets.open_settle_counts(chunk.bet_ids) == chunk.open
            and await bets.stored_results(chunk.markets) == plans.stored
            and await bets.withdrawals(chunk.markets) == plans.withdrawals
            and await bets.voided_legs(list(chunk.open)) == plans.voids
        )

    # ---- rollback and bet cancels ----

    async def reopen_chunk(self, bet_ids: Sequence[UUID], on_chunk: OnChunk = _no_progress) -> int:
        """Reopen the bets among `bet_ids` that a rolled-back settlement closed, in one transaction
        under the ledger lock, and the number reopened: their money returns (see `_reopen`).

        A settled bet that the results still standing decide without this market (a multiple lost on another
        market) is not reopened: what it paid does not depend on this market's result (see `plan_bet`), so
        reopening it would only leave it open on a loss no one will settle again."""
        async with unit_of_work(self.db) as uow:
            bets = uow.store(bet_store)
            await self.ledger.lock(uow)
            settled = await bets.settled_bets(bet_ids)
            standing = await _read_plans(
                bets, {leg.market_id for b in settled for leg in b.legs}, [b.id for b in settled]
            )
            reopened = [bet for bet in settled if not standing.decides(bet)]
            await self._reopen(uow, reopened, self.clock.now())
            await on_chunk(uow, ChunkDone(bet_ids[-1], len(bet_ids), reopened=_opened(reopened)))
        return len(reopened)

    async def cancel_chunk(self, market_id: UUID, bet_ids: Sequence[UUID], on_chunk: OnChunk = _no_progress) -> int:
        """A bet cancel's chunk, in one transaction under the ledger lock: the legs on the market of these bets
        (placed in the window) become void, those already settled reopen, and those the void leg decides settle
        again (a single comes back void); the number settled."""
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            bets = uow.store(bet_store)
            await self.ledger.lock(uow)
            await bets.void_legs(bet_ids, market_id, now)
            reopened = await bets.settled_bets(bet_ids)
            await self._reopen(uow, reopened, now)
            chunk = await self._work_out(uow, bet_ids)
            await self._apply(uow, chunk.movements, chunk.pending, new_ids=True)
            await self._mark_settled(uow, chunk.done, now, chunk.exposure)
            done = ChunkDone(bet_ids[-1], len(bet_ids), _closed(chunk.done), _opened(reopened))
            await on_chunk(uow, done)
        return len(chunk.done)

    async def uncancel_chunk(self, market_id: UUID, bet_ids: Sequence[UUID], on_chunk: OnChunk = _no_progress) -> int:
        """A bet cancel's rollback chunk, in one transaction under the ledger lock: the legs on the market of these
        bets count again (unless another standing cancel voids them), those the cancel settled reopen, and those
        the standing results decide settle again (a single on a settled market is paid as its result says); the
        number settled."""
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            bets = uow.store(bet_store)
            await self.ledger.lock(uow)
            await bets.unvoid_legs(bet_ids, market_id)
            reopened = await bets.settled_bets(bet_ids)
            await self._reopen(uow, reopened, now)
            chunk = await self._work_out(uow, bet_ids)
            await self._apply(uow, chunk.movements, chunk.pending, new_ids=True)
            await self._mark_settled(uow, chunk.done, now, chunk.exposure)
            done = ChunkDone(bet_ids[-1], len(bet_ids), _closed(chunk.done), _opened(reopened))
            await on_chunk(uow, done)
        return len(chunk.done)

    async def _reopen(self, uow: UnitOfWork, settled: Sequence[Bet], now: datetime) -> None:
        """Open these settled bets again with their stakes reserved, and take back what they paid (in the caller's
        unit of work, which holds the ledger lock): each player's wallet reads as it did before the settlement.

        Per bet: the stake S comes back from revenue and is held again by a new pending transfer, the bet's stake
        transfer from then on (`reserve_stake_again`, all or nothing; it leaves cash as it was); then the return
        R is taken back, from cash for what it covers and as owed on the player for the rest (`take_back_return`).
        Whether the settlement posted the hold in full, in part or voided it, S and R undo it: the player's net
        for the bet was -S + R."""
        bets = uow.store(bet_store)
        moves = Movements()
        holds: list[tuple[UUID, UUID]] = []
        for bet in settled:
            n = bet.settle_count + 1
            reference = f"bet:{bet.id}"
            hold_id = derived_id("stake-again", bet.id, n)
            moves.reserve_stake_again(
                derived_id("unsettle-stake", bet.id, n),
                hold_id,
                bet.player_id,
                bet.currency,
                bet.total_stake,
                reference,
            )
            holds.append((bet.id, hold_id))
            paid = bet.return_amount or 0
            if paid > 0:
                ids = (derived_id("unsettle-cash", bet.id, n), derived_id("unsettle-owed", bet.id, n))
                moves.take_back_return(ids, bet.player_id, bet.currency, paid, reference=reference)
        await self._apply(uow, moves)
        await bets.reopen(holds)
        await bets.add_exposure(exposure_deltas(settled, +1))
        await uow.outbox.add([bet.reopen(now)[1] for bet in settled])

    # ---- non-runners ----

    async def non_runner(self, market_id: UUID, selection_id: UUID, odds_at_withdrawal: Decimal) -> Fraction:
        """Withdraw a runner: its bets become void legs; winning bets struck before now get its Rule 4 deduction."""
        market = self.catalog.market(market_id)
        if market.selection(selection_id) is None:
            raise InvalidSettlement("that selection is not in this market")
        deduction = rule4_deduction(odds_at_withdrawal)
        async with unit_of_work(self.db) as uow:
            await self.catalog.mark_non_runner(uow, selection_id)
            await uow.store(bet_store).insert_non_runner(selection_id, market_id, odds_at_withdrawal, self.clock.now())
        return deduction

    # ---- cash-out ----

    async def cashout_quote(self, player_id: UUID, bet_id: UUID) -> int:
        """What the house pays now to close the bet, else `cashout_unavailable` (or `bet_not_open`, as a cash-out
        of it would answer)."""
        async with reading(self.db) as uow:
            bets = uow.store(bet_store)
            bet = await bets.get(bet_id)
            if bet is None or bet.player_id != player_id:
                raise BetNotFound()
            known = await bets.results_for_markets({leg.market_id for leg in bet.legs})
        return self._cashout_value(bet, known)

    async def cashout_in(self, uow: UnitOfWork, player_id: UUID, bet_id: UUID, amount: int) -> int:
        """Close the bet for the quoted `amount` if the value now is at least that; pays exactly `amount`. In the
        caller's unit of work (the Idempotency-Key's, which records the answer with it)."""
        bets = uow.store(bet_store)
        now = self.clock.now()
        await self.ledger.lock(uow)
        rows = await bets.open_bets([bet_id])
        if not rows or rows[0].player_id != player_id:
            found = await bets.get(bet_id) if not rows else None
            if found is not None and found.player_id == player_id:
                raise BetNotOpen(f"the bet is {found.status}: only an open bet can be cashed out")
            raise BetNotFound()
        bet = rows[0]
        value = self._cashout_value(bet, await bets.results_for_markets({leg.market_id for leg in bet.legs}))
        if not within_tolerance(amount, value):
            raise CashoutPriceChanged(f"the cash-out value is now {value}")
        moves = Movements()
        _pay_out(moves, bet, amount)
        await self._apply(uow, moves)
        await self._mark_settled(uow, [(bet, BetStatus.CASHED_OUT, amount)], now)
        return amount

    def _cashout_value(self, bet: Bet, known: Mapping[UUID, Mapping[UUID, SelectionResult]]) -> int:
        if bet.status is not BetStatus.OPEN:
            raise BetNotOpen(f"the bet is {bet.status}: only an open bet can be cashed out")
        if BetType(bet.type) is BetType.SYSTEM:
            raise CashoutUnavailable("cash-out is offered on open singles and multiples")
        legs, lines = bet.legs_and_lines()
        states: list[LegState] = []
        for leg in legs:
            result = known.get(leg.market_id, {}).get(leg.selection_id)
            if result is not None:
                win = leg_multiplier(result, leg.odds, LinePart.WIN, leg.each_way)
                place = leg_multiplier(result, leg.odds, LinePart.PLACE, leg.each_way) if leg.each_way else None
                states.append(SettledLeg(win, place))
                continue
            found = self.catalog.view.selection(leg.selection_id)
            if found is None:
                raise CashoutUnavailable("a leg's market is gone")
            event, market, selection = found
            states.append(OpenLeg(selection.odds, is_open_for_bets(event, market, selection)))
        value = cashout_value(stake=bet.stake, lines=lines, legs=legs, leg_states=states, margin=self.cashout_margin)
        if value is None or value <= 0:
            raise CashoutUnavailable("cash-out is not offered on this bet right now")
        return value

    # ---- money ----

    async def _apply(
        self,
        uow: UnitOfWork,
        moves: Movements,
        pending: Mapping[UUID, Transfer] | None = None,
        *,
        new_ids: bool = False,
    ) -> None:
        results = await self.ledger.apply(uow, moves, known_pending=pending, new_ids=new_ids)
        failed = [r for r in results if r not in (Result.OK, Result.EXISTS)]
        if failed:
            raise DomainError(f"the ledger refused settlement movements: {failed[:3]}", code="settlement_refused")

    async def _mark_settled(
        self,
        uow: UnitOfWork,
        done: Sequence[tuple[Bet, BetStatus, int]],
        now: datetime,
        exposure: Mapping[UUID, tuple[UUID, int]] | None = None,
    ) -> None:
        """Close bets with their status and return (each through the entity's transition, which checks the move
        and makes its `bet.settled` event), and take them off the liability book (`exposure`, when the caller
        worked it out while settling, is what they held)."""
        if not done:
            return
        events = [
            (b.cash_out(amount, now) if status is BetStatus.CASHED_OUT else b.settle(status, amount, now))[1]
            for b, status, amount in done
        ]
        bets = uow.store(bet_store)
        await bets.mark_settled([(b.id, status.value, amount) for b, status, amount in done], now)
        await bets.add_exposure(exposure_deltas([b for b, _s, _a in done], -1) if exposure is None else exposure)
        await uow.outbox.add(events)


def _pay_out(moves: Movements, bet: Bet, amount: int) -> None:
    """The movements that leave the player with -total stake + `amount` for this bet: its hold (while held)
    voided when everything comes back, else posted for what was lost (the rest released) or in full, and what
    the return adds beyond the stake paid from revenue."""
    n = bet.settle_count + 1
    pay = amount
    if bet.stake_state == "held":
        stake_id = derived_id("settle-stake", bet.id, n)
        total = bet.total_stake
        if amount == total:  # everything back: release the hold
            moves.void_hold(stake_id, bet.stake_transfer_id)
            pay = 0
        elif amount < total:  # keep what was lost; the rest is released back to cash with the post
            moves.post_stake(stake_id, bet.stake_transfer_id, total - amount)
            pay = 0
        else:  # the stake goes to revenue and the whole return is paid from it
            moves.post_stake(stake_id, bet.stake_transfer_id, total)
    if pay > 0:
        moves.pay_return(
            derived_id("settle-pay", bet.id, n), bet.player_id, bet.currency, pay, reference=f"bet:{bet.id}"
        )


_VOID = SelectionResult(Part(Fraction(0), Fraction(1)), Part(Fraction(0), Fraction(1)), LegResult.VOID)
_LOST = SelectionResult(Part(Fraction(0), Fraction(0)), Part(Fraction(0), Fraction(0)), LegResult.LOST)


async def _read_plans(bets: BetStore, markets: set[UUID], bet_ids: Sequence[UUID]) -> _Plans:
    """What decides these bets, as `conn` sees it: the results in force on their markets, the withdrawals
    there and their void legs."""
    return _Plans(
        await bets.stored_results(markets),
        await bets.withdrawals(markets),
        await bets.voided_legs(bet_ids),
    )


def chunks(ids: Sequence[UUID], size: int) -> list[list[UUID]]:
    """`ids` in chunks of `size`, in order: a chunk is one settlement transaction."""
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def _closed(done: Sequence[tuple[Bet, BetStatus, int]]) -> list[tuple[str, int, int]]:
    return [(status.value, bet.total_stake, amount) for bet, status, amount in done]


def _opened(reopened: Sequence[Bet]) -> list[tuple[str, int, int]]:
    return [(bet.status.value, bet.total_stake, bet.return_amount or 0) for bet in reopened]


@dataclass(slots=True)
class _Chunk:
    """A chunk of bets worked out for settlement, and what it was worked out from."""

    bet_ids: list[UUID]
    open: dict[UUID, int]  # the bets found open -> how many times each had been settled
    markets: set[UUID]  # every market their legs are on
    plans: _Plans  # the results, withdrawals and void legs read
    movements: Movements = field(default_factory=Movements)
    done: list[tuple[Bet, BetStatus, int]] = field(default_factory=list)  # (bet, status, return)
    exposure: dict[UUID, tuple[UUID, int]] = field(default_factory=dict)  # what the settled bets held
    pending: dict[UUID, Transfer] = field(default_factory=dict)  # the stake holds the transfers close


class _Plans:
    """Settles a chunk's bets: each distinct combination of lines, odds, results and Rule 4 deductions is planned
    once (`plan_bet`), each bet then costs a few integer operations."""

    def __init__(
        self,
        stored: Mapping[UUID, Mapping[str, Any]],
        withdrawals: Mapping[UUID, Sequence[tuple[UUID, datetime, Decimal]]],
        voids: set[tuple[UUID, UUID]],
    ) -> None:
        self.stored = stored  # the results as read, to compare under the lock
        self.known = {market: decode_results(results) for market, results in stored.items()}
        self.withdrawals = withdrawals  # as read, to compare under the lock
        # each withdrawal's Rule 4 deduction, worked out once per chunk (the rule is the rules module's)
        self._deductions = {
            market: [(sel, when, rule4_deduction(odds)) for sel, when, odds in withdrawn]
            for market, withdrawn in withdrawals.items()
        }
        self.voids = voids
        # plan key -> (plan or None while a line is undecided, lines, each line's odds as (num, den) for the
        # exposure). An open leg is in the key as its result None, so a bet decided early (a leg lost, others
        # open) shares its plan only with bets of its shape open on the same legs.
        self._plans: dict[tuple[object, ...], tuple[SettlementPlan | None, list[Line], list[tuple[int, int]]]] = {}

    def settle(self, bet: Bet, exposure: dict[UUID, tuple[UUID, int]]) -> BetSettlement | None:
        """The bet's settlement once every line is decided (None before), taking what it held off `exposure`
        (on every selection of the bet, its open legs' too)."""
        results = [self._result(bet, leg) for leg in bet.legs]
        deductions = [self._deduction(bet, leg) for leg in bet.legs]
        # Results enter the key by identity: each is one object of `known` (or _VOID), alive as long as this
        # cache, and hashing their Fractions for every bet was a third of the loop. Deductions are mostly 0.
        shape = (
            (leg.odds, leg.each_way_fraction, leg.each_way_places, id(result), deduction or 0)
            for leg, result, deduction in zip(bet.legs, results, deductions, strict=True)
        )
        key = (bet.type, bet.system, bet.each_way, *shape)
        entry = self._plans.get(key)
        if entry is None:
            legs, lines = bet.legs_and_lines()
            entry = self._plans[key] = (plan_bet(lines, legs, results, deductions), lines, line_ratios(lines, legs))
        plan, lines, ratios = entry
        if plan is None:
            return None
        stake = bet.stake
        for line, (num, den) in zip(lines, ratios, strict=True):
            profit = stake * num // den - stake  # as `exposures_for` counts it at placement
            for i in line.legs:
                leg = bet.legs[i]
                market, held = exposure.get(leg.selection_id, (leg.market_id, 0))
                exposure[leg.selection_id] = (market, held - profit)
        return plan.settle(stake)

    def decides(self, bet: Bet) -> bool:
        """Whether these results decide the bet (a rollback keeps such a bet settled). It asks `settle`, on an
        exposure of its own, so that a settlement's per-bet path carries nothing for it."""
        return self.settle(bet, {}) is not None

    def _result(self, bet: Bet, leg: Leg) -> SelectionResult | None:
        if (bet.id, leg.market_id) in self.voids:
            return _VOID
        return self.known.get(leg.market_id, {}).get(leg.selection_id)

    def _deduction(self, bet: Bet, leg: Leg) -> Fraction:
        withdrawn = self._deductions.get(leg.market_id)
        if not withdrawn:
            return ZERO
        return total_deduction(d for sel, when, d in withdrawn if sel != leg.selection_id and when > bet.placed_at)

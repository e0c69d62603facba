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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.betting import store
from sportsbook.betting.cashout import LegState, OpenLeg, SettledLeg, cashout_value
from sportsbook.betting.model import BetType, CashoutPriceChanged, CashoutUnavailable, Line, LinePart, line_ratios
from sportsbook.betting.service import BetNotFound, Betting, exposure_deltas, legs_and_lines
from sportsbook.betting.settlement import (
    ZERO,
    BetSettlement,
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
from sportsbook.betting.store import BetRow, LegRow
from sportsbook.catalog import store as catalog_store
from sportsbook.catalog.model import EventStatus, Market, MarketStatus, SelectionStatus
from sportsbook.core.errors import Conflict, DomainError, InvalidRequest, NotFound
from sportsbook.core.ids import derived_id, new_id
from sportsbook.core.markets import SCORE_BASED, Score
from sportsbook.events import outbox
from sportsbook.events.bus import EventBus
from sportsbook.events.model import Event
from sportsbook.ledger.model import HOUSE, AccountKind, Phase, Result, Transfer, TransferRequest, player_owner
from sportsbook.ledger.store import AccountKey

CHUNK = 2_000  # bets per settlement transaction


class MarketAlreadySettled(Conflict):
    """The market is settled already; roll the settlement back first to resettle it."""

    code = "market_already_settled"


class EventAlreadyResulted(Conflict):
    """The event was resulted with another score; roll its settlements back first to result it again."""

    code = "event_already_resulted"


class BetNotOpen(Conflict):
    """The bet is not open (settled, cashed out, still pending or refused): only an open bet can be cashed out."""

    code = "bet_not_open"


class SettlementNotFound(NotFound):
    """The market has no settlement to roll back."""

    code = "settlement_not_found"


class InvalidSettlement(InvalidRequest):
    """The settlement does not fit the market."""

    code = "invalid_settlement"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One selection's result as staff or a feed sends it."""

    selection_id: UUID
    result: str  # won, placed, lost, void
    void_factor: Decimal | None = None
    dead_heat_factor: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SettlementReport:
    market_id: UUID
    settled_bets: int
    reopened_bets: int = 0


_STATUS_OF = {
    LegResult.WON: SelectionStatus.WON,
    LegResult.HALF_WON: SelectionStatus.WON,
    LegResult.PLACED: SelectionStatus.PLACED,
    LegResult.VOID: SelectionStatus.VOID,
    LegResult.HALF_LOST: SelectionStatus.LOST,
    LegResult.LOST: SelectionStatus.LOST,
}


class Settler:
    """Settles bets through the ledger, market by market."""

    def __init__(
        self, betting: Betting, bus: EventBus | None = None, *, cashout_margin: Decimal = Decimal("0.05")
    ) -> None:
        self.betting = betting
        if bus is not None:  # a cancelled market voids its bets, whichever node cancelled it
            bus.subscribe("betting-market-voids", ["catalog.market_changed"], self._on_market_changed)
        self.db = betting.db
        self.clock = betting.clock
        self.ledger = betting.ledger
        self.catalog = betting.catalog
        self.cashout_margin = cashout_margin

    # ---- resulting ----

    async def settle_market(self, market_id: UUID, outcomes: Sequence[Outcome]) -> SettlementReport:
        """Result a market from explicit outcomes (unnamed running selections lose) and settle its bets."""
        market = self.catalog.market(market_id)
        results = self._explicit_results(market, outcomes)
        return await self._settle(market, results)

    async def result_event(self, event_id: UUID, score: Score) -> list[SettlementReport]:
        """Result every open score-based market of an event from its final score. The same score again settles
        only what was rolled back since; another score than the ended event's is refused (`event_already_resulted`)
        while any of its score-based markets is still settled, however it was settled."""
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
            await self.catalog.update_event(event_id, status=EventStatus.LIVE)
        if event.status is not EventStatus.ENDED or event.score != score:
            await self.catalog.update_event(event_id, status=EventStatus.ENDED, score=score)
        event = self.catalog.event(event_id)
        reports = []
        for market in event.markets:
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
            reports.append(await self._settle(market, results))
        return reports

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

    async def _settle(self, market: Market, results: Mapping[UUID, SelectionResult]) -> SettlementReport:
        if market.status in (MarketStatus.SETTLED, MarketStatus.CANCELLED):
            raise MarketAlreadySettled()
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await store.insert_settlement(conn, new_id(), market.id, results, now)
            withdrawn = {s.id for s in market.selections if s.status is SelectionStatus.NON_RUNNER}
            statuses = {sid: _STATUS_OF[r.label] for sid, r in results.items() if sid not in withdrawn}
            await self.catalog.settle_market_selections(market.id, statuses, conn=conn)
        await self.catalog.refresh(market.event_id)
        return SettlementReport(market.id, await self._settle_chunks(await self._open_bet_chunks(market.id), now))

    async def _open_bet_chunks(self, market_id: UUID) -> list[list[UUID]]:
        """The market's open bets, listed under the ledger lock: a placement batch or an in-play acceptance
        that priced a bet before the market closed either committed it before this list, or finds the market
        closed in the database under the same lock and refuses it."""
        async with self.db.transaction() as conn:
            await self.ledger.lock(conn)
            ids = await store.open_bet_ids_on(conn, market_id)
        return _chunks(ids)

    async def _settle_chunks(self, chunks: Sequence[Sequence[UUID]], now: datetime) -> int:
        """Settle chunk after chunk, each in its own transaction under the ledger lock. The next chunk is read
        and worked out outside the lock while the current one is written, so Python and the database overlap;
        a chunk is written as worked out only if what decided it still holds under the lock, else it is
        decided again there (a cash-out, a rollback or a withdrawal came in between)."""
        settled = 0
        upcoming: asyncio.Task[_Chunk] | None = None
        try:
            for i, chunk in enumerate(chunks):
                current = await upcoming if upcoming is not None else await self._read_chunk(chunk)
                upcoming = asyncio.create_task(self._read_chunk(chunks[i + 1])) if i + 1 < len(chunks) else None
                settled += await self._write_chunk(current, now)
        finally:
            if upcoming is not None and not upcoming.done():
                upcoming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upcoming
        return settled

    async def _read_chunk(self, bet_ids: Sequence[UUID]) -> _Chunk:
        async with self.db.read() as conn:
            return await self._work_out(conn, bet_ids)

    async def _write_chunk(self, chunk: _Chunk, now: datetime) -> int:
        async with self.db.transaction() as conn:
            await self.ledger.lock(conn)
            if not await self._still_holds(conn, chunk):
                chunk = await self._work_out(conn, chunk.bet_ids)
            # Each transfer id derives from its bet and the bet's settle count, which every transfer of that
            # name moves on in its own transaction: the bets open at the counts checked above have none stored.
            await self._apply(conn, chunk.transfers, chunk.pending, new_ids=True)
            await self._mark_settled(conn, chunk.done, now, chunk.exposure)
        return len(chunk.done)

    async def _work_out(self, conn: AsyncConnection, bet_ids: Sequence[UUID]) -> _Chunk:
        """What settling these bets takes, from what `conn` sees: the open bets, the results, withdrawals and
        void legs that decide them, the ledger transfers, the bets' closing and their exposure."""
        rows = await store.open_bets(conn, bet_ids)
        markets = {leg.market_id for b in rows for leg in b.legs}
        plans = await _read_plans(conn, markets, [b.id for b in rows])
        accounts = await self._accounts(conn, rows)
        chunk = _Chunk(list(bet_ids), {b.id: b.settle_count for b in rows}, markets, plans)
        for bet in rows:
            settled = plans.settle(bet, chunk.exposure)
            if settled is None:
                continue
            chunk.transfers.extend(_payout_transfers(bet, settled.total_return, *accounts[bet.player_id, bet.currency]))
            chunk.done.append((bet, settled.status.value, settled.total_return))
        held = [bet.stake_transfer_id for bet, _status, _return in chunk.done if bet.stake_state == "held"]
        chunk.pending = await self.ledger.pending_transfers(conn, held)  # rows never change: read with the bets
        return chunk

    async def _still_holds(self, conn: AsyncConnection, chunk: _Chunk) -> bool:
        """Whether the bets open when `chunk` was worked out are the open ones now (each settled as many times as
        then), under the same results, withdrawals and void legs. Under the ledger lock nothing changes them."""
        plans = chunk.plans
        return (
            await store.open_settle_counts(conn, chunk.bet_ids) == chunk.open
            and await store.results_for_markets(conn, chunk.markets) == plans.known
            and await store.withdrawals(conn, chunk.markets) == plans.withdrawals
            and await store.voided_legs(conn, list(chunk.open)) == plans.voids
        )

    # ---- rollback ----

    async def rollback(self, market_id: UUID) -> SettlementReport:
        """Undo a market's settlement: the market is suspended again, its settled bets reopen, their money
        returns. A cancelled market's void settlement rolls back the same way: the cancellation is undone.
        Safe while the settlement is still running: chunks written after it find the results gone.

        A settled bet that the results still standing decide without this market (a multiple lost on another
        market) is not reopened: what it paid does not depend on this market's result (see `plan_bet`), so
        reopening it would only leave it open on a loss no one will settle again."""
        market = self.catalog.market(market_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            # The ledger lock first, as a settlement chunk takes it: a chunk still being written when the
            # rollback came in commits before the settled bets are listed, and a later one sees the rollback.
            await self.ledger.lock(conn)
            if not await store.roll_back_settlement(conn, market_id, now):
                raise SettlementNotFound()
            await self.catalog.unsettle_market(market_id, conn=conn)
            settled = await store.settled_bets_on(conn, market_id)
            standing = await _read_plans(
                conn, {leg.market_id for b in settled for leg in b.legs}, [b.id for b in settled]
            )
            reopened = [bet for bet in settled if not standing.decides(bet)]
            await self._reopen(conn, reopened, now)
        await self.catalog.refresh(market.event_id)
        return SettlementReport(market_id, 0, reopened_bets=len(reopened))

    async def _reopen(self, conn: AsyncConnection, settled: Sequence[BetRow], now: datetime) -> None:
        """Open these settled bets again with their stakes reserved, and take back what they paid (in the caller's
        transaction): each player's wallet reads as it did before the settlement."""
        await self.ledger.lock(conn)
        transfers: list[TransferRequest] = []
        holds: list[tuple[UUID, UUID]] = []
        cash_left: dict[UUID, int] = {}
        for bet in settled:
            reversal, hold_id = await self._reversal_transfers(conn, bet, cash_left)
            transfers.extend(reversal)
            holds.append((bet.id, hold_id))
        await self._apply(conn, transfers)
        await store.reopen(conn, holds)
        await store.add_exposure(conn, exposure_deltas(settled, +1))
        payloads = [{"bet_id": str(b.id), "player_id": str(b.player_id)} for b in settled]
        await outbox.add(conn, [Event.new("bet.reopened", 1, p["player_id"], p, now) for p in payloads])

    # ---- voiding ----

    async def void_market(self, market_id: UUID) -> SettlementReport:
        """Void every bet on a cancelled market: its selections all count as void (once per cancellation, and
        only while the market is still cancelled: a late or repeated event must not void it again after the
        cancellation was rolled back)."""
        market = self.catalog.market(market_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            stored = await catalog_store.load_event(conn, market.event_id, lock=True)  # as catalogue changes lock it
            if stored is None or stored.market(market_id).status is not MarketStatus.CANCELLED:
                return SettlementReport(market_id, 0)
            if await store.has_settlement(conn, market_id):
                return SettlementReport(market_id, 0)
            await store.insert_settlement(conn, new_id(), market_id, {s.id: _VOID for s in market.selections}, now)
        return SettlementReport(market_id, await self._settle_chunks(await self._open_bet_chunks(market_id), now))

    async def cancel_bets(self, market_id: UUID, start: datetime, end: datetime) -> SettlementReport:
        """A feed's bet cancel: the legs on this market of bets placed in [start, end) become void; settled
        bets among them are resettled. The window is recorded and the bets listed under the ledger lock, so a
        bet priced in the window but not yet written is refused by its placement batch (see `Betting`)."""
        self.catalog.market(market_id)
        if not start < end:
            raise InvalidSettlement("the window must end after it starts")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await self.ledger.lock(conn)
            await store.insert_bet_cancellation(conn, new_id(), market_id, start, end, now)
            ids = await store.bet_ids_placed_on(conn, market_id, start, end)
            await store.void_legs(conn, ids, market_id, now)
            reopened = await store.settled_bets(conn, ids)
            await self._reopen(conn, reopened, now)
        settled = await self._settle_chunks(_chunks(ids), now)
        return SettlementReport(market_id, settled, reopened_bets=len(reopened))

    async def _on_market_changed(self, event: Event) -> None:
        if event.payload.get("status") == "cancelled":
            await self.void_market(UUID(str(event.payload["market_id"])))

    # ---- non-runners ----

    async def non_runner(self, market_id: UUID, selection_id: UUID, odds_at_withdrawal: Decimal) -> Fraction:
        """Withdraw a runner: its bets become void legs; winning bets struck before now get its Rule 4 deduction."""
        market = self.catalog.market(market_id)
        if market.selection(selection_id) is None:
            raise InvalidSettlement("that selection is not in this market")
        deduction = rule4_deduction(odds_at_withdrawal)
        async with self.db.transaction() as conn:
            await self.catalog.mark_non_runner(selection_id, conn=conn)
            await store.insert_non_runner(conn, selection_id, market_id, odds_at_withdrawal, self.clock.now())
        await self.catalog.refresh(market.event_id)
        return deduction

    # ---- cash-out ----

    async def cashout_quote(self, player_id: UUID, bet_id: UUID) -> int:
        """What the house pays now to close the bet, else `cashout_unavailable` (or `bet_not_open`, as a cash-out
        of it would answer)."""
        bet = await self.betting.bet(player_id, bet_id)
        async with self.db.read() as conn:
            known = await store.results_for_markets(conn, {leg.market_id for leg in bet.legs})
        return self._cashout_value(bet, known)

    async def cashout(self, player_id: UUID, bet_id: UUID, amount: int, *, conn: AsyncConnection | None = None) -> int:
        """Close the bet for the quoted `amount` if the value now is at least that; pays exactly `amount`. With
        `conn`, in the caller's transaction (the Idempotency-Key's, which records the answer with it)."""
        if conn is None:
            async with self.db.transaction() as own:
                return await self.cashout(player_id, bet_id, amount, conn=own)
        now = self.clock.now()
        await self.ledger.lock(conn)
        rows = await store.open_bets(conn, [bet_id])
        if not rows or rows[0].player_id != player_id:
            found = await store.get(conn, bet_id) if not rows else None
            if found is not None and found.player_id == player_id:
                raise BetNotOpen(f"the bet is {found.status}: only an open bet can be cashed out")
            raise BetNotFound()
        bet = rows[0]
        value = self._cashout_value(bet, await store.results_for_markets(conn, {leg.market_id for leg in bet.legs}))
        if value < amount:
            raise CashoutPriceChanged(f"the cash-out value is now {value}")
        cash, revenue = (await self._accounts(conn, [bet]))[bet.player_id, bet.currency]
        await self._apply(conn, _payout_transfers(bet, amount, cash, revenue))
        await self._mark_settled(conn, [(bet, "cashed_out", amount)], now)
        return amount

    def _cashout_value(self, bet: BetRow, known: Mapping[UUID, Mapping[UUID, SelectionResult]]) -> int:
        if bet.status != "open":
            raise BetNotOpen(f"the bet is {bet.status}: only an open bet can be cashed out")
        if BetType(bet.type) is BetType.SYSTEM:
            raise CashoutUnavailable("cash-out is offered on open singles and multiples")
        legs, lines = legs_and_lines(bet)
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
            active = (
                market.status is MarketStatus.ACTIVE
                and selection.status is SelectionStatus.ACTIVE
                and event.status not in (EventStatus.ENDED, EventStatus.CANCELLED)
            )
            states.append(OpenLeg(selection.odds, active))
        value = cashout_value(stake=bet.stake, lines=lines, legs=legs, leg_states=states, margin=self.cashout_margin)
        if value is None or value <= 0:
            raise CashoutUnavailable("cash-out is not offered on this bet right now")
        return value

    # ---- money ----

    async def _reversal_transfers(
        self, conn: AsyncConnection, bet: BetRow, cash_left: dict[UUID, int]
    ) -> tuple[list[TransferRequest], UUID]:
        """What undoes a settled bet's money, linked all or nothing, and the id of its new stake hold.

        The stake S goes back from revenue to cash and is held again by a new pending transfer (cash -> reserved,
        bound for revenue; the bet's stake transfer from now on, its id derived from the bet and its settle
        count); then the return R is taken back from cash, or, for the part of R the player no longer holds,
        from the house's receivable on them. The first two cancel out on cash, so `cash_left` (the player's cash
        before this rollback, less what their earlier bets in it took back) is what R can come from. Whether
        the settlement posted the stake's hold in full, in part (the rest released to cash) or voided it, S
        from revenue and R from the player undo it: the player's net for the bet was -S + R."""
        n = bet.settle_count + 1
        cash, revenue = (await self._accounts(conn, [bet]))[bet.player_id, bet.currency]
        reference = f"bet:{bet.id}"
        hold_id = derived_id("stake-again", bet.id, n)
        out = [
            TransferRequest(
                derived_id("unsettle-stake", bet.id, n),
                revenue,
                cash,
                bet.total_stake,
                code="bet_resettle",
                reference=reference,
            ),
            TransferRequest(
                hold_id,
                cash,
                revenue,
                bet.total_stake,
                phase=Phase.PENDING,
                code="bet_stake",
                reference=reference,
            ),
        ]
        paid = bet.return_amount or 0
        if bet.player_id not in cash_left:
            cash_left[bet.player_id] = (await self.ledger.store.account_balances(conn, [cash])).get(cash, 0)
        from_cash = min(paid, cash_left[bet.player_id])
        cash_left[bet.player_id] -= from_cash
        if from_cash > 0:
            out.append(
                TransferRequest(
                    derived_id("unsettle-cash", bet.id, n),
                    cash,
                    revenue,
                    from_cash,
                    code="bet_resettle",
                    reference=reference,
                )
            )
        if paid > from_cash:
            receivable = await self.ledger.store.get_or_create_account(
                conn, AccountKey(HOUSE, AccountKind.RECEIVABLE, bet.currency, str(bet.player_id)), self.clock.now()
            )
            out.append(
                TransferRequest(
                    derived_id("unsettle-owed", bet.id, n),
                    receivable,
                    revenue,
                    paid - from_cash,
                    code="bet_resettle",
                    reference=reference,
                )
            )
        return [replace(t, linked=True) for t in out[:-1]] + out[-1:], hold_id

    async def _accounts(self, conn: AsyncConnection, bets: Sequence[BetRow]) -> dict[tuple[UUID, str], tuple[int, int]]:
        """(cash, house revenue) per (player, currency) of these bets, read in one query for a chunk."""
        ledger_store = self.ledger.store
        wanted = {(b.player_id, b.currency) for b in bets}
        keys = {k: AccountKey(player_owner(k[0]), AccountKind.CASH, k[1]) for k in wanted}
        found = await ledger_store.find_accounts(conn, keys.values())
        revenue = {
            currency: await ledger_store.get_or_create_account(
                conn, AccountKey(HOUSE, AccountKind.REVENUE, currency), self.clock.now()
            )
            for currency in {c for _p, c in wanted}
        }
        return {k: (found[key], revenue[k[1]]) for k, key in keys.items()}

    async def _apply(
        self,
        conn: AsyncConnection,
        transfers: Sequence[TransferRequest],
        pending: Mapping[UUID, Transfer] | None = None,
        *,
        new_ids: bool = False,
    ) -> None:
        if not transfers:
            return
        results = await self.ledger.create_transfers_in(conn, transfers, known_pending=pending, new_ids=new_ids)
        failed = [(t.id, r) for t, r in zip(transfers, results, strict=True) if r not in (Result.OK, Result.EXISTS)]
        if failed:
            raise DomainError(f"the ledger refused settlement transfers: {failed[:3]}", code="settlement_refused")

    async def _mark_settled(
        self,
        conn: AsyncConnection,
        done: Sequence[tuple[BetRow, str, int]],
        now: datetime,
        exposure: Mapping[UUID, tuple[UUID, int]] | None = None,
    ) -> None:
        """Close bets with their status and return, and take them off the liability book (`exposure`, when the
        caller worked it out while settling, is what they held)."""
        if not done:
            return
        await store.mark_settled(conn, [(b.id, status, amount) for b, status, amount in done], now)
        await store.add_exposure(conn, exposure_deltas([b for b, _s, _a in done], -1) if exposure is None else exposure)
        await outbox.add(
            conn,
            [
                Event.new(
                    "bet.settled",
                    1,
                    str(b.player_id),
                    {
                        "bet_id": str(b.id),
                        "player_id": str(b.player_id),
                        "status": status,
                        "return": amount,
                        "currency": b.currency,
                    },
                    now,
                )
                for b, status, amount in done
            ],
        )


def _payout_transfers(bet: BetRow, amount: int, cash: int, revenue: int) -> list[TransferRequest]:
    """The transfers that leave the player with -total stake + `amount` for this bet."""
    n = bet.settle_count + 1
    out: list[TransferRequest] = []
    pay = amount
    if bet.stake_state == "held":
        stake_id = derived_id("settle-stake", bet.id, n)
        total = bet.total_stake
        if amount == total:  # everything back: release the hold
            out.append(TransferRequest(stake_id, phase=Phase.VOID, pending_id=bet.stake_transfer_id, code="bet_stake"))
            pay = 0
        elif amount < total:  # keep what was lost; the rest is released back to cash with the post
            out.append(
                TransferRequest(
                    stake_id,
                    amount=total - amount,
                    phase=Phase.POST,
                    pending_id=bet.stake_transfer_id,
                    code="bet_stake",
                )
            )
            pay = 0
        else:  # the stake goes to revenue and the whole return is paid from it
            out.append(
                TransferRequest(
                    stake_id, amount=total, phase=Phase.POST, pending_id=bet.stake_transfer_id, code="bet_stake"
                )
            )
    if pay > 0:
        out.append(
            TransferRequest(
                derived_id("settle-pay", bet.id, n),
                revenue,
                cash,
                pay,
                code="bet_return",
                reference=f"bet:{bet.id}",
            )
        )
    return out


_VOID = SelectionResult(Part(Fraction(0), Fraction(1)), Part(Fraction(0), Fraction(1)), LegResult.VOID)
_LOST = SelectionResult(Part(Fraction(0), Fraction(0)), Part(Fraction(0), Fraction(0)), LegResult.LOST)


async def _read_plans(conn: AsyncConnection, markets: set[UUID], bet_ids: Sequence[UUID]) -> _Plans:
    """What decides these bets, as `conn` sees it: the results in force on their markets, the withdrawals
    there and their void legs."""
    return _Plans(
        await store.results_for_markets(conn, markets),
        await store.withdrawals(conn, markets),
        await store.voided_legs(conn, bet_ids),
    )


def _chunks(ids: Sequence[UUID]) -> list[list[UUID]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]


@dataclass(slots=True)
class _Chunk:
    """A chunk of bets worked out for settlement, and what it was worked out from."""

    bet_ids: list[UUID]
    open: dict[UUID, int]  # the bets found open -> how many times each had been settled
    markets: set[UUID]  # every market their legs are on
    plans: _Plans  # the results, withdrawals and void legs read
    transfers: list[TransferRequest] = field(default_factory=list)
    done: list[tuple[BetRow, str, int]] = field(default_factory=list)  # (bet, status, return)
    exposure: dict[UUID, tuple[UUID, int]] = field(default_factory=dict)  # what the settled bets held
    pending: dict[UUID, Transfer] = field(default_factory=dict)  # the stake holds the transfers close


class _Plans:
    """Settles a chunk's bets: each distinct combination of lines, odds, results and Rule 4 deductions is planned
    once (`plan_bet`), each bet then costs a few integer operations."""

    def __init__(
        self,
        known: Mapping[UUID, Mapping[UUID, SelectionResult]],
        withdrawals: Mapping[UUID, Sequence[tuple[UUID, datetime, Fraction]]],
        voids: set[tuple[UUID, UUID]],
    ) -> None:
        self.known = known
        self.withdrawals = withdrawals
        self.voids = voids
        # plan key -> (plan or None while a line is undecided, lines, each line's odds as (num, den) for the
        # exposure). An open leg is in the key as its result None, so a bet decided early (a leg lost, others
        # open) shares its plan only with bets of its shape open on the same legs.
        self._plans: dict[tuple[object, ...], tuple[SettlementPlan | None, list[Line], list[tuple[int, int]]]] = {}

    def settle(self, bet: BetRow, exposure: dict[UUID, tuple[UUID, int]]) -> BetSettlement | None:
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
            legs, lines = legs_and_lines(bet)
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

    def decides(self, bet: BetRow) -> bool:
        """Whether these results decide the bet (a rollback keeps such a bet settled). It asks `settle`, on an
        exposure of its own, so that a settlement's per-bet path carries nothing for it."""
        return self.settle(bet, {}) is not None

    def _result(self, bet: BetRow, leg: LegRow) -> SelectionResult | None:
        if (bet.id, leg.market_id) in self.voids:
            return _VOID
        return self.known.get(leg.market_id, {}).get(leg.selection_id)

    def _deduction(self, bet: BetRow, leg: LegRow) -> Fraction:
        withdrawn = self.withdrawals.get(leg.market_id)
        if not withdrawn:
            return ZERO
        return total_deduction(d for sel, when, d in withdrawn if sel != leg.selection_id and when > bet.placed_at)

"""Whether a bet can be struck against the catalogue as it stands, and on what terms. Pure.

`quote` turns a request and the current events, markets and prices into the bet's legs (at the odds it is
struck at), its lines, its potential return and the limits it must respect, or refuses it with a stable code.
What needs the database (funds, liability of bets already struck) is decided by the service in its batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sportsbook.betting.model import (
    Bet,
    BetType,
    LegSpec,
    Line,
    OddsChange,
    StakeLimits,
    accept_odds,
    check_each_way,
    check_related,
    check_stake,
    expand_lines,
    max_stake_for_payout,
    potential_return,
)
from sportsbook.betting.refusals import MarketSuspended, StakeTooHigh
from sportsbook.catalog.model import (
    Event,
    EventStatus,
    Market,
    MarketStatus,
    Selection,
    SelectionClosed,
    SelectionNotFound,
    SelectionStatus,
)
from sportsbook.core.money import MAX_AMOUNT

Lookup = Callable[[UUID], "tuple[Event, Market, Selection] | None"]


@dataclass(frozen=True, slots=True)
class LegRequest:
    selection_id: UUID
    odds: Decimal


@dataclass(frozen=True, slots=True)
class BetRequest:
    """A bet as the player asks for it: stake per line, odds seen on the slip, and the odds-change policy."""

    type: BetType
    system: str | None
    legs: tuple[LegRequest, ...]
    stake: int
    each_way: bool
    odds_change: OddsChange


@dataclass(frozen=True, slots=True)
class Quote:
    """The terms a bet can be struck on now."""

    legs: tuple[LegSpec, ...]
    lines: tuple[Line, ...]
    stake: int
    total_stake: int
    potential_return: int
    delay_s: int  # in-play delay: 0 means accepted at once
    limits: StakeLimits
    selection_limit: int
    market_limit: int

    @property
    def market_of(self) -> dict[UUID, UUID]:
        return {leg.selection_id: leg.market_id for leg in self.legs}


def request_of(bet: Bet) -> BetRequest:
    """A stored bet as a request at the odds it was struck at, to be re-checked like a new placement (a pending
    bet after its in-play delay)."""
    return BetRequest(
        type=BetType(bet.type),
        system=bet.system,
        legs=tuple(LegRequest(leg.selection_id, leg.odds) for leg in bet.legs),
        stake=bet.stake,
        each_way=bet.each_way,
        odds_change=OddsChange(bet.odds_change),
    )


def quote(request: BetRequest, lookup: Lookup, now: datetime) -> Quote:
    """The terms of `request` against the catalogue now, or the refusal that applies first."""
    terms = price(request, lookup, now)
    try:
        check_stake(terms.stake, len(terms.lines), terms.potential_return, terms.limits)
    except StakeTooHigh as exc:
        if exc.max_stake is not None:
            raise
        # above the payout cap: the stake that stays under it is worked out only on refusal
        raise StakeTooHigh(str(exc), max_stake=max_stake_for_payout(terms.lines, terms.legs, terms.limits)) from None
    return terms


def price(request: BetRequest, lookup: Lookup, now: datetime) -> Quote:
    """The terms of `request` against the catalogue now, its stake not yet checked against the limits (a slip's
    quote shows the limits rather than refusing them), or the refusal that applies first."""
    legs: list[LegSpec] = []
    markets: list[Market] = []
    delay = 0
    for leg in request.legs:
        found = lookup(leg.selection_id)
        if found is None:
            raise SelectionNotFound(f"selection {leg.selection_id} does not exist")
        event, market, selection = found
        delay = max(delay, _open_for_betting(event, market, selection, now))
        odds = accept_odds(request.odds_change, leg.odds, selection.odds)
        legs.append(LegSpec(selection.id, event.id, market.id, odds, market.each_way))
        markets.append(market)
    check_related(request.type, legs)
    check_each_way(legs, request.each_way)
    lines = expand_lines(request.type, request.system, len(legs), request.each_way)
    limits = StakeLimits(
        min_stake=max(m.min_stake for m in markets),
        max_stake=min(m.max_stake for m in markets),
        max_payout=min(m.max_payout for m in markets),
    )
    total = request.stake * len(lines)
    returns = potential_return(lines, legs, request.stake) if total <= MAX_AMOUNT else MAX_AMOUNT + 1
    return Quote(
        legs=tuple(legs),
        lines=tuple(lines),
        stake=request.stake,
        total_stake=total,
        potential_return=returns,
        delay_s=delay,
        limits=limits,
        selection_limit=min(m.selection_liability_limit for m in markets),
        market_limit=min(m.market_liability_limit for m in markets),
    )


def _open_for_betting(event: Event, market: Market, selection: Selection, now: datetime) -> int:
    """The in-play delay this leg imposes (0 pre-match), or the refusal if it cannot be bet on now."""
    if event.status in (EventStatus.ENDED, EventStatus.CANCELLED):
        raise SelectionClosed("the event is over")
    if market.status in (MarketStatus.SETTLED, MarketStatus.CANCELLED):
        raise SelectionClosed("the market is closed")
    if selection.status is not SelectionStatus.ACTIVE:
        if selection.status is SelectionStatus.SUSPENDED:
            raise MarketSuspended("this selection is suspended")
        raise SelectionClosed("this selection is closed")
    if market.status is not MarketStatus.ACTIVE:
        raise MarketSuspended("the market is suspended")
    in_play = event.status is EventStatus.LIVE or now >= event.start_time
    if not in_play:
        return 0
    # A market is offered in play by giving it an in-play delay; others close at the off.
    if market.in_play_delay_s <= 0:
        raise MarketSuspended("this market is not offered in play")
    return market.in_play_delay_s

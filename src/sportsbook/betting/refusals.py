"""Every refusal a bet can meet, in one place: its code, HTTP status and meaning. Pure.

Placement, in-play acceptance and the quote run the same checks, in the same order: pricing against the
catalogue in memory (`placement.price`: closed or suspended markets, changed odds, related legs, each-way), the
stake limits (`model.check_stake`), then, for placement and in-play acceptance only, what the database knows
under the ledger lock (`Betting._refusals_under_lock`: a market closed since, a feed's bet cancel), the
liability room every node shares (`_check_liability`; the quote reads it without the lock) and the funds (the
ledger's stake reservation). The OpenAPI document of the bet routes and docs/api.md's list are made from
`PLACEMENT` and `CASHOUT`, so a new refusal is one class here, its entry in a tuple and its check in that line.
A refusal's meaning is its class's docstring: it is what clients read in the API documents."""

from __future__ import annotations

from decimal import Decimal

from sportsbook.catalog.model import SelectionClosed, SelectionNotFound
from sportsbook.core.errors import Conflict, DomainError, InsufficientFunds, InvalidRequest, NotFound


class InvalidBet(InvalidRequest):
    """The bet's type, system, legs or lines are not valid."""

    code = "invalid_bet"
    status = 422


class EachWayNotOffered(InvalidBet):
    """Each-way was asked for on a leg whose market offers no each-way terms."""

    code = "each_way_not_offered"


class DuplicateSelection(InvalidBet):
    """The same selection appears twice in one bet."""

    code = "duplicate_selection"


class RelatedLegs(DomainError):
    """Two legs of a multiple or system bet are on the same event."""

    code = "related_legs"
    status = 422


class MarketSuspended(DomainError):
    """The market is not taking bets right now (suspended, or in play without in-play betting)."""

    code = "market_suspended"
    status = 409


class OddsChanged(DomainError):
    """The price moved (or bets struck at it were cancelled) and the bet's odds-change policy does not accept
    the new one: quote again."""

    code = "odds_changed"
    status = 409

    def __init__(self, message: str = "", *, current: Decimal) -> None:
        super().__init__(message)
        self.current = current


class StakeTooLow(DomainError):
    """The stake per line is below the minimum."""

    code = "stake_too_low"
    status = 422


class StakeTooHigh(DomainError):
    """The stake is above the maximum, or the potential payout is above the maximum payout; `max_stake` (when
    known) is the largest stake per line the limit takes."""

    code = "stake_too_high"
    status = 409

    def __init__(self, message: str = "", *, max_stake: int | None = None) -> None:
        super().__init__(message)
        self.max_stake = max_stake

    @property
    def extra(self) -> dict[str, object]:
        return {} if self.max_stake is None else {"max_stake": self.max_stake}


class LiabilityExceeded(DomainError):
    """The bet would take the house's exposure on a selection or market beyond its limit; `max_stake` is the
    largest stake per line that would still fit (0 when none does)."""

    code = "liability_exceeded"
    status = 409

    def __init__(self, message: str = "", *, max_stake: int) -> None:
        super().__init__(message)
        self.max_stake = max_stake

    @property
    def extra(self) -> dict[str, object]:
        return {"max_stake": self.max_stake}


class BetNotFound(NotFound):
    """No bet of yours has this id."""

    code = "bet_not_found"


class BetNotOpen(Conflict):
    """The bet is not open (settled, cashed out, still pending or refused): only an open bet can be cashed out."""

    code = "bet_not_open"


class CashoutUnavailable(DomainError):
    """Cash-out is not offered on this bet now (a market is suspended, or nothing is left open)."""

    code = "cashout_unavailable"
    status = 409


class CashoutPriceChanged(DomainError):
    """The cash-out value fell below the quoted amount; quote again."""

    code = "cashout_price_changed"
    status = 409


Refusal = type[DomainError]

# What can refuse a bet slip, in the order the checks run: pricing against the catalogue (placement, in-play
# acceptance and the quote alike), the stake limits, then what only the batch under the ledger lock knows.
PRICING: tuple[Refusal, ...] = (
    InvalidBet,
    DuplicateSelection,
    EachWayNotOffered,
    SelectionNotFound,
    SelectionClosed,
    MarketSuspended,
    OddsChanged,
    RelatedLegs,
)
STAKE: tuple[Refusal, ...] = (StakeTooLow, StakeTooHigh, LiabilityExceeded)
FUNDS: tuple[Refusal, ...] = (InsufficientFunds,)
PLACEMENT: tuple[Refusal, ...] = PRICING + STAKE + FUNDS
CASHOUT: tuple[Refusal, ...] = (BetNotFound, BetNotOpen, CashoutUnavailable, CashoutPriceChanged)

CATALOGUE: dict[str, Refusal] = {r.code: r for r in PLACEMENT + CASHOUT}


def table() -> str:
    """The catalogue as docs/api.md lists it (a test keeps the page equal to this)."""
    rows = ["| code | status | meaning |", "|---|---|---|"]
    rows += [f"| `{r.code}` | {r.status} | {r.meaning()} |" for r in CATALOGUE.values()]
    return "\n".join(rows)


if __name__ == "__main__":  # python -m sportsbook.betting.refusals: the table for docs/api.md
    print(table())

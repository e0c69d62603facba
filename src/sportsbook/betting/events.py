"""The betting feature's domain events, typed: a class per event and version, built from the Bet entity by its
transitions (model.py) and turned into the outbox's wire `Event` with `to_event()`. Pure.

The schemas are registered in events/model.py and listed in docs/events.md; a change to a published payload is
a new class with a new version, never an edit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from sportsbook.events.model import Event, Typed


@dataclass(slots=True)
class BetEvent(Typed):
    """What every bet event carries: the bet, its player (the event's key) and when it happened."""

    bet_id: UUID
    player_id: UUID
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {"bet_id": str(self.bet_id), "player_id": str(self.player_id)}

    def to_event(self) -> Event:
        """The wire event for the outbox, checked against its registered schema; the payload is plain JSON
        already, so it skips the round trip (settlement makes one per bet)."""
        return Event.of_plain(self.TYPE, self.VERSION, self.key(), self.payload(), self.occurred_at)


@dataclass(slots=True)
class PlacedLeg:
    selection_id: UUID
    market_id: UUID
    event_id: UUID
    odds: Decimal


@dataclass(slots=True)
class BetPlacedV1(BetEvent):
    """A bet was struck (status accepted) or is waiting out its in-play delay (status pending)."""

    TYPE: ClassVar[str] = "bet.placed"

    currency: str
    type: str
    status: str  # accepted or pending
    total_stake: int
    potential_return: int
    legs: tuple[PlacedLeg, ...]

    def payload(self) -> dict[str, Any]:
        return {
            "bet_id": str(self.bet_id),
            "player_id": str(self.player_id),
            "currency": self.currency,
            "type": self.type,
            "status": self.status,
            "total_stake": self.total_stake,
            "potential_return": self.potential_return,
            "legs": [
                {
                    "selection_id": str(leg.selection_id),
                    "market_id": str(leg.market_id),
                    "event_id": str(leg.event_id),
                    "odds": str(leg.odds),
                }
                for leg in self.legs
            ],
        }


@dataclass(slots=True)
class BetAcceptedV1(BetEvent):
    """A pending in-play bet passed its re-check after the delay and is now open."""

    TYPE: ClassVar[str] = "bet.accepted"


@dataclass(slots=True)
class BetRejectedV1(BetEvent):
    """A pending in-play bet failed its re-check after the delay; its stake was released."""

    TYPE: ClassVar[str] = "bet.rejected"

    reject_code: str

    def payload(self) -> dict[str, Any]:
        return {"bet_id": str(self.bet_id), "player_id": str(self.player_id), "reject_code": self.reject_code}


@dataclass(slots=True)
class BetSettledV1(BetEvent):
    """A bet was settled (or cashed out) and its return paid through the ledger."""

    TYPE: ClassVar[str] = "bet.settled"

    status: str
    return_amount: int
    currency: str

    def payload(self) -> dict[str, Any]:
        return {
            "bet_id": str(self.bet_id),
            "player_id": str(self.player_id),
            "status": self.status,
            "return": self.return_amount,
            "currency": self.currency,
        }


@dataclass(slots=True)
class BetReopenedV1(BetEvent):
    """A settlement was rolled back: the bet is open again and its return was taken back."""

    TYPE: ClassVar[str] = "bet.reopened"

"""The players feature's domain events, typed: a class per event and version. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sportsbook.events.model import Typed


@dataclass(frozen=True, slots=True)
class PlayerRegisteredV1(Typed):
    """A player account was created."""

    TYPE: ClassVar[str] = "player.registered"

    player_id: UUID
    email: str
    country: str
    currency: str
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {
            "player_id": str(self.player_id),
            "email": self.email,
            "country": self.country,
            "currency": self.currency,
        }


@dataclass(frozen=True, slots=True)
class SessionStartedV1(Typed):
    """A player logged in: a session was opened."""

    TYPE: ClassVar[str] = "player.session_started"

    player_id: UUID
    session_id: UUID
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {"player_id": str(self.player_id), "session_id": str(self.session_id)}


@dataclass(frozen=True, slots=True)
class KycChangedV1(Typed):
    """Staff set a player's KYC status."""

    TYPE: ClassVar[str] = "player.kyc_changed"

    player_id: UUID
    status: str
    staff_id: UUID
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {"player_id": str(self.player_id), "status": self.status, "staff_id": str(self.staff_id)}

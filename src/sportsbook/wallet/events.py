"""The wallet feature's domain events, typed: a class per event and version. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sportsbook.events.model import Typed


@dataclass(frozen=True, slots=True)
class WalletAdjustedV1(Typed):
    """Staff credited (amount > 0) or debited a player's cash by hand, with a reason."""

    TYPE: ClassVar[str] = "wallet.adjusted"

    adjustment_id: UUID
    player_id: UUID
    amount: int
    currency: str
    reason: str
    staff_id: UUID
    transfer_id: UUID
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {
            "adjustment_id": str(self.adjustment_id),
            "player_id": str(self.player_id),
            "amount": self.amount,
            "currency": self.currency,
            "reason": self.reason,
            "staff_id": str(self.staff_id),
            "transfer_id": str(self.transfer_id),
        }

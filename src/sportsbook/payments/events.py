"""The payments feature's domain events, typed: a class per event and version. Pure. No card data ever goes
into an event: the BIN and the last four at most."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sportsbook.events.model import Typed

PAYMENT_CHANGED = "payments.payment_changed"
CONNECTOR_CHANGED = "payments.connector_changed"


@dataclass(frozen=True, slots=True)
class PaymentChangedV1(Typed):
    """A deposit, withdrawal, refund or chargeback reached a new state that matters to others: it succeeded,
    it failed, or it waits for the player (3-D Secure)."""

    TYPE: ClassVar[str] = PAYMENT_CHANGED

    payment_id: UUID
    player_id: UUID
    direction: str
    status: str
    amount: int
    currency: str
    connector: str | None
    decline_code: str | None
    occurred_at: datetime

    def key(self) -> str:
        return str(self.player_id)

    def payload(self) -> dict[str, Any]:
        return {
            "payment_id": str(self.payment_id),
            "player_id": str(self.player_id),
            "direction": self.direction,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "connector": self.connector,
            "decline_code": self.decline_code,
        }


@dataclass(frozen=True, slots=True)
class ConnectorChangedV1(Typed):
    """Staff switched a connector on or off, or changed a simulated connector's switches: every node follows."""

    TYPE: ClassVar[str] = CONNECTOR_CHANGED

    name: str
    enabled: bool
    outage: bool
    approval_rate: float | None
    latency_ms: float | None
    staff_id: UUID
    occurred_at: datetime

    def key(self) -> str:
        return self.name

    def payload(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "outage": self.outage,
            "approval_rate": self.approval_rate,
            "latency_ms": self.latency_ms,
            "staff_id": str(self.staff_id),
        }

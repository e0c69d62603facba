"""The catalogue's domain events, typed: a class per event and version, built from the entity. Pure.

Every node's read model follows them (catalog/service.py); their payloads are the model's
(`model.event_payload`, `model.market_payload`), so the read model rebuilds the entity from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sportsbook.catalog import model
from sportsbook.catalog.model import Event, Market
from sportsbook.events.model import Typed

EVENT_CHANGED = "catalog.event_changed"
MARKET_CHANGED = "catalog.market_changed"


@dataclass(frozen=True, slots=True)
class EventChangedV2(Typed):
    """An event was created or changed (status, score, times): the event without its markets, with its feed ids
    (v2; v1 had no `external_ids`, and consumers still read it)."""

    TYPE: ClassVar[str] = EVENT_CHANGED
    VERSION: ClassVar[int] = 2

    event: Event
    occurred_at: datetime

    def key(self) -> str:
        return str(self.event.id)

    def payload(self) -> dict[str, Any]:
        return model.event_payload(self.event)


@dataclass(frozen=True, slots=True)
class MarketChangedV2(Typed):
    """A market was created or changed (status, prices, limits, a trader's hold): the whole market (v2; v1 had
    no `trader_override`, and consumers still read it). Keyed by its event, so where the bus partitions by key
    an event's changes stay in one lane."""

    TYPE: ClassVar[str] = MARKET_CHANGED
    VERSION: ClassVar[int] = 2

    market: Market
    occurred_at: datetime

    def key(self) -> str:
        return str(self.market.event_id)

    def payload(self) -> dict[str, Any]:
        return model.market_payload(self.market)

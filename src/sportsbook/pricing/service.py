"""Pricing margins as staff set them: the margin laid on the odds feed's fair probabilities, a default and one per
(sport, market type). Held in memory by every node that prices (the feed role), changed in one unit of work with
a `pricing.margins_changed` event, which every node's copy follows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

import structlog

from sportsbook.catalog.model import is_sport_key
from sportsbook.core.clock import Clock
from sportsbook.core.errors import InvalidRequest
from sportsbook.core.markets import MarketType
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import reading, unit_of_work
from sportsbook.events.bus import EventBus
from sportsbook.events.model import Event, Typed
from sportsbook.pricing.model import PricingPolicy, check_margin
from sportsbook.pricing.store import ANY, PricingStore

log = structlog.get_logger(__name__)

DEFAULT_MARGIN = Decimal("0.05")
MARGINS_CHANGED = "pricing.margins_changed"


class InvalidMargin(InvalidRequest):
    """A margin that is not a decimal from 0 to 0.5, or for an unknown sport key or market type."""

    code = "invalid_margin"


@dataclass(frozen=True, slots=True)
class MarginsChangedV1(Typed):
    """Staff changed the pricing margins: the whole set as it now stands."""

    TYPE: ClassVar[str] = MARGINS_CHANGED

    default_margin: Decimal
    margins: Mapping[tuple[str, str], Decimal]
    occurred_at: datetime

    def key(self) -> str:
        return "margins"

    def payload(self) -> dict[str, Any]:
        return {
            "default_margin": str(self.default_margin),
            "margins": [{"sport": s, "market_type": t, "margin": str(m)} for (s, t), m in sorted(self.margins.items())],
        }


def policy_of(rows: Mapping[tuple[str, str], Decimal]) -> PricingPolicy:
    """The policy the stored rows make: (`*`, `*`) the default, others overrides."""
    default = rows.get((ANY, ANY), DEFAULT_MARGIN)
    overrides = {(sport, MarketType(kind)): m for (sport, kind), m in rows.items() if sport != ANY}
    return PricingPolicy(default, overrides)


class Pricing:
    """The margins: read from memory, changed by staff."""

    def __init__(self, db: Database, clock: Clock, bus: EventBus | None, *, node: str = "") -> None:
        self.db = db
        self.clock = clock
        self.policy = PricingPolicy(DEFAULT_MARGIN)
        if bus is not None:
            bus.subscribe(f"pricing-margins-{node}", [MARGINS_CHANGED], self._on_event, per_node=True)

    async def start(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        async with reading(self.db) as uow:
            rows = await uow.store(PricingStore).margins()
        self.policy = policy_of(rows)

    async def update(
        self,
        staff_id: UUID,
        *,
        default_margin: Decimal | None = None,
        margins: Mapping[tuple[str, str], Decimal | None] | None = None,
    ) -> PricingPolicy:
        """Set the default margin and/or margins per (sport, market type) (None removes one); all or nothing."""
        changes: dict[tuple[str, str], Decimal | None] = {}
        if default_margin is not None:
            changes[(ANY, ANY)] = _margin(default_margin)
        for (sport, kind), margin in (margins or {}).items():
            _check_key(sport, kind)
            changes[(sport, kind)] = _margin(margin) if margin is not None else None
        if not changes:
            raise InvalidRequest("send default_margin, margins or both")
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            store = uow.store(PricingStore)
            for (sport, kind), margin in changes.items():
                await store.set_margin(sport, kind, margin, staff_id, now)
            rows = await store.margins()
            policy = policy_of(rows)
            margins_now = {(s, t.value): m for (s, t), m in policy.overrides.items()}
            await uow.outbox.add([MarginsChangedV1(policy.default_margin, margins_now, now)])

            async def remember() -> None:
                self.policy = policy

            uow.after_commit(remember)
        log.info(
            "pricing.margins_changed",
            staff_id=str(staff_id),
            changes={f"{s}/{k}": str(m) for (s, k), m in changes.items()},
        )
        return policy

    async def _on_event(self, event: Event) -> None:
        if event.version == 1:
            await self.reload()


def _margin(value: Decimal) -> Decimal:
    try:
        return check_margin(value)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidMargin(str(exc)) from None


def _check_key(sport: str, kind: str) -> None:
    if not is_sport_key(sport):
        raise InvalidMargin(f"sport {sport!r} is not a sport key (like football)")
    try:
        MarketType(kind)
    except ValueError:
        raise InvalidMargin(f"market type {kind!r} is not one of {', '.join(t.value for t in MarketType)}") from None

"""The running platform: the services each feature exposes, built once by app.py and shared by the routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from sportsbook.config import Settings
from sportsbook.core.clock import Clock
from sportsbook.db.engine import Database

if TYPE_CHECKING:
    from sportsbook.betting.service import Betting
    from sportsbook.betting.settlement_jobs import SettlementJobs
    from sportsbook.betting.settlements import Settlements
    from sportsbook.catalog.service import Catalog
    from sportsbook.events.bus import EventBus
    from sportsbook.events.relay import OutboxRelay
    from sportsbook.idempotency.service import Idempotency
    from sportsbook.ledger.service import Ledger
    from sportsbook.odds.service import LiveOdds
    from sportsbook.payments.service import Payments
    from sportsbook.players.service import Players
    from sportsbook.pricing.service import Pricing
    from sportsbook.wallet.service import Wallets


@dataclass
class Platform:
    """Every long-lived service of one process. Features reach each other through these, never tables."""

    settings: Settings
    clock: Clock
    db: Database
    ledger: Ledger
    bus: EventBus
    relay: OutboxRelay
    players: Players
    wallets: Wallets
    idempotency: Idempotency
    catalog: Catalog
    betting: Betting
    settlements: Settlements
    jobs: SettlementJobs
    pricing: Pricing
    odds: LiveOdds
    payments: Payments
    payments_key: bytes  # the key of the cards' fingerprints
    started: bool = field(default=False)


async def get_platform(request: Request) -> Platform:
    """FastAPI dependency: the platform of the app serving this request (async: no threadpool hop)."""
    platform: Platform = request.app.state.platform
    return platform

"""Composition root: builds the platform's services on the configured backends and the FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sportsbook import __version__
from sportsbook.betting import routes as betting_routes
from sportsbook.betting.service import Betting
from sportsbook.betting.settlements import Settlements
from sportsbook.catalog import routes as catalog_routes
from sportsbook.catalog.service import Catalog
from sportsbook.config import Settings
from sportsbook.core.clock import Clock, SystemClock
from sportsbook.db.engine import Database
from sportsbook.events.factory import build_bus
from sportsbook.events.relay import OutboxRelay
from sportsbook.idempotency.service import Idempotency
from sportsbook.ledger.service import Ledger
from sportsbook.ops import docs, health, metrics
from sportsbook.ops.http import install_error_handlers
from sportsbook.ops.logging import configure_logging, install_request_context
from sportsbook.ops.openapi import install_openapi
from sportsbook.ops.runtime import freeze_heap
from sportsbook.platform import Platform
from sportsbook.players import routes as players_routes
from sportsbook.players.service import Players
from sportsbook.wallet import routes as wallet_routes
from sportsbook.wallet.service import Wallets


def build_platform(settings: Settings, clock: Clock | None = None) -> Platform:
    """Wire every feature to the backends the settings name. Nothing is started yet."""
    clock = clock or SystemClock()
    db = Database.from_settings(settings)
    ledger = Ledger(db, clock, batch_max=settings.ledger_batch_max, shards=settings.ledger_shards)
    bus = build_bus(settings)
    relay = OutboxRelay(db, bus, poll_s=settings.outbox_poll_s)
    players = Players(db, clock, ledger, settings)
    catalog = Catalog(db, clock, bus)
    betting = Betting(db, clock, ledger, catalog, batch_max=settings.ledger_batch_max)
    return Platform(
        settings=settings,
        clock=clock,
        db=db,
        ledger=ledger,
        bus=bus,
        relay=relay,
        players=players,
        wallets=Wallets(ledger, clock),
        idempotency=Idempotency(db, clock),
        catalog=catalog,
        betting=betting,
        settlements=Settlements(db, clock, ledger, catalog, bus),
    )


async def start_platform(platform: Platform, *, relay: bool = True) -> None:
    await platform.ledger.start(sweep_s=platform.settings.pending_expiry_sweep_s)
    await platform.bus.start()
    await platform.catalog.start()
    await platform.betting.start()
    if relay:
        await platform.relay.start()
    platform.started = True


async def stop_platform(platform: Platform) -> None:
    platform.started = False  # readiness fails first, so load balancers drain this node while it stops
    await platform.betting.stop()
    await platform.relay.stop()
    await platform.bus.stop()
    await platform.ledger.stop()
    await platform.db.dispose()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The API application. Its lifespan starts and stops the platform's background work."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    platform = build_platform(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await start_platform(platform)
        if settings.gc_freeze:
            freeze_heap()
        try:
            yield
        finally:
            await stop_platform(platform)

    # FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: docs.install serves /docs from here
    app = FastAPI(title="Sportsbook", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.platform = platform
    install_error_handlers(app)
    install_openapi(app)
    install_request_context(app)
    metrics.install(app)
    docs.install(app)
    app.include_router(health.router)
    app.include_router(players_routes.router)
    app.include_router(wallet_routes.router)
    app.include_router(catalog_routes.router)
    app.include_router(betting_routes.router)
    return app

"""Composition root: builds the platform's services on the configured backends and the FastAPI app."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from sportsbook import __version__
from sportsbook.betting import routes as betting_routes
from sportsbook.betting.service import Betting
from sportsbook.betting.settlement_jobs import SettlementJobs
from sportsbook.betting.settlements import Settlements
from sportsbook.catalog import routes as catalog_routes
from sportsbook.catalog.service import Catalog
from sportsbook.config import Settings
from sportsbook.core.clock import Clock, SystemClock
from sportsbook.db.engine import Database
from sportsbook.events.bus import EventBus
from sportsbook.events.factory import build_bus
from sportsbook.events.relay import OutboxRelay
from sportsbook.feed.adapter import FeedAdapter
from sportsbook.feed.service import FeedIngestion
from sportsbook.idempotency.service import Idempotency
from sportsbook.ledger.service import Ledger
from sportsbook.odds import routes as odds_routes
from sportsbook.odds.channel import MarketChannel
from sportsbook.odds.memory import MemoryMarkets
from sportsbook.odds.service import LiveOdds
from sportsbook.ops import docs, health, metrics, monitoring_routes, web
from sportsbook.ops.fastlane import FastLane
from sportsbook.ops.http import install_error_handlers
from sportsbook.ops.logging import configure_logging, install_request_context
from sportsbook.ops.openapi import install_openapi
from sportsbook.ops.runtime import freeze_heap
from sportsbook.payments import routes as payments_routes
from sportsbook.payments.service import Payments
from sportsbook.platform import Platform
from sportsbook.players import routes as players_routes
from sportsbook.players.revocation.channel import RevocationChannel
from sportsbook.players.revocation.memory import MemoryRevocations
from sportsbook.players.service import Players
from sportsbook.pricing import routes as pricing_routes
from sportsbook.pricing.service import Pricing
from sportsbook.wallet import routes as wallet_routes
from sportsbook.wallet.service import Wallets


def build_revocations(settings: Settings) -> RevocationChannel:
    """Redis pub/sub when `redis_url` is set (every node shares it), else the in-process channel."""
    if settings.redis_url:
        # Imported here so the embedded platform never loads the Redis client.
        from sportsbook.players.revocation.redis import RedisRevocations

        return RedisRevocations(settings.redis_url)
    return MemoryRevocations()


def build_market_channel(settings: Settings) -> MarketChannel:
    """Redis pub/sub when `redis_url` is set (every node shares it), else the in-process channel."""
    if settings.redis_url:
        from sportsbook.odds.redis import RedisMarkets

        return RedisMarkets(settings.redis_url)
    return MemoryMarkets()


def build_platform(settings: Settings, clock: Clock | None = None) -> Platform:
    """Wire every feature to the backends the settings name. Nothing is started yet."""
    clock = clock or SystemClock()
    db = Database.from_settings(settings)
    ledger = Ledger(db, clock, batch_max=settings.ledger_batch_max, shards=settings.ledger_shards)
    bus = build_bus(settings)
    relay = OutboxRelay(db, bus, poll_s=settings.outbox_poll_s)
    players = Players(db, clock, ledger, settings, revocations=build_revocations(settings))
    catalog = Catalog(db, clock, bus)
    pricing = Pricing(db, clock, bus, node=catalog.node)
    betting = Betting(db, clock, ledger, catalog, batch_max=settings.ledger_batch_max)
    settlements = Settlements(db, clock, ledger, catalog, chunk=settings.settlement_chunk)
    jobs = SettlementJobs(
        db, clock, settlements, bus, lease_s=settings.settlement_lease_s, poll_s=settings.settlement_poll_s
    )
    payments = build_payments(settings, db, ledger, players, clock, bus, node=catalog.node)
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
        settlements=settlements,
        jobs=jobs,
        pricing=pricing,
        odds=LiveOdds(
            catalog,
            build_market_channel(settings),
            heartbeat_s=settings.odds_heartbeat_s,
            max_pending=settings.odds_max_pending,
            stall_s=settings.odds_stall_s,
            max_subscriptions=settings.odds_max_subscriptions,
            max_connections=settings.odds_max_connections,
        ),
        payments=payments,
        payments_key=settings.payments_fingerprint_key.encode(),
    )


def build_payments(
    settings: Settings, db: Database, ledger: Ledger, players: Players, clock: Clock, bus: EventBus, *, node: str
) -> Payments:
    """Payments through the connectors the settings name: the simulated PSPs (their webhooks delivered to this
    node's own handler, late, twice or out of order now and then, as a PSP's are), and Stripe's when its key is
    set."""
    from sportsbook.payments import routing
    from sportsbook.payments.bins import BinTable
    from sportsbook.payments.breakers import Breakers
    from sportsbook.payments.connectors.base import Connector
    from sportsbook.payments.connectors.simulated import PROFILES, SimulatedConnector, WebhookChaos
    from sportsbook.payments.service import RoutingConfig

    names = [n.strip() for n in settings.payments_connectors.split(",") if n.strip()]
    if settings.stripe_api_key and "stripe" not in names:
        names.append("stripe")
    handler: list[Payments] = []

    async def deliver(name: str, body: bytes, headers: dict[str, str]) -> None:
        await handler[0].webhook(name, body, headers)

    scale = settings.payments_sim_latency_scale
    chaos = WebhookChaos(
        delay_ms=(20 * scale, 3000 * scale),
        duplicate_rate=0.05,
        reorder_rate=0.1,
        reorder_window_ms=1000 * scale,
        seed=settings.payments_sim_seed,
    )
    connectors: dict[str, Connector] = {}
    for name in names:
        if name in PROFILES:
            connectors[name] = SimulatedConnector(
                # seed 1 keeps each profile's own seed; another seed is another reproducible run
                dataclasses.replace(PROFILES[name], seed=PROFILES[name].seed + 100 * (settings.payments_sim_seed - 1)),
                clock=clock,
                latency_scale=scale,
                webhook_secret=settings.payments_sim_webhook_secret,
                deliver=deliver,
                chaos=chaos,
            )
        elif name == "stripe":
            from sportsbook.payments.connectors.stripe import StripeConnector

            if not settings.stripe_api_key:
                raise ValueError("the stripe connector needs SPORTSBOOK_STRIPE_API_KEY")
            connectors[name] = StripeConnector(
                api_key=settings.stripe_api_key,
                base_url=settings.stripe_base_url,
                webhook_secret=settings.stripe_webhook_secret,
                timeout_s=settings.payments_call_timeout_s,
            )
        else:
            raise ValueError(f"unknown payment connector {name!r} in SPORTSBOOK_PAYMENTS_CONNECTORS")
    rules = routing.DEFAULT_RULES
    if settings.payments_rules_file:
        with open(settings.payments_rules_file, encoding="utf-8") as f:
            rules = routing.rules_from_json(f.read())
    policy = routing.Policy(adaptive=settings.payments_adaptive, exploration=settings.payments_exploration)
    payments = Payments(
        db=db,
        ledger=ledger,
        profile_of_player=players.country_and_kyc,
        clock=clock,
        connectors=connectors,
        routing=RoutingConfig(
            rules,
            {**routing.DEFAULT_CONNECTORS, "stripe": routing.ConnectorProfile("stripe", routing.FeeModel(150, 25))},
            policy,
        ),
        breakers=Breakers(
            clock,
            fail_max=settings.payments_breaker_fail_max,
            reset_timeout_s=settings.payments_breaker_reset_s,
            names=list(connectors),
        ),
        bins=BinTable.shipped(),
        fingerprint_key=settings.payments_fingerprint_key.encode(),
        call_timeout_s=settings.payments_call_timeout_s,
        bus=bus,
        node=node,
    )
    handler.append(payments)
    return payments


async def start_platform(platform: Platform, *, relay: bool = True) -> None:
    await platform.ledger.start(sweep_s=platform.settings.pending_expiry_sweep_s)
    await platform.bus.start()
    await platform.players.start()
    await platform.catalog.start()
    await platform.pricing.start()
    await platform.odds.start()
    await platform.betting.start()
    await platform.payments.start()
    if relay and platform.settings.outbox_relay:
        await platform.relay.start()
    platform.started = True


async def stop_platform(platform: Platform) -> None:
    platform.started = False  # readiness fails first, so load balancers drain this node while it stops
    await platform.odds.stop()
    await platform.betting.stop()
    await platform.payments.stop()
    await platform.relay.stop()
    await platform.players.stop()
    await platform.bus.stop()
    await platform.ledger.stop()
    await platform.db.dispose()


async def run_worker(
    settings: Settings,
    stopping: asyncio.Event,
    *,
    relay: bool = True,
    freeze: bool = False,
    ready: Callable[[], None] | None = None,
) -> None:
    """The worker role until `stopping` is set: settlement jobs (and the outbox relay, unless another role of
    this process publishes it)."""
    platform = build_platform(settings)
    await start_platform(platform, relay=relay)
    await platform.jobs.start()
    platform.payments.start_resolver(every_s=5.0, older_than_s=platform.settings.payments_resolve_after_s)
    if freeze:
        freeze_heap()
    if ready is not None:
        ready()
    try:
        await stopping.wait()
    finally:
        await platform.jobs.stop()
        await stop_platform(platform)


def build_feed(
    platform: Platform, adapter: FeedAdapter, *, liveness: bool = True, explain: bool = False
) -> FeedIngestion:
    """The odds feed's ingestion on this platform, from `adapter`."""
    settings = platform.settings
    return FeedIngestion(
        adapter,
        platform.db,
        platform.clock,
        platform.catalog,
        platform.jobs,
        pricing=lambda: platform.pricing.policy,
        alive_timeout_s=settings.feed_alive_timeout_s,
        flush_s=settings.feed_flush_s,
        in_play_delay_s=settings.feed_in_play_delay_s,
        liveness=liveness,
        explain=explain,
    )


def build_feed_adapter(settings: Settings, clock: Clock) -> FeedAdapter:
    """The adapter the settings name: UOF's over AMQP, or the simulator's own."""
    if settings.feed_adapter == "uof":
        from sportsbook.feed.uof_amqp import UofAmqpAdapter

        if not settings.uof_broker_url:
            raise ValueError("the UOF adapter needs SPORTSBOOK_UOF_BROKER_URL (the provider's broker)")
        return UofAmqpAdapter(
            settings.uof_broker_url,
            settings.uof_api_url,
            token=settings.uof_token,
            exchange=settings.uof_exchange,
            node_id=settings.uof_node_id,
            clock=clock,
        )
    from sportsbook.feed.simulated import SimulatorAdapter
    from sportsbook.feed.simulator import SimulatorConfig

    config = SimulatorConfig(
        seed=settings.simulator_seed,
        live_matches=settings.simulator_live_matches,
        prematch_matches=settings.simulator_prematch_matches,
        races=settings.simulator_races,
        update_interval=timedelta(seconds=settings.simulator_update_s),
        match_seconds_per_second=settings.simulator_speed,
    )
    return SimulatorAdapter(config, clock)


async def run_feed(settings: Settings, stopping: asyncio.Event, *, ready: Callable[[], None] | None = None) -> None:
    """The feed role until `stopping` is set: the configured adapter's messages into the catalogue and jobs."""
    platform = build_platform(settings)
    await start_platform(platform)
    feed = build_feed(platform, build_feed_adapter(settings, platform.clock))
    await feed.start()
    if ready is not None:
        ready()
    try:
        await stopping.wait()
    finally:
        await feed.stop()
        await stop_platform(platform)


class WorkerThread:
    """The worker role on a thread of its own, with its own event loop and platform: how the demo runs every
    role in one process while settlement stays out of the API's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="settlement-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout_s)

    def _main(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            self._started.set()
            # the API's relay publishes what the jobs commit: one relay per in-process bus
            await run_worker(self.settings, self._stopping, relay=False)

        try:
            asyncio.run(main())
        finally:
            self._started.set()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The API application. Its lifespan starts and stops the platform's background work."""
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    platform = build_platform(settings, clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await start_platform(platform)
        feed = build_feed(platform, build_feed_adapter(settings, platform.clock)) if settings.embedded_feed else None
        if feed is not None:
            await feed.start()
        worker = WorkerThread(settings) if settings.embedded_worker else None
        if worker is not None:
            await asyncio.to_thread(worker.start)
        if settings.gc_freeze:
            freeze_heap()
        try:
            yield
        finally:
            if feed is not None:
                await feed.stop()
            if worker is not None:
                await asyncio.to_thread(worker.stop)
            await stop_platform(platform)

    # FastAPI's own docs pages load Swagger UI and ReDoc from a CDN: docs.install serves /docs from here
    app = FastAPI(title="Sportsbook", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.platform = platform
    # Added before the error handlers' middleware, so it runs inside it (text with NUL never reaches a lane).
    app.add_middleware(FastLane, lanes={("POST", "/api/v1/bets"): betting_routes.post_bet_fast})
    app.add_middleware(odds_routes.OddsLane)  # /ws/odds without the framework's layers: docs/odds.md
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
    app.include_router(pricing_routes.router)
    app.include_router(odds_routes.router)
    app.include_router(payments_routes.router)
    app.include_router(monitoring_routes.router)
    web.install(app, settings.web_dir)  # the router's "no route": GETs of the app's own paths
    return app

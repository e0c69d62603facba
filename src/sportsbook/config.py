"""Settings from SPORTSBOOK_* environment variables."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set. Defaults give the embedded platform: SQLite, in-process bus."""

    model_config = SettingsConfigDict(env_prefix="SPORTSBOOK_", extra="ignore")

    database_url: str = "sqlite:///./var/sportsbook.sqlite3"
    # SQLite durability: FULL survives power loss, NORMAL (in WAL mode) survives a process crash.
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL|OFF)$")
    # per node; overflow adds as many again. Below the request concurrency, connections churn (and lose
    # their prepared statements), measured in bench/placement_http.py
    database_pool_size: int = Field(default=20, ge=1, le=200)
    broker_url: str | None = None  # amqp://... selects RabbitMQ; none means the in-process bus
    redis_url: str | None = None  # redis://... : session revocations and live odds reach every node by its pub/sub
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    gc_freeze: bool = True  # freeze the heap once the API has started (see ops/runtime.py); tests turn it off
    log_level: str = "INFO"
    log_json: bool = True
    session_ttl_s: int = Field(default=12 * 3600, ge=60)
    # The longest a node trusts a session it has checked without asking the database again (0: always ask).
    # Revocations reach every node's cache at once through the revocation channel; this is the backstop
    # should a revocation be lost without the channel noticing.
    session_cache_s: float = Field(default=60.0, ge=0, le=3600)
    # Argon2id cost; the defaults follow RFC 9106's second recommended option.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_s: int = Field(default=900, ge=1)
    ledger_batch_max: int = Field(default=500, ge=1, le=10000)
    # How many chains (each with its own head, lock, house accounts and placement group committer) new players
    # spread over. One fits one machine: there the database's CPU and commits, not the chain lock, bound the
    # write path, and more shards split the batches that share them (measured: docs/performance.md). Raise it
    # when several nodes' batches queue on the chain head. Changing it never moves a player (docs/ledger.md).
    ledger_shards: int = Field(default=1, ge=1, le=256)
    pending_expiry_sweep_s: float = Field(default=5.0, gt=0)
    outbox_poll_s: float = Field(default=0.5, gt=0)
    # run the outbox relay in this process (every role does by default; off, another process must publish)
    outbox_relay: bool = True
    # settlement jobs: how often an idle worker looks for one, and how long a worker's claim lasts without a
    # chunk committing (then another worker takes the job over and resumes it)
    # bets per settlement transaction: each holds the ledger lock, so a bet may wait behind one (docs/performance.md)
    settlement_chunk: int = Field(default=200, ge=1, le=50_000)
    settlement_poll_s: float = Field(default=0.25, gt=0)
    settlement_lease_s: float = Field(default=60.0, ge=1)
    # run the worker role in the API process, on a thread of its own (`sportsbook demo`)
    embedded_worker: bool = False
    # the odds feed (`sportsbook feed`, docs/odds.md): its adapter, the simulator's own or UOF's over AMQP
    feed_adapter: str = Field(default="simulator", pattern="^(simulator|uof)$")
    # run the feed role in the API process (`sportsbook demo`)
    embedded_feed: bool = False
    # no `alive` from a producer for this long suspends every market it prices
    feed_alive_timeout_s: float = Field(default=20.0, gt=0)
    # how long a burst of prices coalesces before it is written (a market's latest price per write)
    feed_flush_s: float = Field(default=0.05, ge=0, le=5)
    # the in-play delay of the markets the feed creates
    feed_in_play_delay_s: int = Field(default=5, ge=0, le=30)
    uof_broker_url: str | None = None  # amqps://... the provider's broker (UOF adapter)
    uof_api_url: str = "https://api.betradar.com"  # recoveries are asked here
    uof_token: str = ""  # the provider's access token (x-access-token)
    uof_exchange: str = "unifiedfeed"
    uof_node_id: int | None = None
    # the simulated feed (SPORTSBOOK_FEED_ADAPTER=simulator; docs/odds.md "The simulator")
    simulator_seed: int = 1
    simulator_live_matches: int = Field(default=20, ge=0, le=1000)
    simulator_prematch_matches: int = Field(default=6, ge=0, le=1000)
    simulator_races: int = Field(default=3, ge=0, le=100)
    simulator_update_s: float = Field(default=5.0, gt=0, le=3600)  # a live match is repriced this often
    simulator_speed: float = Field(default=9.0, gt=0, le=3600)  # match seconds per second: 90 minutes in 10
    # live odds over WebSocket (`GET /ws/odds`, docs/odds.md): a heartbeat to every connection this often (the
    # contract promises one at least every 10 s); a client is dropped (1013 slow_consumer) when this many markets
    # wait for it, or when its socket has taken nothing for `odds_stall_s`
    odds_heartbeat_s: float = Field(default=5.0, gt=0, le=10)
    odds_max_pending: int = Field(default=2000, ge=1, le=1_000_000)
    odds_stall_s: float = Field(default=10.0, gt=0, le=3600)
    odds_max_subscriptions: int = Field(default=200, ge=1, le=100_000)  # events one connection may watch
    odds_max_connections: int = Field(default=20_000, ge=1)  # per node; beyond, a connection is closed with 1013
    # payments (docs/payments.md): the connectors in play, comma-separated (routing orders them). The simulated
    # PSPs are `sim-europa`, `sim-atlas` and `sim-harbour`; `stripe` joins when its API key is set.
    payments_connectors: str = "sim-europa,sim-atlas,sim-harbour"
    # the key of the cards' fingerprints (HMAC-SHA256): set a secret of your own in production; changing it makes
    # every known card (block list, retry limits) unknown
    payments_fingerprint_key: str = "sportsbook-development-fingerprint-key"
    payments_call_timeout_s: float = Field(default=30.0, gt=0, le=300)  # the longest one PSP call may take
    payments_rules_file: str | None = None  # routing rules as JSON (docs/payments.md); none: the built-in rules
    payments_adaptive: bool = True  # order each rule's connectors by their learnt success rate
    payments_exploration: float = Field(default=0.05, ge=0, le=1)  # share of payments routed in a random order
    payments_breaker_fail_max: int = Field(default=5, ge=1)  # errors and timeouts in a row that open a breaker
    payments_breaker_reset_s: float = Field(default=30.0, gt=0)  # an open breaker lets a probe through after this
    payments_resolve_after_s: float = Field(default=30.0, gt=0)  # an unknown attempt this old is asked about
    # the simulated PSPs: latency as in their profiles times this (0: they answer at once), their seed, and the
    # secret their webhooks are signed with
    payments_sim_latency_scale: float = Field(default=1.0, ge=0, le=100)
    payments_sim_seed: int = 1
    payments_sim_webhook_secret: str = "whsec_simulated_development_secret"
    # Stripe (the `stripe` connector): its API key, base URL (Stripe's, or the local simulator's) and the secret
    # of its webhook endpoint
    stripe_api_key: str | None = None
    stripe_base_url: str = "https://api.stripe.com"
    stripe_webhook_secret: str = ""
    # the built web app (web/dist, built by the README's commands), served at `/`; none there: the API alone
    web_dir: Path = Path(__file__).resolve().parents[2] / "web" / "dist"

    @cached_property
    def async_database_url(self) -> str:
        """The SQLAlchemy URL with the async driver for this database."""
        return to_async_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def to_async_url(url: str) -> str:
    """Map a plain database URL to its asyncio driver (asyncpg or aiosqlite)."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        path = url.split("://", 1)[1]
        if (path.startswith("/") and not path.startswith("//")) or path.startswith("//"):  # sqlite:///relative/path
            Path(path[1:]).parent.mkdir(parents=True, exist_ok=True)
        return "sqlite+aiosqlite://" + path
    return url

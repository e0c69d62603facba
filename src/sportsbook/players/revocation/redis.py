"""Revocations over Redis pub/sub: every node subscribes to one channel and hears each revocation at once.

Pub/sub keeps nothing for a subscriber that is away, so a node that loses its subscription may miss
revocations: it tells its listeners `lost` (they drop every cached session and read the database) until it
has subscribed again. A silent network (no reset, no answer) is found by pinging the subscription."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import orjson
import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sportsbook.players.revocation.channel import RevocationListener, token_hashes_in

log = structlog.get_logger(__name__)

CHANNEL = "sportsbook:sessions:revoked"

SUBSCRIBED = Gauge(
    "sportsbook_session_revocations_subscribed",
    "1 while this node is subscribed to the Redis session revocation channel, else 0 (sessions read from the "
    "database meanwhile).",
)
PUBLISH_FAILURES = Counter(
    "sportsbook_session_revocations_publish_failures_total",
    "Session revocations this node could not publish to Redis (other nodes stop trusting those sessions "
    "within SPORTSBOOK_SESSION_CACHE_S).",
)


class RedisRevocations:
    """A RevocationChannel on Redis pub/sub, shared by every node configured with the same Redis."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        client_name: str = "sportsbook-revocations",
        ping_every_s: float = 0.5,
        silent_after_s: float = 2.0,
        retry_s: float = 0.5,
    ) -> None:
        self._url = url
        self._channel = channel
        self._client_name = client_name  # how an operator tells these connections apart in CLIENT LIST
        self._ping_every_s = ping_every_s
        self._silent_after_s = silent_after_s
        self._retry_s = retry_s
        self._listeners: list[RevocationListener] = []
        self._client: aioredis.Redis | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = False

    def listen(self, listener: RevocationListener) -> None:
        self._listeners.append(listener)
        if self._subscribed:
            listener.resumed()

    async def start(self) -> None:
        if self._task is not None:
            return
        # No retries inside the client: a failure must reach the loop below at once, which answers it by
        # dropping the caches and subscribing again.
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
            client_name=self._client_name,
        )
        self._task = asyncio.create_task(self._run(), name="session-revocations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._set_lost()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, token_hashes: Sequence[str]) -> None:
        if not token_hashes:
            return
        client = self._client
        payload = orjson.dumps(list(token_hashes))
        for attempt in range(3):
            try:
                if client is None:
                    raise RedisError("the channel is not started")
                await client.publish(self._channel, payload)
                return
            except (RedisError, OSError) as exc:
                if attempt == 2:
                    PUBLISH_FAILURES.inc(len(token_hashes))
                    log.warning("sessions.revocation_unpublished", sessions=len(token_hashes), error=str(exc))
                    return
                await asyncio.sleep(0.05 * (attempt + 1))

    def is_healthy(self) -> bool:
        return self._subscribed

    async def _run(self) -> None:
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await self._deliver(pubsub)
            except (RedisError, OSError) as exc:
                if self._subscribed:
                    log.warning("sessions.revocations_lost", error=str(exc))
                self._set_lost()
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(self._retry_s)

    async def _deliver(self, pubsub: PubSub) -> None:
        last_heard = last_ping = time.monotonic()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=self._ping_every_s / 2)
            now = time.monotonic()
            if message is not None:
                last_heard = now
                kind = message["type"]
                if kind == "subscribe":
                    self._set_subscribed()
                elif kind == "message":
                    try:
                        hashes = token_hashes_in(orjson.loads(message["data"]))
                    except orjson.JSONDecodeError:
                        hashes = []
                    if hashes:
                        for listener in self._listeners:
                            listener.revoked(hashes)
            elif now - last_heard > self._silent_after_s:
                raise RedisError(f"no answer from Redis for {self._silent_after_s} s")
            if now - last_ping >= self._ping_every_s:
                last_ping = now
                await pubsub.ping()

    def _set_subscribed(self) -> None:
        if self._subscribed:
            return
        self._subscribed = True
        SUBSCRIBED.set(1)
        for listener in self._listeners:
            listener.resumed()

    def _set_lost(self) -> None:
        SUBSCRIBED.set(0)
        was_subscribed, self._subscribed = self._subscribed, False
        if was_subscribed:
            for listener in self._listeners:
                listener.lost()

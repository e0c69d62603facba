"""Committed markets over Redis pub/sub: every node subscribes to one channel and applies each message's markets.

Publishing never makes a commit wait on Redis: `publish` queues the message (bounded) and a task of its own sends
what is queued, pipelined. A message that cannot be sent, or finds the queue full, is counted and dropped: the
bus brings the same markets to every node a little later. The subscription reconnects with backoff while Redis is
away and counts each failure; a silent network (no reset, no answer) is found by pinging the subscription."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import redis.asyncio as aioredis
import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sportsbook.catalog.model import Market
from sportsbook.odds.channel import MalformedMessage, MarketsListener, decode, encode

log = structlog.get_logger(__name__)

CHANNEL = "sportsbook:odds:markets"

SUBSCRIBED = Gauge(
    "sportsbook_odds_channel_subscribed",
    "1 while this node is subscribed to the Redis channel of committed markets, else 0 (other nodes' prices then "
    "reach it through the event bus only).",
)
FAILURES = Counter(
    "sportsbook_odds_channel_failures_total",
    "Failures of the Redis channel of committed markets: `subscribe` (the subscription was lost or could not be "
    "made), `publish` (messages not sent), `queue_full` (messages dropped before sending), `malformed` (messages "
    "received that could not be read).",
    ("kind",),
)
MESSAGES = Counter(
    "sportsbook_odds_channel_messages_total",
    "Messages of committed markets this node published (`out`) and received (`in`) over Redis.",
    ("direction",),
)
_SUBSCRIBE_FAILED = FAILURES.labels("subscribe")
_PUBLISH_FAILED = FAILURES.labels("publish")
_QUEUE_FULL = FAILURES.labels("queue_full")
_MALFORMED = FAILURES.labels("malformed")
_OUT = MESSAGES.labels("out")
_IN = MESSAGES.labels("in")


class RedisMarkets:
    """A MarketChannel on Redis pub/sub, shared by every node configured with the same Redis."""

    def __init__(
        self,
        url: str,
        *,
        channel: str = CHANNEL,
        client_name: str = "sportsbook-odds",
        queue_max: int = 10_000,
        batch_max: int = 100,
        ping_every_s: float = 1.0,
        silent_after_s: float = 3.0,
        retry_s: float = 0.1,
        retry_max_s: float = 5.0,
    ) -> None:
        self._url = url
        self._channel = channel
        self._client_name = client_name  # how an operator tells these connections apart in CLIENT LIST
        self._batch_max = batch_max
        self._ping_every_s = ping_every_s
        self._silent_after_s = silent_after_s
        self._retry_s = retry_s
        self._retry_max_s = retry_max_s
        self._listeners: list[MarketsListener] = []
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_max)
        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = False

    def listen(self, listener: MarketsListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        if self._tasks:
            return
        # No retries inside the client: a failure reaches the loops below at once, which count it and back off.
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
            client_name=self._client_name,
        )
        self._tasks = [
            asyncio.create_task(self._subscribe(self._client), name="odds-channel-subscribe"),
            asyncio.create_task(self._publish(self._client), name="odds-channel-publish"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self._set_subscribed(False)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def publish(self, markets: Sequence[Market]) -> None:
        if not markets:
            return
        try:
            self._queue.put_nowait(encode(markets))
        except asyncio.QueueFull:
            _QUEUE_FULL.inc()

    def is_healthy(self) -> bool:
        return self._subscribed

    # --- publishing ---

    async def _publish(self, client: aioredis.Redis) -> None:
        backoff = self._retry_s
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with client.pipeline(transaction=False) as pipe:
                    for message in batch:
                        pipe.publish(self._channel, message)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                _PUBLISH_FAILED.inc(len(batch))
                log.warning("odds.channel_unpublished", messages=len(batch), error=str(exc))
                await asyncio.sleep(backoff)  # Redis is away: do not spin on the queue meanwhile
                backoff = min(backoff * 2, self._retry_max_s)
            else:
                _OUT.inc(len(batch))
                backoff = self._retry_s

    # --- subscribing ---

    async def _subscribe(self, client: aioredis.Redis) -> None:
        backoff = self._retry_s
        while True:
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await self._deliver(pubsub)
            except (RedisError, OSError) as exc:
                _SUBSCRIBE_FAILED.inc()
                if self._subscribed:
                    log.warning("odds.channel_lost", error=str(exc))
                    backoff = self._retry_s  # it was up: try again soon
                self._set_subscribed(False)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._retry_max_s)

    async def _deliver(self, pubsub: PubSub) -> None:
        last_heard = last_ping = time.monotonic()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=self._ping_every_s / 2)
            now = time.monotonic()
            if message is not None:
                last_heard = now
                kind = message["type"]
                if kind == "subscribe":
                    self._set_subscribed(True)
                elif kind == "message":
                    self._received(message["data"])
            elif now - last_heard > self._silent_after_s:
                raise RedisError(f"no answer from Redis for {self._silent_after_s} s")
            if now - last_ping >= self._ping_every_s:
                last_ping = now
                await pubsub.ping()

    def _received(self, data: bytes) -> None:
        _IN.inc()
        try:
            markets = decode(data)
        except MalformedMessage as exc:
            _MALFORMED.inc()
            log.warning("odds.channel_malformed", error=str(exc)[:200])
            return
        for listener in self._listeners:
            try:
                listener(markets)
            except Exception:  # one bad listener must not end the subscription
                log.exception("odds.channel_listener_failed")

    def _set_subscribed(self, subscribed: bool) -> None:
        self._subscribed = subscribed
        SUBSCRIBED.set(1 if subscribed else 0)

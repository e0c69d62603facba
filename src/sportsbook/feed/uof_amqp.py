"""The Unified Odds Feed's adapter: UOF's XML messages consumed from an AMQP exchange, recoveries asked of its
HTTP API. An operator with a feed contract points it at the provider's broker and API; the tests point it at the
local RabbitMQ, where the simulator publishes the same XML (`feed/uof_simulator.py`).

- **Broker.** UOF publishes on a topic exchange (`unifiedfeed`). Routing keys are
  `{priority}.{pre}.{live}.{message_type}.{sport}.{urn_type}.{event_id}.{node}`, e.g.
  `hi.-.live.odds_change.1.sr:match.10927088.-` and `-.-.-.alive.-.-.-.-`. The adapter binds a queue of its own
  with `bindings` (every message by default: `#`), declares nothing else and decodes each body with
  `uof.decode`. A body it cannot decode is yielded as `Undecodable`, with its routing key, and the feed goes on.
- **Recovery.** `POST {api_url}/v1/{product}/recovery/initiate_request?after=MS&request_id=N[&node_id=K]` with
  the `x-access-token` header; the provider then resends and ends with a `snapshot_complete` carrying the
  request id. `product` is `liveodds` for the live producer and `pre` for pre-match. `after` is left out on a
  first start (everything the provider holds).
- **Connection.** aio-pika's robust connection reconnects and re-binds after a broker restart; the messages
  missed meanwhile come back through the recovery the producer's liveness asks for."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime

import aio_pika
import httpx
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from sportsbook.core.clock import Clock, SystemClock
from sportsbook.feed.adapter import FeedAdapter, Undecodable
from sportsbook.feed.model import FeedMessage
from sportsbook.feed.uof import UOF_MARKETS, MarketMapping, UofError, decode, encode

log = structlog.get_logger(__name__)

UOF_EXCHANGE = "unifiedfeed"
RECOVERY_PRODUCTS: Mapping[str, str] = {"live": "liveodds", "prematch": "pre"}
"""UOF's product names in its recovery API, by the producer names the feed's model uses."""


class UofAmqpAdapter(FeedAdapter):
    """UOF over AMQP (see the module's docstring)."""

    name = "uof"
    provider = "uof"

    def __init__(
        self,
        broker_url: str,
        api_url: str,
        *,
        token: str = "",
        exchange: str = UOF_EXCHANGE,
        bindings: Sequence[str] = ("#",),
        node_id: int | None = None,
        markets: Mapping[int, MarketMapping] = UOF_MARKETS,
        clock: Clock | None = None,
        prefetch: int = 500,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.broker_url = broker_url
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.exchange_name = exchange
        self.bindings = tuple(bindings)
        self.node_id = node_id
        self.markets = markets
        self.clock = clock or SystemClock()
        self.prefetch = prefetch
        self._http = http
        self._own_http = http is None
        self._connection: AbstractRobustConnection | None = None
        self._queue: AbstractQueue | None = None
        # None ends `messages`; bounded, so a slow ingestion holds the broker's deliveries back (prefetch)
        self._inbox: asyncio.Queue[FeedMessage | Undecodable | None] = asyncio.Queue(maxsize=10_000)
        self._consumer_tag: str | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.broker_url)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        exchange = await channel.get_exchange(self.exchange_name, ensure=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        for key in self.bindings:
            await queue.bind(exchange, routing_key=key)
        self._queue = queue
        self._consumer_tag = await queue.consume(self._on_message)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)

    async def stop(self) -> None:
        if self._queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._consumer_tag)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None
        await self._inbox.put(None)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        # acked once queued: the ingestion is idempotent and a lost message comes back through recovery
        async with message.process():
            await self._inbox.put(self._decode(message.body, message.routing_key or ""))

    def _decode(self, body: bytes, routing_key: str) -> FeedMessage | Undecodable:
        try:
            return decode(body)
        except UofError as exc:
            return Undecodable(body, str(exc), self.clock.now(), routing_key)

    async def messages(self) -> AsyncIterator[FeedMessage | Undecodable]:
        while True:
            item = await self._inbox.get()
            if item is None:
                return
            yield item

    async def request_recovery(self, producer: str, since: datetime | None, request_id: int) -> None:
        product = RECOVERY_PRODUCTS.get(producer)
        if product is None:
            raise ValueError(f"no UOF product for producer {producer!r}")
        params: dict[str, str | int] = {"request_id": request_id}
        if since is not None:
            params["after"] = int(since.astimezone(UTC).timestamp() * 1000)
        if self.node_id is not None:
            params["node_id"] = self.node_id
        http = self._http
        if http is None:
            raise RuntimeError("the adapter is not started")
        url = f"{self.api_url}/v1/{product}/recovery/initiate_request"
        answer = await http.post(url, params=params, headers={"x-access-token": self.token})
        if answer.status_code >= 300:
            log.error("feed.recovery_refused", producer=producer, status=answer.status_code, body=answer.text[:500])
            answer.raise_for_status()


def routing_key(message: FeedMessage, *, priority: str = "hi") -> str:
    """The UOF routing key a provider publishes `message` under."""
    if message.event is None:
        return f"-.-.-.{message.type.value}.-.-.-.-"
    pre, live = ("-", "live") if message.producer == "live" else ("pre", "-")
    urn_type, _, event_id = message.event.rpartition(":")
    return f"{priority}.{pre}.{live}.{message.type.value}.-.{urn_type}.{event_id}.-"


class UofPublisher:
    """Publishes the feed's messages as UOF's XML under UOF's routing keys on a topic exchange: how the simulator
    stands in for the provider's broker (the UOF adapter's integration test, an operator's staging setup)."""

    def __init__(self, broker_url: str, *, exchange: str = UOF_EXCHANGE) -> None:
        self.broker_url = broker_url
        self.exchange_name = exchange
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(self.broker_url)
        channel = await self._connection.channel()
        self._exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC)

    async def publish(self, messages: Sequence[FeedMessage]) -> int:
        """Publish those UOF can express (`uof.encode`); how many were."""
        if self._exchange is None:
            raise RuntimeError("the publisher is not started")
        sent = 0
        for message in messages:
            try:
                body = encode(message)
            except ValueError:
                continue  # not expressible in UOF's XML (a race's placed result): the simulator's own feed carries it
            await self._exchange.publish(aio_pika.Message(body), routing_key=routing_key(message))
            sent += 1
        return sent

    async def stop(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

"""The RabbitMQ event bus (aio-pika): the production backend.

Topology: one durable topic exchange (`sportsbook.events` by default), routing key = event type; one
durable queue per consumer name, `<exchange>.<consumer>`, bound to the consumer's types. Messages are
persistent and published with publisher confirms, so `publish` returns only once the broker has them.
Consumers ack after their handler succeeds and nack (requeue) when it fails, so delivery is at least once;
duplicates are for the inbox (inbox.py) to absorb. A message that is not an event at all is rejected into
the `<exchange>.dead-letter` queue rather than dropped. The robust connection reconnects and restores the
topology and the consumers when the broker comes back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection
from aiormq.exceptions import ChannelInvalidStateError

from sportsbook.events.bus import Handler, subscription_patterns
from sportsbook.events.model import Event, InvalidEvent

log = structlog.get_logger(__name__)

DEFAULT_EXCHANGE = "sportsbook.events"


def binding_key(pattern: str) -> str:
    """The AMQP topic binding for a subscription pattern: "*" and "prefix.*" take any number of words."""
    if pattern == "*":
        return "#"
    if pattern.endswith(".*"):
        return pattern[:-1] + "#"
    return pattern


PER_NODE_QUEUE_EXPIRES_MS = 60_000


@dataclass(eq=False)
class _Consumer:
    name: str
    patterns: tuple[str, ...]
    handler: Handler
    channel: AbstractRobustChannel | None = None
    buffer: asyncio.Queue[AbstractIncomingMessage] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    failures: dict[str, int] = field(default_factory=dict)
    per_node: bool = False


class RabbitMQBus:
    """An EventBus on RabbitMQ. Subscribe before start(); publish raises if the broker did not confirm."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        prefetch: int = 64,
        publish_timeout_s: float = 10.0,
        reconnect_interval_s: float = 1.0,
        retry_initial_s: float = 0.1,
        retry_max_s: float = 10.0,
    ) -> None:
        self.url = url
        self.exchange_name = exchange
        self._prefetch = prefetch
        self._publish_timeout_s = publish_timeout_s
        self._reconnect_interval_s = reconnect_interval_s
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._consumers: dict[str, _Consumer] = {}
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractRobustChannel | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    def queue_name(self, consumer: str) -> str:
        """The durable queue that holds a consumer's events."""
        return f"{self.exchange_name}.{consumer}"

    @property
    def dead_letter_name(self) -> str:
        """The exchange and queue where undecodable messages are parked for a human to look at."""
        return f"{self.exchange_name}.dead-letter"

    def subscribe(self, consumer: str, types: Sequence[str], handler: Handler, *, per_node: bool = False) -> None:
        """Register a consumer for event types ("*", "prefix.*" or exact). Call before start()."""
        patterns = subscription_patterns(consumer, types, taken=self._consumers, started=self._connection is not None)
        self._consumers[consumer] = _Consumer(consumer, patterns, handler, per_node=per_node)

    async def start(self) -> None:
        """Connect, declare the topology and start consuming. Raises if the broker is unreachable."""
        if self._connection is not None:
            return
        connection = await aio_pika.connect_robust(self.url, reconnect_interval=self._reconnect_interval_s)
        try:
            self._publish_channel = await connection.channel(publisher_confirms=True)
            self._exchange = await self._publish_channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            if self._consumers:
                dlx = await self._publish_channel.declare_exchange(
                    self.dead_letter_name, aio_pika.ExchangeType.FANOUT, durable=True
                )
                dead = await self._publish_channel.declare_queue(self.dead_letter_name, durable=True)
                await dead.bind(dlx)
            for consumer in self._consumers.values():
                await self._start_consumer(connection, consumer)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection

    async def _start_consumer(self, connection: AbstractRobustConnection, consumer: _Consumer) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True)
        arguments: dict[str, Any] = {"x-dead-letter-exchange": self.dead_letter_name}
        if consumer.per_node:
            # gone with the node: deleted when its consumer goes, and in any case a minute after it went quiet
            arguments["x-expires"] = PER_NODE_QUEUE_EXPIRES_MS
        queue = await channel.declare_queue(
            self.queue_name(consumer.name),
            durable=not consumer.per_node,
            auto_delete=consumer.per_node,
            arguments=arguments,
        )
        for pattern in consumer.patterns:
            await queue.bind(exchange, routing_key=binding_key(pattern))
        consumer.channel = channel
        consumer.task = asyncio.create_task(self._run(consumer), name=f"events-consumer-{consumer.name}")
        # The broker pushes into a local buffer and one task drains it, so a consumer handles one event
        # at a time, in the order it received them.
        await queue.consume(consumer.buffer.put)

    async def stop(self) -> None:
        """Stop consuming and close the connection. Unacked messages go back to their queues."""
        connection, self._connection = self._connection, None
        for consumer in self._consumers.values():
            if consumer.task is not None:
                consumer.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await consumer.task
                consumer.task = None
            consumer.channel = None
            consumer.buffer = asyncio.Queue()
        self._publish_channel = None
        self._exchange = None
        if connection is not None:
            await connection.close()

    async def publish(self, events: Sequence[Event]) -> None:
        """Publish persistent messages and wait for the broker's confirms; raise on any failure."""
        if not events:
            return
        exchange = self._exchange
        if exchange is None:
            raise RuntimeError("the bus is not started")
        async with asyncio.timeout(self._publish_timeout_s):
            # All in flight at once: one round of confirms for the batch, not one per event.
            await asyncio.gather(*(exchange.publish(_message(e), routing_key=e.type, mandatory=False) for e in events))

    def is_healthy(self) -> bool:
        connection = self._connection
        if connection is None or connection.is_closed or not connection.connected.is_set():
            return False
        channel = self._publish_channel
        return channel is not None and not channel.is_closed

    async def _run(self, consumer: _Consumer) -> None:
        while True:
            message = await consumer.buffer.get()
            try:
                await self._deliver(consumer, message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("events.rabbitmq.delivery_error", consumer=consumer.name)

    async def _deliver(self, consumer: _Consumer, message: AbstractIncomingMessage) -> None:
        if not _channel_open(message):
            # Received before a reconnect: the broker has already requeued it and can no longer take an
            # ack for it, so handling it now would only be duplicate work.
            return
        try:
            event = Event.decode(message.body)
        except InvalidEvent:
            log.error("events.rabbitmq.undecodable", consumer=consumer.name, message_id=message.message_id)
            await _settle(message.reject(requeue=False))
            return
        key = str(event.id)
        try:
            await consumer.handler(event)
        except Exception:
            attempt = consumer.failures.get(key, 0) + 1
            if len(consumer.failures) > 10_000:  # bound the memory a flood of failures can take
                consumer.failures.clear()
            consumer.failures[key] = attempt
            delay = min(self._retry_initial_s * 2 ** (attempt - 1), self._retry_max_s)
            log.exception(
                "events.handler_failed",
                consumer=consumer.name,
                event_id=key,
                event_type=event.type,
                attempt=attempt,
                retry_in_s=delay,
            )
            # Wait before handing it back, or a failing handler would spin on its own redeliveries.
            await asyncio.sleep(delay)
            await _settle(message.nack(requeue=True))
            return
        consumer.failures.pop(key, None)
        await _settle(message.ack())


def _message(event: Event) -> aio_pika.Message:
    return aio_pika.Message(
        body=event.encode(),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(event.id),
        type=event.type,
        timestamp=event.occurred_at,
        headers={"version": event.version, "key": event.key},
    )


def _channel_open(message: AbstractIncomingMessage) -> bool:
    try:
        message.channel  # noqa: B018  (raises once the channel it came on is closed)
    except ChannelInvalidStateError:
        return False
    return True


async def _settle(outcome: Awaitable[Any]) -> None:
    # An ack or nack can fail when the connection has just dropped; the broker then redelivers the
    # message itself, and the consumer's inbox absorbs the repeat.
    try:
        await outcome
    except Exception as exc:
        log.warning("events.rabbitmq.settle_failed", error=repr(exc))

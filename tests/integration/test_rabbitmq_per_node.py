"""Per-node subscriptions on RabbitMQ: every node gets the events, and no queue is left when the node goes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import aio_pika
import pytest
from aiormq.exceptions import ChannelNotFoundEntity

from sportsbook.events.backends.rabbitmq import RabbitMQBus
from sportsbook.events.model import Event

pytestmark = pytest.mark.rabbitmq


def _event() -> Event:
    payload = {"player_id": str(uuid.uuid4()), "session_id": str(uuid.uuid4())}
    return Event.new("player.session_started", 1, payload["player_id"], payload, datetime.now(UTC))


async def _queue_exists(url: str, name: str) -> bool:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return False
        return True
    finally:
        await connection.close()


async def test_per_node_queue_delivers_and_disappears_with_the_node(rabbitmq_url: str) -> None:
    exchange = f"sportsbook.events.test-{uuid.uuid4().hex[:10]}"
    node = RabbitMQBus(rabbitmq_url, exchange=exchange)
    durable = RabbitMQBus(rabbitmq_url, exchange=exchange)
    got: list[Event] = []
    kept: list[Event] = []

    async def on_event(event: Event) -> None:
        got.append(event)

    async def on_kept(event: Event) -> None:
        kept.append(event)

    node.subscribe("read-model-node-1", ["player.*"], on_event, per_node=True)
    durable.subscribe("shared-consumer", ["player.*"], on_kept)
    await node.start()
    await durable.start()
    try:
        sent = _event()
        await node.publish([sent])
        for _ in range(100):
            if got and kept:
                break
            await asyncio.sleep(0.05)
        assert [e.id for e in got] == [sent.id]
        assert [e.id for e in kept] == [sent.id]
    finally:
        await node.stop()
        await durable.stop()
    for _ in range(40):  # the broker deletes an auto-delete queue once its consumer is gone
        if not await _queue_exists(rabbitmq_url, node.queue_name("read-model-node-1")):
            break
        await asyncio.sleep(0.05)
    assert not await _queue_exists(rabbitmq_url, node.queue_name("read-model-node-1"))
    assert await _queue_exists(rabbitmq_url, durable.queue_name("shared-consumer"))  # a durable consumer's stays
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(durable.queue_name("shared-consumer"))
        await channel.queue_delete(durable.dead_letter_name)
        await channel.exchange_delete(exchange)
        await channel.exchange_delete(durable.dead_letter_name)
    finally:
        await connection.close()

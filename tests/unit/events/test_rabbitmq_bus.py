"""The RabbitMQ backend's behaviour that needs no broker."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sportsbook.events.backends.rabbitmq import RabbitMQBus
from sportsbook.events.model import Event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def _noop(event: Event) -> None:
    return None


async def test_publish_before_start_raises_so_the_relay_keeps_the_rows() -> None:
    bus = RabbitMQBus("amqp://guest:guest@127.0.0.1:1/")
    with pytest.raises(RuntimeError, match="not started"):
        await bus.publish([Event.new("player.session_started", 1, "p", {"player_id": "p", "session_id": "s"}, NOW)])


async def test_start_raises_when_the_broker_is_unreachable() -> None:
    bus = RabbitMQBus("amqp://guest:guest@127.0.0.1:1/")
    bus.subscribe("crm", ["player.*"], _noop)
    with pytest.raises(ConnectionError):
        await bus.start()
    assert not bus.is_healthy()


def test_each_consumer_has_its_own_queue_under_the_exchange_name() -> None:
    bus = RabbitMQBus("amqp://localhost/", exchange="sb.test")
    assert bus.queue_name("crm") == "sb.test.crm"
    assert bus.dead_letter_name == "sb.test.dead-letter"
    bus.subscribe("crm", ["player.*"], _noop)
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe("crm", ["wallet.adjusted"], _noop)

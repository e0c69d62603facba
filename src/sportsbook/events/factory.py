"""Chooses the event bus backend the settings name."""

from __future__ import annotations

from sportsbook.config import Settings
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.bus import EventBus


def build_bus(settings: Settings) -> EventBus:
    """RabbitMQ when `broker_url` is set, else the in-process bus of the embedded platform."""
    if settings.broker_url:
        # Imported here so the embedded platform never loads aio-pika.
        from sportsbook.events.backends.rabbitmq import RabbitMQBus

        return RabbitMQBus(settings.broker_url)
    return MemoryBus()

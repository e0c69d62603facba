"""Domain events: a transactional outbox, a relay, and a bus with in-process and RabbitMQ backends.

See docs/events.md for the guarantees and the registered schemas."""

from sportsbook.events.model import Event, EventSchema

__all__ = ["Event", "EventSchema"]

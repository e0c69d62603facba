"""The event bus interface every backend implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from sportsbook.events.model import Event, check_pattern

Handler = Callable[[Event], Awaitable[None]]
"""A consumer's handler. Raising means "not handled": the bus delivers the event again later."""


class EventBus(Protocol):
    """Publishes events and delivers them, at least once, to every consumer subscribed to their type."""

    async def start(self) -> None:
        """Connect and start delivering to the subscribed consumers."""

    async def stop(self) -> None:
        """Stop delivering and disconnect."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Return only once the bus has durably accepted every event; raise if it has not."""

    def subscribe(self, consumer: str, types: Sequence[str], handler: Handler, *, per_node: bool = False) -> None:
        """Register a consumer (a unique name) for types: exact, "prefix.*" or "*". Call before start().

        `per_node`: every node gets every event (an in-memory read model) and what the node missed while down
        is not kept for it (it reloads from the database at start), so the broker keeps no queue behind it."""

    def is_healthy(self) -> bool:
        """Whether the bus can publish and deliver right now (health checks call it)."""


def subscription_patterns(
    consumer: str, types: Sequence[str], *, taken: Collection[str], started: bool
) -> tuple[str, ...]:
    """The checked patterns of a new subscription; the rules every backend shares."""
    if started:
        raise RuntimeError("subscribe before the bus starts")
    if consumer in taken:
        raise ValueError(f"consumer {consumer!r} is already subscribed")
    if not types:
        raise ValueError("subscribe to at least one type")
    return tuple(check_pattern(t) for t in types)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from sportsbook.config import Settings
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.backends.rabbitmq import RabbitMQBus
from sportsbook.events.factory import build_bus
from sportsbook.events.model import Event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def session_started(n: int) -> Event:
    return Event.new("player.session_started", 1, f"p{n}", {"player_id": f"p{n}", "session_id": f"s{n}"}, NOW)


def adjusted(n: int) -> Event:
    payload = {
        "adjustment_id": f"a{n}",
        "player_id": f"p{n}",
        "amount": n,
        "currency": "EUR",
        "reason": "goodwill",
        "staff_id": "staff",
        "transfer_id": f"t{n}",
    }
    return Event.new("wallet.adjusted", 1, f"p{n}", payload, NOW)


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    b = MemoryBus(retry_initial_s=0.001, retry_max_s=0.01, stop_timeout_s=1)
    yield b
    await b.stop()


async def test_each_consumer_gets_only_the_types_it_subscribed_to(bus: MemoryBus) -> None:
    players: list[str] = []
    everything: list[str] = []
    wallet: list[str] = []

    async def on_player(e: Event) -> None:
        players.append(e.type)

    async def on_any(e: Event) -> None:
        everything.append(e.type)

    async def on_wallet(e: Event) -> None:
        wallet.append(e.type)

    bus.subscribe("crm", ["player.*"], on_player)
    bus.subscribe("analytics", ["*"], on_any)
    bus.subscribe("risk", ["wallet.adjusted"], on_wallet)
    await bus.start()
    await bus.publish([session_started(1), adjusted(2)])
    await bus.drain()
    assert players == ["player.session_started"]
    assert everything == ["player.session_started", "wallet.adjusted"]
    assert wallet == ["wallet.adjusted"]


async def test_a_consumer_sees_events_in_publish_order(bus: MemoryBus) -> None:
    seen: list[str] = []

    async def handle(e: Event) -> None:
        seen.append(e.key)

    bus.subscribe("c", ["*"], handle)
    await bus.start()
    events = [session_started(n) for n in range(50)]
    await bus.publish(events[:20])
    await bus.publish(events[20:])
    await bus.drain()
    assert seen == [e.key for e in events]


async def test_a_failing_handler_is_retried_until_it_succeeds_and_order_is_kept(bus: MemoryBus) -> None:
    attempts: dict[str, int] = {}
    done: list[str] = []

    async def flaky(e: Event) -> None:
        attempts[e.key] = attempts.get(e.key, 0) + 1
        if e.key == "p1" and attempts[e.key] < 4:
            raise RuntimeError("database hiccup")
        done.append(e.key)

    bus.subscribe("c", ["player.*"], flaky)
    await bus.start()
    await bus.publish([session_started(1), session_started(2)])
    await asyncio.wait_for(bus.drain(), 10)
    assert attempts == {"p1": 4, "p2": 1}
    assert done == ["p1", "p2"]
    assert bus.is_healthy()


async def test_events_published_before_start_are_delivered_after_start(bus: MemoryBus) -> None:
    seen: list[str] = []

    async def handle(e: Event) -> None:
        seen.append(e.key)

    bus.subscribe("c", ["*"], handle)
    await bus.publish([session_started(1)])
    await bus.start()
    await bus.drain()
    assert seen == ["p1"]


async def test_subscriptions_are_refused_after_start_or_under_a_taken_name(bus: MemoryBus) -> None:
    async def handle(e: Event) -> None:
        return None

    bus.subscribe("c", ["*"], handle)
    with pytest.raises(ValueError, match="already subscribed"):
        bus.subscribe("c", ["player.*"], handle)
    with pytest.raises(ValueError, match="pattern"):
        bus.subscribe("d", ["player.#"], handle)
    await bus.start()
    with pytest.raises(RuntimeError):
        bus.subscribe("e", ["*"], handle)


async def test_health_follows_start_and_stop_and_a_stopped_bus_refuses_to_publish(bus: MemoryBus) -> None:
    async def handle(e: Event) -> None:
        return None

    bus.subscribe("c", ["*"], handle)
    assert not bus.is_healthy()
    await bus.start()
    assert bus.is_healthy()
    await bus.stop()
    assert not bus.is_healthy()
    # Refusing matters: the relay must not mark as published what no consumer will ever get.
    with pytest.raises(RuntimeError):
        await bus.publish([session_started(1)])


def test_factory_builds_the_backend_the_settings_name() -> None:
    assert isinstance(build_bus(Settings(broker_url=None)), MemoryBus)
    bus = build_bus(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672/"))
    assert isinstance(bus, RabbitMQBus)
    assert not bus.is_healthy()  # built, not connected

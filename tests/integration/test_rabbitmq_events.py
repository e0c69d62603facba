"""Outbox, relay, RabbitMQ and inbox together, through a broker restart in the middle of a stream."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import aio_pika
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.db.engine import Database
from sportsbook.events import outbox
from sportsbook.events.backends.rabbitmq import RabbitMQBus
from sportsbook.events.inbox import deduplicated
from sportsbook.events.model import Event
from sportsbook.events.relay import OutboxRelay

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]

CONSUMER = "it-consumer"
NOW = datetime(2026, 1, 1, tzinfo=UTC)

# The consumer's own table: a row per application, so a duplicate that slipped through shows as two.
scratch = sa.MetaData()
effects = sa.Table(
    "it_effects",
    scratch,
    sa.Column("n", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid(), nullable=False),
)


def started(n: int) -> Event:
    return Event.new("player.session_started", 1, f"p{n}", {"player_id": f"p{n}", "session_id": f"s{n}"}, NOW)


async def rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out.decode()} {err.decode()}")


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 30) -> None:
    """Wait until `check` holds; fail naming `what` if it does not within a generous timeout."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"timed out waiting for: {what}")


async def applied(db: Database) -> Counter[uuid.UUID]:
    async with db.read() as conn:
        return Counter((await conn.execute(sa.select(effects.c.event_id))).scalars().all())


async def write(db: Database, relay: OutboxRelay, events: list[Event]) -> None:
    async with db.transaction() as conn:
        await outbox.add(conn, events)
    relay.wake()


async def delete_topology(url: str, bus: RabbitMQBus) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for queue in (bus.queue_name(CONSUMER), bus.dead_letter_name):
            await channel.queue_delete(queue)
        for exchange in (bus.exchange_name, bus.dead_letter_name):
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@pytest.fixture
async def pg_db(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url)
    async with database.transaction() as conn:
        await conn.run_sync(scratch.create_all)
    yield database
    await database.dispose()


async def test_broker_restart_mid_stream_loses_no_event_and_the_inbox_absorbs_duplicates(
    rabbitmq_url: str, pg_db: Database
) -> None:
    db = pg_db
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to restart the broker")

    async def apply(conn: AsyncConnection, event: Event) -> None:
        await conn.execute(effects.insert().values(event_id=event.id))

    deliveries: Counter[uuid.UUID] = Counter()
    handle = deduplicated(db, CONSUMER, apply)

    async def count_and_handle(event: Event) -> None:
        deliveries[event.id] += 1
        await handle(event)

    bus = RabbitMQBus(
        rabbitmq_url,
        exchange=f"sportsbook.events.test-{uuid.uuid4().hex[:10]}",  # reruns never share queues
        reconnect_interval_s=0.5,
        publish_timeout_s=3,
        retry_initial_s=0.05,
        retry_max_s=0.5,
    )
    bus.subscribe(CONSUMER, ["player.*"], count_and_handle)
    relay = OutboxRelay(db, bus, poll_s=0.05, batch=50, max_backoff_s=0.5)
    broker_stopped = False
    events = [started(n) for n in range(600)]
    before, during, after = events[:400], events[400:500], events[500:]

    async def produce(stream: list[Event]) -> None:
        for i in range(0, len(stream), 4):
            await write(db, relay, stream[i : i + 4])
            await asyncio.sleep(0.005)

    await bus.start()
    await relay.start()
    try:
        producer = asyncio.create_task(produce(before))

        async def some_handled() -> bool:
            return len(await applied(db)) >= 50

        await eventually(some_handled, "the first events to be handled")
        # Mid-stream: the producer is still writing and the relay and consumer are busy.
        await rabbitmqctl("stop_app")
        broker_stopped = True

        async def bus_down() -> bool:
            return not bus.is_healthy()

        await eventually(bus_down, "the bus to notice the broker is gone")
        await write(db, relay, during)  # committed while nothing can be published
        await rabbitmqctl("start_app")
        await rabbitmqctl("await_startup")
        broker_stopped = False
        await producer
        await produce(after)

        async def all_handled() -> bool:
            return len(await applied(db)) == len(events)

        await eventually(all_handled, "every event to be handled")
        async with db.read() as conn:
            assert await outbox.backlog(conn) == 0
        effect = await applied(db)
        assert set(effect) == {e.id for e in events}
        assert max(effect.values()) == 1

        # Force duplicates: put every event back in the outbox (as a relay that published but lost its
        # commit would leave them) and publish a batch straight to the bus again. All of it is delivered;
        # none of it applies twice.
        delivered = sum(deliveries.values())
        async with db.transaction() as conn:
            await outbox.add(conn, events)
        relay.wake()
        await bus.publish(events[:25])

        async def duplicates_delivered() -> bool:
            return sum(deliveries.values()) >= delivered + len(events) + 25

        await eventually(duplicates_delivered, "the duplicates to be delivered")
        assert all(deliveries[e.id] >= 2 for e in events)
        assert await applied(db) == effect
    finally:
        if broker_stopped:
            await rabbitmqctl("start_app")
            await rabbitmqctl("await_startup")
        await relay.stop()
        await bus.stop()
        await delete_topology(rabbitmq_url, bus)


async def test_a_failing_handler_gets_the_event_again_and_garbage_is_parked_in_the_dead_letter_queue(
    rabbitmq_url: str,
) -> None:
    attempts: Counter[uuid.UUID] = Counter()
    handled = asyncio.Event()

    async def flaky(event: Event) -> None:
        attempts[event.id] += 1
        if attempts[event.id] < 3:
            raise RuntimeError("downstream refused")
        handled.set()

    bus = RabbitMQBus(rabbitmq_url, exchange=f"sportsbook.events.test-{uuid.uuid4().hex[:10]}", retry_initial_s=0.01)
    bus.subscribe(CONSUMER, ["player.*"], flaky)
    await bus.start()
    try:
        event = started(1)
        await bus.publish([event])
        await asyncio.wait_for(handled.wait(), 20)
        assert attempts == {event.id: 3}

        connection = await aio_pika.connect(rabbitmq_url)
        try:
            channel = await connection.channel()
            exchange = await channel.get_exchange(bus.exchange_name)
            await exchange.publish(aio_pika.Message(b"not an event"), routing_key="player.garbage")
            dead = await channel.get_queue(bus.dead_letter_name)

            async def parked() -> bool:
                message = await dead.get(no_ack=True, fail=False)
                return message is not None and message.body == b"not an event"

            await eventually(parked, "the undecodable message in the dead-letter queue", timeout_s=20)
        finally:
            await connection.close()
        assert attempts == {event.id: 3}  # the garbage never reached the handler
    finally:
        await bus.stop()
        await delete_topology(rabbitmq_url, bus)

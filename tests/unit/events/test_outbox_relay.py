"""The outbox and the relay, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.events import outbox
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.model import Event
from sportsbook.events.relay import OutboxRelay

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def started(n: int) -> Event:
    return Event.new("player.session_started", 1, f"p{n}", {"player_id": f"p{n}", "session_id": f"s{n}"}, NOW)


class RecordingBus:
    """A bus that records what it accepted and can be told to fail, or to take its time."""

    def __init__(self, fail_times: int = 0, delay_s: float = 0.0) -> None:
        self.published: list[Event] = []
        self.fail_times = fail_times
        self.delay_s = delay_s
        self.calls = 0

    async def publish(self, events: Sequence[Event]) -> None:
        self.calls += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ConnectionError("broker unreachable")
        self.published.extend(events)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def subscribe(self, consumer: str, types: Sequence[str], handler: object, *, per_node: bool = False) -> None: ...
    def is_healthy(self) -> bool:
        return True


async def _write(db: Database, events: Sequence[Event]) -> None:
    async with db.transaction() as conn:
        await outbox.add(conn, events)


async def _backlog(db: Database) -> int:
    async with db.read() as conn:
        return await outbox.backlog(conn)


async def test_events_commit_with_the_transaction_and_read_back_unchanged(db: Database) -> None:
    events = [started(n) for n in range(5)]
    await _write(db, events)
    async with db.read() as conn:
        rows = await outbox.fetch_unpublished(conn, 100)
    assert [r.event for r in rows] == events
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    # Read back, an event still goes on the wire (asyncpg's own UUID type would not).
    assert [Event.decode(r.event.encode()) for r in rows] == events


async def test_events_roll_back_with_the_transaction(db: Database) -> None:
    async def failing_change() -> None:
        async with db.transaction() as conn:
            await outbox.add(conn, [started(1)])
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    assert await _backlog(db) == 0


async def test_relay_publishes_in_seq_order_in_batches_and_marks_rows(db: Database) -> None:
    events = [started(n) for n in range(7)]
    await _write(db, events[:3])
    await _write(db, events[3:])
    bus = RecordingBus()
    clock = ManualClock(NOW)
    relay = OutboxRelay(db, bus, batch=3, clock=clock)
    assert [await relay.relay_once() for _ in range(4)] == [3, 3, 1, 0]
    assert bus.published == events
    assert await _backlog(db) == 0
    async with db.read() as conn:  # a published row leaves the outbox: nothing is rewritten, nothing to purge
        assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox.outbox))).scalar_one() == 0


async def test_a_bus_failure_leaves_the_events_for_the_next_attempt(db: Database) -> None:
    events = [started(n) for n in range(3)]
    await _write(db, events)
    bus = RecordingBus(fail_times=1)
    relay = OutboxRelay(db, bus)
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert await _backlog(db) == 3
    assert await relay.relay_once() == 3
    assert bus.published == events
    assert await _backlog(db) == 0


async def test_running_relay_outlasts_bus_errors_and_delivers_everything(db: Database) -> None:
    events = [started(n) for n in range(10)]
    await _write(db, events)
    bus = RecordingBus(fail_times=3)
    relay = OutboxRelay(db, bus, poll_s=0.01, max_backoff_s=0.02)
    await relay.start()
    try:
        while True:
            if not await _backlog(db):
                break
            await asyncio.sleep(0.01)
    finally:
        await relay.stop()
    assert bus.published == events
    assert bus.calls >= 4


async def test_wake_publishes_new_events_without_waiting_for_the_poll(db: Database) -> None:
    bus = MemoryBus()
    got: asyncio.Queue[Event] = asyncio.Queue()

    async def handle(e: Event) -> None:
        await got.put(e)

    bus.subscribe("c", ["*"], handle)
    await bus.start()
    # An hour between polls: only wake() can get the event out within the test's lifetime.
    relay = OutboxRelay(db, bus, poll_s=3600)
    await relay.start()
    try:
        for n in range(3):
            event = started(n)
            await _write(db, [event])
            relay.wake()
            assert await asyncio.wait_for(got.get(), 10) == event
    finally:
        await relay.stop()
        await bus.stop()


async def test_concurrent_relays_lose_no_event(db: Database) -> None:
    events = [started(n) for n in range(40)]
    await _write(db, events)
    bus = RecordingBus(delay_s=0.01)
    relays = [OutboxRelay(db, bus, batch=5), OutboxRelay(db, bus, batch=5)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.relay_once():
            pass

    await asyncio.gather(*(drain(r) for r in relays))
    assert await _backlog(db) == 0
    assert {e.id for e in bus.published} == {e.id for e in events}
    if not db.is_sqlite:
        # FOR UPDATE SKIP LOCKED: the relays split the backlog rather than both publishing it.
        assert len(bus.published) == len(events)


async def test_delete_published_takes_out_only_the_confirmed_rows(db: Database) -> None:
    await _write(db, [started(n) for n in range(4)])
    async with db.transaction() as conn:
        rows = await outbox.fetch_unpublished(conn, 2)
        assert await outbox.delete_published(conn, [r.seq for r in rows]) == 2
        assert await outbox.delete_published(conn, [r.seq for r in rows]) == 0  # a second relay's late confirm
        assert await outbox.delete_published(conn, []) == 0
    async with db.read() as conn:
        assert await outbox.backlog(conn) == 2
        left = await outbox.fetch_unpublished(conn, 10)
    assert [r.event.key for r in left] == ["p2", "p3"]

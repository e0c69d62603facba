"""Consumer-side deduplication, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.events import inbox
from sportsbook.events.model import Event

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# A stand-in for a consumer's own table: one row per application of an event, so a duplicate that got
# through would show up as a second row.
scratch = sa.MetaData()
effects = sa.Table(
    "test_effects",
    scratch,
    sa.Column("n", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid(), nullable=False),
)


def started(n: int) -> Event:
    return Event.new("player.session_started", 1, f"p{n}", {"player_id": f"p{n}", "session_id": f"s{n}"}, NOW)


@pytest.fixture
async def effects_db(db: Database) -> Database:
    async with db.transaction() as conn:
        await conn.run_sync(scratch.create_all)
    return db


async def apply(conn: AsyncConnection, event: Event) -> None:
    await conn.execute(effects.insert().values(event_id=event.id))


async def applied(db: Database, event: Event) -> int:
    async with db.read() as conn:
        query = sa.select(sa.func.count()).select_from(effects).where(effects.c.event_id == event.id)
        return int((await conn.execute(query)).scalar_one())


async def test_first_delivery_is_true_once_per_consumer(db: Database) -> None:
    event_id = uuid.uuid4()
    async with db.transaction() as conn:
        assert await inbox.first_delivery(conn, "crm", event_id, NOW)
        assert not await inbox.first_delivery(conn, "crm", event_id, NOW)
        assert await inbox.first_delivery(conn, "risk", event_id, NOW)
    async with db.transaction() as conn:
        assert not await inbox.first_delivery(conn, "crm", event_id, NOW)


async def test_a_redelivered_event_is_applied_once(effects_db: Database) -> None:
    handler = inbox.deduplicated(effects_db, "crm", apply, clock=ManualClock(NOW))
    event = started(1)
    for _ in range(3):
        await handler(event)
    assert await applied(effects_db, event) == 1


async def test_each_consumer_applies_the_event_once_on_its_own(effects_db: Database) -> None:
    event = started(1)
    await inbox.deduplicated(effects_db, "crm", apply)(event)
    await inbox.deduplicated(effects_db, "risk", apply)(event)
    await inbox.deduplicated(effects_db, "risk", apply)(event)
    assert await applied(effects_db, event) == 2


async def test_a_failed_handling_is_not_recorded_so_the_redelivery_applies_it(effects_db: Database) -> None:
    calls = 0

    async def fails_first(conn: AsyncConnection, event: Event) -> None:
        nonlocal calls
        calls += 1
        await apply(conn, event)
        if calls == 1:
            raise RuntimeError("downstream refused")

    handler = inbox.deduplicated(effects_db, "crm", fails_first)
    event = started(1)
    with pytest.raises(RuntimeError):
        await handler(event)
    assert await applied(effects_db, event) == 0
    await handler(event)
    await handler(event)
    assert await applied(effects_db, event) == 1
    assert calls == 2


async def test_concurrent_duplicate_deliveries_apply_once(effects_db: Database) -> None:
    async def slow_apply(conn: AsyncConnection, event: Event) -> None:
        await apply(conn, event)
        await asyncio.sleep(0.05)  # hold the transaction open while the duplicates arrive

    handler = inbox.deduplicated(effects_db, "crm", slow_apply)
    events = [started(n) for n in range(3)]
    await asyncio.gather(*(handler(e) for e in events for _ in range(4)))
    for e in events:
        assert await applied(effects_db, e) == 1


async def test_purge_forgets_only_records_older_than_the_cutoff(db: Database) -> None:
    async with db.transaction() as conn:
        await inbox.first_delivery(conn, "crm", uuid.uuid4(), datetime(2025, 1, 1, tzinfo=UTC))
        await inbox.first_delivery(conn, "crm", uuid.uuid4(), datetime(2026, 6, 1, tzinfo=UTC))
    async with db.transaction() as conn:
        assert await inbox.purge(conn, datetime(2026, 1, 1, tzinfo=UTC)) == 1
    async with db.read() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(inbox.inbox))).scalar_one() == 1

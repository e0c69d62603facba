"""Adding a market on a real database, SQLite and PostgreSQL alike: stored with its event, announced in
the same transaction, loaded by a fresh node and delivered to every other node."""

from __future__ import annotations

import asyncio

import pytest

from sportsbook.catalog.events import MARKET_CHANGED
from sportsbook.catalog.model import MarketDraft, SelectionDraft
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import ManualClock
from sportsbook.core.errors import DomainError
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.relay import OutboxRelay
from tests.integration.catalog.conftest import START
from tests.integration.catalog.test_catalog_store import _published, football


def btts() -> MarketDraft:
    return MarketDraft("btts", [SelectionDraft("yes", "1.80"), SelectionDraft("no", "2.00")], limits={"max_stake": 900})


async def test_an_added_market_is_stored_announced_and_loaded_by_a_fresh_node(db: Database) -> None:
    catalog = Catalog(db, ManualClock(START), None)
    event = await catalog.create_event(football())
    before = await _published(db)
    market = await catalog.add_market(event.id, btts())
    assert await _published(db) == [*before, (MARKET_CHANGED, 2)]
    held = catalog.event(event.id)
    assert held.markets == (*event.markets, market)
    assert held.version == event.version
    assert catalog.selection(market.selections[0].id) == (held, market, market.selections[0])

    fresh = Catalog(db, ManualClock(START), None)
    await fresh.start()
    assert fresh.event(event.id) == held  # same order, same limits, same prices


async def test_in_a_callers_transaction_it_commits_or_rolls_back_with_it(db: Database) -> None:
    catalog = Catalog(db, ManualClock(START), None)
    event = await catalog.create_event(football())
    before = await _published(db)

    async def add_then_fail() -> None:
        async with db.transaction() as conn:
            await catalog.add_market_in(UnitOfWork(conn), event.id, btts())
            raise RuntimeError("the caller failed after the market was written")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    assert await catalog.refresh(event.id) == event
    assert await _published(db) == before

    async with db.transaction() as conn:
        market = await catalog.add_market_in(UnitOfWork(conn), event.id, btts())
    assert len(catalog.event(event.id).markets) == 2  # memory follows the bus or a refresh
    refreshed = await catalog.refresh(event.id)
    assert refreshed is not None
    assert refreshed.markets[-1] == market


async def test_every_node_sees_the_new_market_and_a_line_is_added_once(
    two_nodes: tuple[Catalog, Catalog, OutboxRelay, MemoryBus],
) -> None:
    a, b, relay, bus = two_nodes
    event = await a.create_event(football())
    # Both nodes add the same line at once: the event lock orders them, and the second sees the first.
    added = await asyncio.gather(a.add_market(event.id, btts()), b.add_market(event.id, btts()), return_exceptions=True)
    refused = [r for r in added if isinstance(r, DomainError)]
    assert [r.code for r in refused] == ["duplicate_market"]
    await relay.relay_once()
    await bus.drain()
    assert a.event(event.id) == b.event(event.id)
    assert [m.type for m in b.event(event.id).markets] == ["1x2", "total", "btts"]

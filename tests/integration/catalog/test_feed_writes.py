"""The odds feed's set-based writes (`Catalog.apply_feed_in`) on a real database, SQLite and PostgreSQL alike:
a node whose memory is behind the database reads the event again before it writes, so another node's change
(an event ended, a trader's hold) is never overwritten, and versions keep rising from the stored ones."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from sportsbook.catalog.model import EventStatus, FeedPrices, Market, MarketStatus, SelectionStatus
from sportsbook.catalog.service import Catalog
from sportsbook.catalog.store import catalog_store
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import reading, unit_of_work
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.relay import OutboxRelay
from tests.integration.catalog.test_catalog_store import football


def feed_prices(market: Market, *odds: str, status: MarketStatus = MarketStatus.ACTIVE) -> dict[UUID, FeedPrices]:
    prices = {s.id: (Decimal(o), SelectionStatus.ACTIVE) for s, o in zip(market.selections, odds, strict=True)}
    return {market.id: FeedPrices(status, prices)}


async def stored_market(db: Database, market: Market) -> Market:
    async with reading(db) as uow:
        event = await uow.store(catalog_store).load_event(market.event_id)
    assert event is not None
    return event.market(market.id)


async def apply(node: Catalog, db: Database, changes: dict[UUID, FeedPrices]) -> list[Market]:
    async with unit_of_work(db) as uow:
        return await node.apply_feed_in(uow, changes)


async def test_a_feed_write_moves_prices_and_status_and_every_node_follows(
    db: Database, two_nodes: tuple[Catalog, Catalog, OutboxRelay, MemoryBus]
) -> None:
    a, b, relay, bus = two_nodes
    event = await a.create_event(football())
    one_x_two = event.markets[0]
    written = await apply(a, db, feed_prices(one_x_two, "1.90", "3.50", "4.20", status=MarketStatus.SUSPENDED))
    assert [m.version for m in written] == [2]
    stored = await stored_market(db, one_x_two)
    assert stored.status is MarketStatus.SUSPENDED
    assert [s.odds for s in stored.selections] == [Decimal("1.90"), Decimal("3.50"), Decimal("4.20")]
    assert a.market(one_x_two.id) == stored
    await relay.relay_once()
    await bus.drain()
    assert b.market(one_x_two.id) == stored
    # the same state again writes nothing
    assert await apply(a, db, feed_prices(one_x_two, "1.90", "3.50", "4.20", status=MarketStatus.SUSPENDED)) == []


async def test_a_node_behind_the_database_reads_the_event_again_before_it_writes(
    db: Database, two_nodes: tuple[Catalog, Catalog, OutboxRelay, MemoryBus]
) -> None:
    a, b, relay, bus = two_nodes
    event = await a.create_event(football())
    await relay.relay_once()
    await bus.drain()
    one_x_two, total = event.markets
    # node a ends the event and a trader there holds the total; node b has not heard of either
    await a.update_event(event.id, status=EventStatus.LIVE)
    await a.update_event(event.id, status=EventStatus.ENDED)
    await a.update_market(total.id, odds={total.selections[0].id: "1.50"})
    assert b.event(event.id).status is EventStatus.UPCOMING

    changes = {**feed_prices(one_x_two, "1.80", "3.60", "4.50"), **feed_prices(total, "2.20", "1.65")}
    written = await apply(b, db, changes)
    stored_1x2, stored_total = await stored_market(db, one_x_two), await stored_market(db, total)
    assert [m.id for m in written] == [one_x_two.id]
    assert stored_1x2.status is MarketStatus.SUSPENDED  # an ended event's market never reopens
    assert [s.odds for s in stored_1x2.selections] == [Decimal("1.80"), Decimal("3.60"), Decimal("4.50")]
    assert stored_1x2.version == a.market(one_x_two.id).version + 1  # on from the stored version
    assert stored_total.trader_override
    assert stored_total.selections[0].odds == Decimal("1.50")  # the trader's price stands
    assert b.event(event.id).status is EventStatus.ENDED  # node b took what it had missed

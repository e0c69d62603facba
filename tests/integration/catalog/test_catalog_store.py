"""The catalogue on a real database, SQLite and PostgreSQL alike: changes persist with their events, a
fresh node loads what memory holds, and nodes sharing a bus stay in step."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import sqlalchemy as sa

from sportsbook.catalog.events import EVENT_CHANGED, MARKET_CHANGED
from sportsbook.catalog.model import (
    EventDraft,
    EventStatus,
    MarketDraft,
    MarketStatus,
    SelectionDraft,
    SelectionStatus,
)
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import ManualClock
from sportsbook.core.errors import DomainError
from sportsbook.core.markets import Score
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.events import outbox
from sportsbook.events.backends.memory import MemoryBus
from sportsbook.events.relay import OutboxRelay
from tests.integration.catalog.conftest import START


def football(name: str = "Arsenal v Chelsea") -> EventDraft:
    home, away = name.split(" v ")
    return EventDraft(
        sport="football",
        name=name,
        competition="Premier League",
        start_time=START,
        competitors=[home, away],
        markets=[
            MarketDraft(
                "1x2", [SelectionDraft("home", "2.10"), SelectionDraft("draw", "3.40"), SelectionDraft("away", "3.60")]
            ),
            MarketDraft(
                "total",
                [SelectionDraft("over", "1.90"), SelectionDraft("under", "1.95")],
                {"total": "2.5"},
                in_play_delay_s=8,
                limits={"max_stake": 5_000},
            ),
        ],
    )


def horse_race() -> EventDraft:
    runners = ["Red Rum", "Arkle", "Kauto Star", "Desert Orchid"]
    return EventDraft(
        sport="horse_racing",
        name="3:15 Cheltenham",
        start_time=START,
        runners=runners,
        markets=[
            MarketDraft(
                "winner", [SelectionDraft(r, f"{3 + i}.50") for i, r in enumerate(runners)], each_way=("1/4", 2)
            )
        ],
    )


async def _published(db: Database) -> list[tuple[str, int]]:
    async with db.read() as conn:
        rows = await conn.execute(
            sa.select(outbox.outbox.c.type, outbox.outbox.c.version).order_by(outbox.outbox.c.seq)
        )
        return [(r.type, r.version) for r in rows]


async def test_changes_persist_with_their_events_and_a_fresh_node_loads_what_memory_holds(db: Database) -> None:
    clock = ManualClock(START)
    catalog = Catalog(db, clock, None)
    await catalog.start()
    event = await catalog.create_event(football())
    race = await catalog.create_event(horse_race())
    created = [(EVENT_CHANGED, 2), (MARKET_CHANGED, 2), (MARKET_CHANGED, 2), (EVENT_CHANGED, 2), (MARKET_CHANGED, 2)]
    assert await _published(db) == created

    one_x_two, total = event.markets
    await catalog.update_event(event.id, status=EventStatus.LIVE, score=Score(1, 0))
    await catalog.update_market(
        one_x_two.id,
        odds={one_x_two.selections[0].id: Decimal("1.55")},
        selection_status={one_x_two.selections[1].id: SelectionStatus.SUSPENDED},
        limits={"min_stake": 50},
    )
    await catalog.update_market(total.id, status=MarketStatus.SUSPENDED)
    winner = race.markets[0]
    await catalog.run(lambda uow: catalog.mark_non_runner(uow, winner.selections[3].id))
    results = {winner.selections[0].id: SelectionStatus.WON, winner.selections[1].id: SelectionStatus.PLACED}
    await catalog.run(lambda uow: catalog.settle_market_selections(uow, winner.id, results))

    held = catalog.event(event.id)
    assert (held.status, held.score, held.version) == (EventStatus.LIVE, Score(1, 0), 2)
    assert catalog.market(one_x_two.id).selections[0].odds == Decimal("1.55")
    assert catalog.market(one_x_two.id).min_stake == 50
    assert catalog.market(total.id).status is MarketStatus.SUSPENDED
    assert catalog.market(winner.id).version == 3

    fresh = Catalog(db, clock, None)
    await fresh.start()
    for event_id in (event.id, race.id):
        assert fresh.event(event_id) == catalog.event(event_id)
    assert fresh.selection(winner.selections[3].id)[2].status is SelectionStatus.NON_RUNNER
    assert len(await _published(db)) == 5 + 1 + 1 + 1 + 1 + 1


async def test_a_refused_change_writes_nothing(db: Database) -> None:
    catalog = Catalog(db, ManualClock(START), None)
    event = await catalog.create_event(football())
    before = await _published(db)
    with pytest.raises(DomainError) as exc:
        await catalog.update_event(event.id, status=EventStatus.ENDED)
    assert exc.value.code == "invalid_status_transition"
    with pytest.raises(DomainError) as exc:
        await catalog.update_market(event.markets[0].id, odds={event.markets[0].selections[0].id: "0.5"})
    assert exc.value.code == "invalid_odds"
    assert await _published(db) == before
    fresh = Catalog(db, ManualClock(START), None)
    await fresh.start()
    assert fresh.event(event.id) == event


async def test_settlement_in_the_callers_transaction_commits_or_rolls_back_with_it(db: Database) -> None:
    catalog = Catalog(db, ManualClock(START), None)
    race = await catalog.create_event(horse_race())
    winner = race.markets[0]
    results = {winner.selections[0].id: SelectionStatus.WON}

    async def settle_then_fail() -> None:
        async with db.transaction() as conn:
            await catalog.settle_market_selections(UnitOfWork(conn), winner.id, results)
            raise RuntimeError("settlement failed half way")

    with pytest.raises(RuntimeError):
        await settle_then_fail()
    assert (await catalog.refresh(race.id)) == race
    async with db.transaction() as conn:
        settled = await catalog.settle_market_selections(UnitOfWork(conn), winner.id, results)
    assert catalog.market(winner.id).status is MarketStatus.ACTIVE  # memory follows the bus or a refresh
    refreshed = await catalog.refresh(race.id)
    assert refreshed is not None
    assert refreshed.market(winner.id) == settled
    assert settled.status is MarketStatus.SETTLED
    reopened = await catalog.run(lambda uow: catalog.unsettle_market(uow, winner.id))
    assert reopened.status is MarketStatus.SUSPENDED
    assert catalog.market(winner.id) == reopened


async def test_nodes_sharing_a_bus_stay_in_step(two_nodes: tuple[Catalog, Catalog, OutboxRelay, MemoryBus]) -> None:
    a, b, relay, bus = two_nodes

    async def deliver() -> None:
        await relay.relay_once()
        await bus.drain()

    event = await a.create_event(football())
    with pytest.raises(DomainError):
        b.event(event.id)  # not delivered yet
    await deliver()
    assert b.event(event.id) == a.event(event.id)

    market = event.markets[0]
    await b.update_market(market.id, odds={market.selections[2].id: "4.20"})
    await a.update_event(event.id, status=EventStatus.LIVE)
    await deliver()
    assert a.event(event.id) == b.event(event.id)
    assert a.market(market.id).selections[2].odds == Decimal("4.20")
    assert b.event(event.id).status is EventStatus.LIVE

    # Concurrent changes to one event from both nodes: the event lock orders them, nothing is lost.
    await asyncio.gather(
        a.update_market(market.id, odds={market.selections[0].id: "2.50"}),
        b.update_market(market.id, odds={market.selections[1].id: "3.10"}),
    )
    await deliver()
    for node in (a, b):
        prices = [s.odds for s in node.market(market.id).selections]
        assert prices == [Decimal("2.50"), Decimal("3.10"), Decimal("4.20")]
        assert node.market(market.id).version == 4


async def test_repeated_and_stale_deliveries_change_nothing(
    two_nodes: tuple[Catalog, Catalog, OutboxRelay, MemoryBus],
) -> None:
    a, b, relay, bus = two_nodes
    event = await a.create_event(football())
    async with a.db.read() as conn:
        creation = [row.event for row in await outbox.fetch_unpublished(conn, 100)]
    market = event.markets[0]
    await a.update_market(market.id, status=MarketStatus.SUSPENDED)
    await relay.relay_once()
    await bus.drain()
    # The creation again, late (as a broker redelivery would bring it): both keep the suspended market.
    await bus.publish(creation)
    await bus.drain()
    for node in (a, b):
        assert node.market(market.id).status is MarketStatus.SUSPENDED
        assert node.market(market.id).version == 2
        assert node.event(event.id) == a.event(event.id)

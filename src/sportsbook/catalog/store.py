"""The catalogue's tables and the only code that reads or writes them (SQLAlchemy Core).

The event is the unit of change: a writer locks its event row (`FOR UPDATE` on PostgreSQL; SQLite's
single writer already excludes others), reads the whole event, and writes back what changed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from sportsbook.catalog.model import (
    Event,
    EventStatus,
    ExternalIdTaken,
    Market,
    MarketStatus,
    Selection,
    SelectionStatus,
)
from sportsbook.core.clock import utc
from sportsbook.core.markets import EachWayTerms, MarketType, Score
from sportsbook.db.engine import driver_connection
from sportsbook.db.metadata import metadata


def _uuid(value: UUID) -> UUID:
    # asyncpg answers with its own UUID subclass, which does not compare or serialise like ours everywhere.
    return UUID(bytes=value.bytes)


events = sa.Table(
    "catalog_events",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("sport", sa.String(40), nullable=False),
    sa.Column("competition", sa.String(200), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("competitors", sa.JSON(none_as_null=True), nullable=True),  # [home, away]
    sa.Column("runners", sa.JSON(none_as_null=True), nullable=True),  # [name, ...]
    sa.Column("score_home", sa.Integer, nullable=True),
    sa.Column("score_away", sa.Integer, nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('upcoming', 'live', 'ended', 'cancelled')", name="status_known"),
    sa.CheckConstraint("(competitors IS NULL) <> (runners IS NULL)", name="competitors_xor_runners"),
    sa.CheckConstraint("(score_home IS NULL) = (score_away IS NULL)", name="score_whole"),
    sa.CheckConstraint("version >= 1", name="version_positive"),
    # The listings: by sport and status, soonest first; and by status alone (every sport).
    sa.Index("ix_catalog_events_sport_status_start", "sport", "status", "start_time"),
    sa.Index("ix_catalog_events_status_start", "status", "start_time"),
)

# An event's ids at odds feeds: a feed's message finds its event by (provider, id), which names one event.
external_ids = sa.Table(
    "catalog_event_external_ids",
    metadata,
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("external_id", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.Uuid, sa.ForeignKey("catalog_events.id"), nullable=False),
    sa.UniqueConstraint("event_id", "provider", name="uq_catalog_event_external_ids_event"),
)

markets = sa.Table(
    "catalog_markets",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("event_id", sa.Uuid, sa.ForeignKey("catalog_events.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # display order within the event
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("specifiers", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("in_play_delay_s", sa.Integer, nullable=False),
    sa.Column("each_way_fraction", sa.String(8), nullable=True),
    sa.Column("each_way_places", sa.Integer, nullable=True),
    sa.Column("min_stake", sa.BigInteger, nullable=False),
    sa.Column("max_stake", sa.BigInteger, nullable=False),
    sa.Column("max_payout", sa.BigInteger, nullable=False),
    sa.Column("selection_liability_limit", sa.BigInteger, nullable=False),
    sa.Column("market_liability_limit", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # a trader's status or prices hold against the odds feed until released
    sa.Column("trader_override", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("status IN ('active', 'suspended', 'settled', 'cancelled')", name="status_known"),
    sa.CheckConstraint("in_play_delay_s BETWEEN 0 AND 30", name="in_play_delay_range"),
    sa.CheckConstraint("(each_way_fraction IS NULL) = (each_way_places IS NULL)", name="each_way_whole"),
    sa.CheckConstraint(
        "min_stake > 0 AND min_stake <= max_stake AND max_payout > 0 "
        "AND selection_liability_limit > 0 AND market_liability_limit > 0",
        name="limits_positive",
    ),
    sa.CheckConstraint("version >= 1", name="version_positive"),
    sa.Index("ix_catalog_markets_event_id", "event_id"),
)

selections = sa.Table(
    "catalog_selections",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("market_id", sa.Uuid, sa.ForeignKey("catalog_markets.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(100), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("odds", sa.Numeric(7, 2), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.CheckConstraint(
        "status IN ('active', 'suspended', 'non_runner', 'won', 'placed', 'lost', 'void')", name="status_known"
    ),
    sa.CheckConstraint("odds >= 1.01 AND odds <= 1001", name="odds_range"),
    sa.UniqueConstraint("market_id", "outcome", name="uq_catalog_selections_market_outcome"),
)


# --- writes -------------------------------------------------------------------------------------------


def _event_row(event: Event, now: datetime) -> dict[str, object]:
    return {
        "id": event.id,
        "sport": event.sport,
        "competition": event.competition,
        "name": event.name,
        "start_time": event.start_time,
        "status": event.status.value,
        "competitors": list(event.competitors) if event.competitors is not None else None,
        "runners": list(event.runners) if event.runners is not None else None,
        "score_home": event.score.home if event.score is not None else None,
        "score_away": event.score.away if event.score is not None else None,
        "version": event.version,
        "created_at": now,
        "updated_at": now,
    }


def _market_row(market: Market, position: int, now: datetime) -> dict[str, object]:
    return {
        "id": market.id,
        "event_id": market.event_id,
        "position": position,
        "type": market.type.value,
        "specifiers": dict(market.specifiers),
        "status": market.status.value,
        "in_play_delay_s": market.in_play_delay_s,
        "each_way_fraction": market.each_way.text() if market.each_way is not None else None,
        "each_way_places": market.each_way.places if market.each_way is not None else None,
        "min_stake": market.min_stake,
        "max_stake": market.max_stake,
        "max_payout": market.max_payout,
        "selection_liability_limit": market.selection_liability_limit,
        "market_liability_limit": market.market_liability_limit,
        "version": market.version,
        "trader_override": market.trader_override,
        "updated_at": now,
    }


def _selection_rows(market: Market) -> list[dict[str, object]]:
    return [
        {
            "id": s.id,
            "market_id": market.id,
            "position": i,
            "outcome": s.outcome,
            "name": s.name,
            "odds": s.odds,
            "status": s.status.value,
        }
        for i, s in enumerate(market.selections)
    ]


class CatalogStore:
    """The catalogue's tables in one transaction (a unit of work's), through SQLAlchemy Core on any backend;
    `catalog_store` builds the backend's own where one query is worth writing for it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def insert_event(self, event: Event, now: datetime) -> None:
        """Store a new event with its markets, selections and feed ids (ExternalIdTaken when another event
        carries one of them: the caller's unit of work then rolls back)."""
        await self.conn.execute(events.insert(), [_event_row(event, now)])
        await self._insert_markets(list(enumerate(event.markets)), now)
        if event.external_ids:
            rows = [{"provider": p, "external_id": x, "event_id": event.id} for p, x in event.external_ids]
            insert = (pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert)(external_ids)
            inserted = await self.conn.execute(insert.on_conflict_do_nothing(), rows)
            if inserted.rowcount != len(rows):
                raise ExternalIdTaken("another event already carries that external id")

    async def _insert_markets(self, positioned: list[tuple[int, Market]], now: datetime) -> None:
        if positioned:
            await self.conn.execute(markets.insert(), [_market_row(m, i, now) for i, m in positioned])
            await self.conn.execute(selections.insert(), [row for _, m in positioned for row in _selection_rows(m)])

    async def save_changes(self, before: Event, after: Event, now: datetime) -> list[Market]:
        """Write what changed between two states of one event (markets added or changed); returns the
        markets that are new or changed."""
        conn = self.conn
        if after.version != before.version:
            row = _event_row(after, now)
            del row["id"], row["created_at"]
            await conn.execute(events.update().where(events.c.id == after.id).values(**row))
        old = {m.id: m for m in before.markets}
        await self._insert_markets([(i, m) for i, m in enumerate(after.markets) if m.id not in old], now)
        changed = [m for m in after.markets if m.id not in old or old[m.id].version != m.version]
        for market in (m for m in changed if m.id in old):
            prior = old[market.id]
            await conn.execute(
                markets.update()
                .where(markets.c.id == market.id)
                .values(
                    status=market.status.value,
                    min_stake=market.min_stake,
                    max_stake=market.max_stake,
                    max_payout=market.max_payout,
                    selection_liability_limit=market.selection_liability_limit,
                    market_liability_limit=market.market_liability_limit,
                    version=market.version,
                    trader_override=market.trader_override,
                    updated_at=now,
                )
            )
            moved = [s for s, p in zip(market.selections, prior.selections, strict=True) if s != p]
            if moved:
                await conn.execute(
                    selections.update()
                    .where(selections.c.id == sa.bindparam("sel_id"))
                    .values(odds=sa.bindparam("new_odds"), status=sa.bindparam("new_status")),
                    [{"sel_id": s.id, "new_odds": s.odds, "new_status": s.status.value} for s in moved],
                )
        return changed

    async def lock_events(self, event_ids: Collection[UUID]) -> dict[UUID, int]:
        """Lock these events' rows until commit, in id order (so two writers of several events never wait on each
        other in a circle); the stored version of each event and of each of their markets, by id."""
        if not event_ids:
            return {}
        ordered = sorted(event_ids)
        locked = await self.conn.execute(
            sa.select(events.c.id, events.c.version)
            .where(events.c.id.in_(ordered))
            .order_by(events.c.id)
            .with_for_update()
        )
        versions = {_uuid(r.id): int(r.version) for r in locked}
        rows = await self.conn.execute(
            sa.select(markets.c.id, markets.c.version).where(markets.c.event_id.in_(ordered))
        )
        versions.update((_uuid(r.id), int(r.version)) for r in rows)
        return versions

    async def save_markets(self, changes: Sequence[tuple[Market, Market]], now: datetime) -> None:
        """Write new states of existing markets, (before, after) pairs, several events at once: one statement for
        the markets, one for the selections that moved (an odds feed's flush)."""
        if not changes:
            return
        await self.conn.execute(
            markets.update()
            .where(markets.c.id == sa.bindparam("market_id"))
            .values(
                status=sa.bindparam("new_status"),
                version=sa.bindparam("new_version"),
                trader_override=sa.bindparam("new_override"),
                updated_at=now,
            ),
            [
                {
                    "market_id": after.id,
                    "new_status": after.status.value,
                    "new_version": after.version,
                    "new_override": after.trader_override,
                }
                for _, after in changes
            ],
        )
        moved = [
            {"sel_id": s.id, "new_odds": s.odds, "new_status": s.status.value}
            for before, after in changes
            for s, p in zip(after.selections, before.selections, strict=True)
            if s != p
        ]
        if moved:
            await self.conn.execute(
                selections.update()
                .where(selections.c.id == sa.bindparam("sel_id"))
                .values(odds=sa.bindparam("new_odds"), status=sa.bindparam("new_status")),
                moved,
            )

    # --- reads ---

    async def event_id_of(self, *, market_id: UUID | None = None, selection_id: UUID | None = None) -> UUID | None:
        """The id of the event a market or selection belongs to (no lock; `load_event` takes it)."""
        if market_id is not None:
            query = sa.select(markets.c.event_id).where(markets.c.id == market_id)
        else:
            query = (
                sa.select(markets.c.event_id)
                .select_from(selections.join(markets, selections.c.market_id == markets.c.id))
                .where(selections.c.id == selection_id)
            )
        found = (await self.conn.execute(query)).scalar_one_or_none()
        return _uuid(found) if found is not None else None

    async def closed_market_ids(self, market_ids: Collection[UUID]) -> set[UUID]:
        """Those of these markets that are settled or cancelled in the database (what a node's memory may not
        show yet)."""
        if not market_ids:
            return set()
        closed = (MarketStatus.SETTLED.value, MarketStatus.CANCELLED.value)
        query = sa.select(markets.c.id).where(markets.c.id.in_(list(market_ids)), markets.c.status.in_(closed))
        return {row.id for row in await self.conn.execute(query)}

    async def load_event(self, event_id: UUID, *, lock: bool = False) -> Event | None:
        """One event with its markets and selections; with `lock`, its row stays locked until commit."""
        query = sa.select(events).where(events.c.id == event_id)
        if lock:
            query = query.with_for_update()  # SQLite has none to take: its writer holds the whole file
        found = await _load(self.conn, query, sa.select(markets).where(markets.c.event_id == event_id))
        return found[0] if found else None

    async def load_all(self) -> list[Event]:
        """Every event, with its markets and selections: what a node's read model starts from."""
        return await _load(self.conn, sa.select(events), sa.select(markets))


class PostgresCatalogStore(CatalogStore):
    """PostgreSQL's own statements where they pay: one prepared statement for any number of ids."""

    _CLOSED_MARKETS = (
        "SELECT id FROM catalog_markets WHERE id = ANY($1::uuid[])"
        f" AND status IN ('{MarketStatus.SETTLED.value}', '{MarketStatus.CANCELLED.value}')"
    )

    async def closed_market_ids(self, market_ids: Collection[UUID]) -> set[UUID]:
        if not market_ids:  # every placement batch asks; SQLAlchemy's expanding IN is a new statement per size
            return set()
        pg = await driver_connection(self.conn)
        return {r["id"] for r in await pg.fetch(self._CLOSED_MARKETS, list(market_ids))}


def catalog_store(conn: AsyncConnection) -> CatalogStore:
    """The catalogue's store for this connection's backend (a unit of work builds it once per transaction)."""
    return PostgresCatalogStore(conn) if conn.dialect.name == "postgresql" else CatalogStore(conn)


async def _load(conn: AsyncConnection, event_query: sa.Select[Any], market_query: sa.Select[Any]) -> list[Event]:
    event_rows = (await conn.execute(event_query)).mappings().all()
    if not event_rows:
        return []
    market_rows = (await conn.execute(market_query.order_by(markets.c.event_id, markets.c.position))).mappings().all()
    market_ids = [r["id"] for r in market_rows]
    selection_query = sa.select(selections).order_by(selections.c.market_id, selections.c.position)
    if len(event_rows) == 1:
        selection_query = selection_query.where(selections.c.market_id.in_(market_ids))
    selection_rows = (await conn.execute(selection_query)).mappings().all() if market_ids else []
    by_market: dict[UUID, list[Selection]] = {}
    for r in selection_rows:
        market_id = _uuid(r["market_id"])
        by_market.setdefault(market_id, []).append(
            Selection(
                id=_uuid(r["id"]),
                market_id=market_id,
                outcome=r["outcome"],
                name=r["name"],
                odds=Decimal(r["odds"]).quantize(Decimal("0.01")),
                status=SelectionStatus(r["status"]),
            )
        )
    by_event: dict[UUID, list[Market]] = {}
    for r in market_rows:
        market_id = _uuid(r["id"])
        event_id = _uuid(r["event_id"])
        by_event.setdefault(event_id, []).append(
            Market(
                id=market_id,
                event_id=event_id,
                type=MarketType(r["type"]),
                specifiers=dict(r["specifiers"]),
                status=MarketStatus(r["status"]),
                in_play_delay_s=r["in_play_delay_s"],
                each_way=(
                    EachWayTerms.parse(r["each_way_fraction"], r["each_way_places"])
                    if r["each_way_fraction"] is not None
                    else None
                ),
                min_stake=r["min_stake"],
                max_stake=r["max_stake"],
                max_payout=r["max_payout"],
                selection_liability_limit=r["selection_liability_limit"],
                market_liability_limit=r["market_liability_limit"],
                selections=tuple(by_market.get(market_id, [])),
                version=r["version"],
                trader_override=bool(r["trader_override"]),
            )
        )
    ids_query = sa.select(external_ids)
    if len(event_rows) == 1:
        ids_query = ids_query.where(external_ids.c.event_id == event_rows[0]["id"])
    feed_ids: dict[UUID, list[tuple[str, str]]] = {}
    for r in (await conn.execute(ids_query)).mappings():
        feed_ids.setdefault(_uuid(r["event_id"]), []).append((r["provider"], r["external_id"]))
    result = []
    for r in event_rows:
        event_id = _uuid(r["id"])
        competitors: Sequence[str] | None = r["competitors"]
        runners: Sequence[str] | None = r["runners"]
        result.append(
            Event(
                id=event_id,
                sport=r["sport"],
                competition=r["competition"],
                name=r["name"],
                start_time=utc(r["start_time"]),
                status=EventStatus(r["status"]),
                competitors=(competitors[0], competitors[1]) if competitors is not None else None,
                runners=tuple(runners) if runners is not None else None,
                score=Score(r["score_home"], r["score_away"]) if r["score_home"] is not None else None,
                markets=tuple(by_event.get(event_id, [])),
                version=r["version"],
                external_ids=tuple(sorted(feed_ids.get(event_id, []))),
            )
        )
    return result

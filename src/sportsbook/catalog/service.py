"""Catalogue use cases: staff create and trade events and markets; everyone reads them from memory.

Every change runs in one transaction that locks the event, writes its rows and the outbox events
(`catalog.event_changed`, `catalog.market_changed`) together. The node that made the change applies it
to its read model at once; every other node applies it when the bus delivers the events."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

import structlog

from sportsbook.catalog import model
from sportsbook.catalog.events import EVENT_CHANGED, MARKET_CHANGED, EventChangedV2, MarketChangedV2
from sportsbook.catalog.model import (
    Event,
    EventDraft,
    EventNotFound,
    EventStatus,
    Limits,
    Market,
    MarketDraft,
    MarketNotFound,
    MarketStatus,
    Selection,
    SelectionNotFound,
    SelectionStatus,
    Sport,
)
from sportsbook.catalog.readmodel import ReadModel
from sportsbook.catalog.store import CatalogStore, catalog_store
from sportsbook.core.clock import Clock
from sportsbook.core.ids import new_id
from sportsbook.core.markets import Score
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading, unit_of_work
from sportsbook.events.bus import EventBus
from sportsbook.events.model import Event as DomainEvent

log = structlog.get_logger(__name__)


Locate = Callable[["CatalogStore"], Awaitable[UUID | None]]
Mutate = Callable[[Event], Event]
Committed = Callable[[Sequence[Market]], Awaitable[None]]
T = TypeVar("T")


def _behind(event: Event, stored: Mapping[UUID, int]) -> bool:
    """Whether memory's event (or one of its markets) is older than the database's."""
    return stored.get(event.id) != event.version or any(stored.get(m.id) != m.version for m in event.markets)


def default_node_name() -> str:
    """This process's name among the nodes: each node needs its own copy of every catalogue event."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Catalog:
    """The catalogue service and its in-memory read model."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        bus: EventBus | None,
        *,
        min_stake: int = 10,
        max_stake: int = 100_000,
        max_payout: int = 10_000_000,
        selection_liability_limit: int = 50_000_000,
        market_liability_limit: int = 100_000_000,
        node: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.defaults = Limits(min_stake, max_stake, max_payout, selection_liability_limit, market_liability_limit)
        self.view = ReadModel()
        self.node = node or default_node_name()
        self._committed: list[Committed] = []
        if bus is not None:
            # Subscribed here, not in start(): a bus takes subscriptions only before it starts, and the
            # composition root starts the bus before the catalogue loads. Events that arrive before the
            # load are merged by version, so the order of the two does not matter.
            bus.subscribe(
                f"catalog-read-model-{self.node}", [EVENT_CHANGED, MARKET_CHANGED], self._on_event, per_node=True
            )

    async def start(self) -> None:
        """Load the read model from the database (merging with anything the bus delivered already)."""
        async with reading(self.db) as uow:
            loaded = await uow.store(catalog_store).load_all()
        for event in loaded:
            self.view.put_event(event)
        log.info("catalog.loaded", events=len(loaded))

    # --- watching: live odds ---

    def watch(self, listener: Callable[[Market], None]) -> None:
        """Call `listener` with every market state this node's memory takes, whatever brought it (this node's
        change, another node's by the bus or the live channel): what a player here sees and bets on."""
        self.view.listeners.append(listener)

    def on_commit(self, listener: Committed) -> None:
        """Call `listener` with the markets a change made on this node, once it has committed (so they can reach
        every other node at once, ahead of the bus)."""
        self._committed.append(listener)

    def take_markets(self, markets: Iterable[Market]) -> None:
        """Markets another node committed, as it shared them: each taken only if newer than the one held."""
        for market in markets:
            self.view.put_market(market)

    # --- reads: memory only ---

    def event(self, event_id: UUID) -> Event:
        """The event with its markets, else `event_not_found`. O(1)."""
        event = self.view.event(event_id)
        if event is None:
            raise EventNotFound()
        return event

    def market(self, market_id: UUID) -> Market:
        """The market with its selections, else `market_not_found`. O(1)."""
        market = self.view.market(market_id)
        if market is None:
            raise MarketNotFound()
        return market

    def selection(self, selection_id: UUID) -> tuple[Event, Market, Selection]:
        """A selection with its market and event, else `selection_not_found`. O(1)."""
        found = self.view.selection(selection_id)
        if found is None:
            raise SelectionNotFound()
        return found

    def event_by_external_id(self, provider: str, external_id: str) -> Event | None:
        """The event a feed names by its own id (`external_ids`), from this node's memory."""
        return self.view.event_by_external_id(provider, external_id)

    def events(
        self, sport: str | None = None, status: Iterable[EventStatus] | EventStatus | None = None
    ) -> list[Event]:
        """Events, soonest first, optionally of one sport and some statuses."""
        statuses = [status] if isinstance(status, EventStatus) else status
        return self.view.events(sport, statuses)

    def sports(self) -> list[Sport]:
        """Every sport with events, with how many are upcoming and live."""
        return self.view.sports()

    async def refresh(self, event_id: UUID) -> Event | None:
        """Reload one event from the database into memory (a node that missed its events, a test)."""
        async with reading(self.db) as uow:
            event = await uow.store(catalog_store).load_event(event_id)
        if event is not None:
            self.view.put_event(event)
        return self.view.event(event_id)

    async def closed_market_ids(self, uow: UnitOfWork, market_ids: Collection[UUID]) -> set[UUID]:
        """Those of these markets that the database shows settled or cancelled, in the caller's transaction:
        what this node's memory may not show yet (betting checks it under the ledger lock)."""
        return await uow.store(catalog_store).closed_market_ids(market_ids)

    async def stored_event(self, uow: UnitOfWork, event_id: UUID) -> Event | None:
        """The event as the database has it, its row locked until the caller's transaction ends (as every
        catalogue change locks it), for a use case that decides from the stored state."""
        return await uow.store(catalog_store).load_event(event_id, lock=True)

    # --- writes ---

    async def run(self, use_case: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run one of the `..._in` use cases in a unit of work of its own."""
        async with unit_of_work(self.db) as uow:
            return await use_case(uow)

    # Each runs in a unit of work: its own, or the caller's where it takes one (`..._in`). Memory takes the new
    # state once that transaction commits; every other node follows when the bus delivers the events.

    async def create_event(self, draft: EventDraft) -> Event:
        """A new upcoming event with its markets, stored and announced. Readable at once."""
        async with unit_of_work(self.db) as uow:
            return await self.create_event_in(uow, draft)

    async def create_event_in(self, uow: UnitOfWork, draft: EventDraft) -> Event:
        """`create_event` in the caller's unit of work (the Idempotency-Key's)."""
        event = model.build_event(draft, new_id=new_id, defaults=self.defaults)
        await uow.store(catalog_store).insert_event(event, self.clock.now())
        await uow.outbox.add([self._event_changed(event)] + [self._market_changed(m) for m in event.markets])
        self._remember_after(uow, event, event.markets)
        return event

    async def add_market(self, event_id: UUID, draft: MarketDraft) -> Market:
        """A new active market on an upcoming or live event."""
        async with unit_of_work(self.db) as uow:
            return await self.add_market_in(uow, event_id, draft)

    async def add_market_in(self, uow: UnitOfWork, event_id: UUID, draft: MarketDraft) -> Market:
        """`add_market` in the caller's unit of work (the Idempotency-Key's)."""
        event = await self._change(
            uow,
            self._by_event(event_id),
            lambda e: model.add_market(e, draft, new_id=new_id, defaults=self.defaults),
            EventNotFound,
        )
        return event.markets[-1]

    async def update_event(
        self, event_id: UUID, *, status: EventStatus | None = None, score: Score | None = None
    ) -> Event:
        """Change an event's status and/or score (cancelling or ending it also changes its markets)."""
        async with unit_of_work(self.db) as uow:
            return await self.update_event_in(uow, event_id, status=status, score=score)

    async def update_event_in(
        self, uow: UnitOfWork, event_id: UUID, *, status: EventStatus | None = None, score: Score | None = None
    ) -> Event:
        """`update_event` in the caller's unit of work (settlement ends an event with the jobs that result it)."""
        return await self._change(
            uow, self._by_event(event_id), lambda e: model.change_event(e, status=status, score=score), EventNotFound
        )

    async def update_market(
        self,
        market_id: UUID,
        *,
        status: MarketStatus | None = None,
        odds: Mapping[UUID, str | Decimal] | None = None,
        selection_status: Mapping[UUID, SelectionStatus] | None = None,
        limits: Mapping[str, int] | None = None,
        trader_override: bool | None = None,
    ) -> Market:
        """Trade a market: status (active, suspended, cancelled), prices, a selection's suspension, limits. A
        status or price set here holds against the odds feed until released (`trader_override=False`)."""
        async with unit_of_work(self.db) as uow:
            event = await self._change(
                uow,
                self._by_market(market_id),
                lambda e: model.change_market(
                    e,
                    market_id,
                    status=status,
                    odds=odds,
                    selection_status=selection_status,
                    limits=limits,
                    trader_override=trader_override,
                ),
                MarketNotFound,
            )
        return event.market(market_id)

    # --- the odds feed's writes (feed/service.py), in its unit of work ---

    async def create_feed_event(self, draft: EventDraft) -> Event:
        """`create_feed_event_in` in a unit of work of its own."""
        async with unit_of_work(self.db) as uow:
            return await self.create_feed_event_in(uow, draft)

    async def create_feed_event_in(self, uow: UnitOfWork, draft: EventDraft) -> Event:
        """An event an odds feed announced (its fixture), with its feed id, before or with its first markets."""
        event = model.build_event(draft, new_id=new_id, defaults=self.defaults, require_markets=False)
        await uow.store(catalog_store).insert_event(event, self.clock.now())
        await uow.outbox.add([self._event_changed(event)] + [self._market_changed(m) for m in event.markets])
        self._remember_after(uow, event, event.markets)
        return event

    async def apply_feed_in(self, uow: UnitOfWork, changes: Mapping[UUID, model.FeedPrices]) -> list[Market]:
        """An odds feed's prices and statuses for these markets; the markets that changed. Markets a trader
        holds, closed ones and unknown ones are left alone.

        Written set-based, whatever the number of events: their rows locked in one statement (every catalogue
        change locks its event), their stored versions compared with memory's (an event this node is behind on is
        read again first), then one statement for the markets, one for the selections, one for the outbox."""
        by_event: dict[UUID, dict[UUID, model.FeedPrices]] = {}
        for market_id, feed in changes.items():
            market = self.view.market(market_id)
            if market is not None:
                by_event.setdefault(market.event_id, {})[market_id] = feed
        if not by_event:
            return []
        store = uow.store(catalog_store)
        stored = await store.lock_events(by_event)
        pairs: list[tuple[Market, Market]] = []
        for event_id, feeds in by_event.items():
            event = self.view.event(event_id)
            if event is None or _behind(event, stored):
                event = await store.load_event(event_id)
                if event is None:
                    continue
                self.view.put_event(event)  # committed by another node: this node takes it now
            after = model.apply_feed(event, feeds)
            if after is event:
                continue
            before = {m.id: m for m in event.markets}
            pairs += [(before[m.id], m) for m in after.markets if before[m.id].version != m.version]
        if not pairs:
            return []
        await store.save_markets(pairs, self.clock.now())
        changed = [after for _, after in pairs]
        await uow.outbox.add([self._market_changed(m) for m in changed])

        async def remember() -> None:
            for market in changed:
                self.view.put_market(market)
            for listener in self._committed:
                await listener(changed)

        uow.after_commit(remember)
        return changed

    async def mark_non_runner(self, uow: UnitOfWork, selection_id: UUID) -> Market:
        """Withdraw a runner, in the caller's unit of work (settlement records the withdrawal with it)."""

        async def locate(store: CatalogStore) -> UUID | None:
            return await store.event_id_of(selection_id=selection_id)

        event = await self._change(uow, locate, lambda e: model.mark_non_runner(e, selection_id), SelectionNotFound)
        return next(m for m in event.markets if any(s.id == selection_id for s in m.selections))

    async def settle_market_selections(
        self, uow: UnitOfWork, market_id: UUID, results: Mapping[UUID, SelectionStatus]
    ) -> Market:
        """Result a market, in the caller's (settlement's) unit of work: each named selection won, placed, lost
        or void; unnamed running ones lost; the market settled."""
        event = await self._change(
            uow, self._by_market(market_id), lambda e: model.settle_market(e, market_id, results), MarketNotFound
        )
        return event.market(market_id)

    async def unsettle_market(self, uow: UnitOfWork, market_id: UUID) -> Market:
        """Roll a settlement back, in the caller's unit of work: the market is suspended again, results cleared."""
        event = await self._change(
            uow, self._by_market(market_id), lambda e: model.unsettle_market(e, market_id), MarketNotFound
        )
        return event.market(market_id)

    # --- internals ---

    def _remember_after(self, uow: UnitOfWork, event: Event, changed: Sequence[Market]) -> None:
        async def remember() -> None:
            self.view.put_event(event)
            if changed:
                for listener in self._committed:
                    await listener(changed)

        uow.after_commit(remember)

    @staticmethod
    def _by_event(event_id: UUID) -> Locate:
        async def locate(_store: CatalogStore) -> UUID | None:
            return event_id

        return locate

    def _by_market(self, market_id: UUID) -> Locate:
        async def locate(store: CatalogStore) -> UUID | None:
            return await store.event_id_of(market_id=market_id)

        return locate

    async def _change(self, uow: UnitOfWork, locate: Locate, mutate: Mutate, missing: type[Exception]) -> Event:
        """Lock the event, apply a pure change, write what changed and its outbox events; memory takes the new
        state once the unit of work commits."""
        event, _changed = await self._changes(uow, locate, mutate, missing)
        return event

    async def _changes(
        self, uow: UnitOfWork, locate: Locate, mutate: Mutate, missing: type[Exception]
    ) -> tuple[Event, list[Market]]:
        """`_change`, with the markets it changed."""
        store = uow.store(catalog_store)
        event_id = await locate(store)
        before = await store.load_event(event_id, lock=True) if event_id is not None else None
        if before is None:
            raise missing()
        after = mutate(before)
        if after is before:
            return before, []
        changed = await store.save_changes(before, after, self.clock.now())
        announced: list[EventChangedV2 | MarketChangedV2] = (
            [self._event_changed(after)] if after.version != before.version else []
        )
        announced += [self._market_changed(m) for m in changed]
        await uow.outbox.add(announced)
        self._remember_after(uow, after, changed)
        return after, changed

    def _event_changed(self, event: Event) -> EventChangedV2:
        return EventChangedV2(event, self.clock.now())

    def _market_changed(self, market: Market) -> MarketChangedV2:
        return MarketChangedV2(market, self.clock.now())

    async def _on_event(self, event: DomainEvent) -> None:
        """Apply another node's (or our own, again) change: idempotent, newer versions only."""
        if event.type == EVENT_CHANGED and event.version in (1, 2):  # v1: before events carried feed ids
            self.view.put_header(model.event_from_payload(event.payload))
        elif event.type == MARKET_CHANGED and event.version in (1, 2):  # v1: before traders held markets
            self.view.put_market(model.market_from_payload(event.payload))
        else:
            log.warning("catalog.unknown_event_version", type=event.type, version=event.version)

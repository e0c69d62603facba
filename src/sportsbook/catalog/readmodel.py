"""The in-memory catalogue every node serves reads from: events, markets and selections by id. Pure.

It only ever moves forward: a state is taken only if its `version` is above the one held, so a repeated,
late or out-of-order delivery (the bus promises none of those away) changes nothing. A market that
arrives before its event waits until the event does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from uuid import UUID

from sportsbook.catalog.model import Event, EventStatus, Market, Selection, Sport, sport_name


class ReadModel:
    """Events, markets and selections in dicts: every lookup by id is O(1) and touches no database."""

    def __init__(self) -> None:
        self._events: dict[UUID, Event] = {}
        self._markets: dict[UUID, Market] = {}
        self._selections: dict[UUID, Selection] = {}
        self._by_external_id: dict[tuple[str, str], UUID] = {}
        # Markets whose event this node has not seen yet (delivered out of order).
        self._waiting: dict[UUID, dict[UUID, Market]] = {}
        # told of every market state taken, whatever brought it (live odds fan out from here)
        self.listeners: list[Callable[[Market], None]] = []

    # --- reads ---

    def event(self, event_id: UUID) -> Event | None:
        return self._events.get(event_id)

    def market(self, market_id: UUID) -> Market | None:
        return self._markets.get(market_id)

    def event_by_external_id(self, provider: str, external_id: str) -> Event | None:
        """The event a feed names by its own id."""
        event_id = self._by_external_id.get((provider, external_id))
        return self._events.get(event_id) if event_id is not None else None

    def selection(self, selection_id: UUID) -> tuple[Event, Market, Selection] | None:
        selection = self._selections.get(selection_id)
        if selection is None:
            return None
        market = self._markets[selection.market_id]
        return self._events[market.event_id], market, selection

    def events(self, sport: str | None = None, statuses: Iterable[EventStatus] | None = None) -> list[Event]:
        """Events, soonest first (then by id), optionally of one sport and some statuses. O(n)."""
        wanted = frozenset(statuses) if statuses is not None else None
        found = [
            e
            for e in self._events.values()
            if (sport is None or e.sport == sport) and (wanted is None or e.status in wanted)
        ]
        found.sort(key=lambda e: (e.start_time, e.id))
        return found

    def sports(self) -> list[Sport]:
        """Every sport with an event, with its upcoming and live counts, by key. O(n)."""
        counts: dict[str, list[int]] = {}
        for e in self._events.values():
            c = counts.setdefault(e.sport, [0, 0])
            c[0] += e.status is EventStatus.UPCOMING
            c[1] += e.status is EventStatus.LIVE
        return [Sport(key, sport_name(key), up, live) for key, (up, live) in sorted(counts.items())]

    def __len__(self) -> int:
        return len(self._events)

    # --- writes ---

    def put_event(self, event: Event) -> bool:
        """Take a whole event, markets included, where it (or any of its markets) is newer than what is
        held. Returns whether anything changed."""
        changed = self.put_header(event)
        for market in event.markets:
            changed = self.put_market(market) or changed
        return changed

    def put_header(self, event: Event) -> bool:
        """Take an event's own fields (status, score, ...) if newer; its markets are left as held."""
        held = self._events.get(event.id)
        if held is not None and held.version >= event.version:
            return False
        markets = held.markets if held is not None else ()
        self._events[event.id] = replace(event, markets=markets)
        for pair in held.external_ids if held is not None else ():
            self._by_external_id.pop(pair, None)
        for pair in event.external_ids:
            self._by_external_id[pair] = event.id
        for market in self._waiting.pop(event.id, {}).values():
            self.put_market(market)
        return True

    def put_market(self, market: Market) -> bool:
        """Take a market (selections and prices included) if newer than the one held."""
        held = self._markets.get(market.id)
        if held is not None and held.version >= market.version:
            return False
        event = self._events.get(market.event_id)
        if event is None:
            waiting = self._waiting.setdefault(market.event_id, {})
            if market.id not in waiting or waiting[market.id].version < market.version:
                waiting[market.id] = market
            return False
        if held is None:
            markets = (*event.markets, market)
        else:
            markets = tuple(market if m.id == market.id else m for m in event.markets)
            for s in held.selections:
                self._selections.pop(s.id, None)
        self._events[event.id] = replace(event, markets=markets)
        self._markets[market.id] = market
        for s in market.selections:
            self._selections[s.id] = s
        for listener in self.listeners:
            listener(market)
        return True

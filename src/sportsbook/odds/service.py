"""The live odds hub of one node: who watches which event, one frame per market change for all of them, and a
writer per connection that drains its conflating outbox into its socket.

What a player sees is exactly what this node bets on: frames come from the catalogue's `watch`, called with every
market state this node's read model takes (this node's commits, another node's through the market channel or the
bus). The node's own commits go out on the channel (`Catalog.on_commit`), and what the channel brings is given
to the read model (`Catalog.take_markets`), which keeps only newer versions.

Nothing here waits on a client: the watch listener only puts a frame (built once) into each subscriber's outbox,
which keeps at most one frame per market; a connection whose outbox passes `max_pending` frames, or whose socket
takes nothing for `stall_s`, is closed (1013, `slow_consumer`) and forgotten."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from typing import Protocol
from uuid import UUID

import structlog
from prometheus_client import Counter, Gauge

from sportsbook.catalog.model import EventNotFound, Market
from sportsbook.catalog.service import Catalog
from sportsbook.odds.channel import MarketChannel
from sportsbook.odds.model import (
    BATCH_SUBPROTOCOL,
    EVENT_NOT_FOUND,
    GOING_AWAY,
    MAX_BATCH_FRAMES,
    NODE_FULL,
    SLOW_CONSUMER,
    TOO_MANY_SUBSCRIPTIONS,
    TRY_AGAIN_LATER,
    InvalidMessage,
    Outbox,
    Subscribe,
    batch,
    error_frame,
    odds_frame,
    parse_event_id,
    parse_message,
    snapshot_frame,
)

log = structlog.get_logger(__name__)

CONNECTIONS = Gauge("sportsbook_odds_connections", "Open /ws/odds connections on this node.")
SUBSCRIPTIONS = Gauge("sportsbook_odds_subscriptions", "Events watched by this node's /ws/odds connections, summed.")
REFUSED = Counter(
    "sportsbook_odds_connections_refused_total",
    "/ws/odds connections closed at once (1013) because the node had SPORTSBOOK_ODDS_MAX_CONNECTIONS open, or was "
    "not started.",
)
UPDATES = Counter(
    "sportsbook_odds_updates_total", "Market changes framed for this node's subscribers (each serialised once)."
)
FRAMES = Counter(
    "sportsbook_odds_frames_sent_total", "Frames written to /ws/odds sockets: snapshots, odds, heartbeats, errors."
)
CONFLATED = Counter(
    "sportsbook_odds_conflated_total",
    "Odds frames replaced by a newer frame of the same market before a slow connection took them.",
)
DROPPED = Counter(
    "sportsbook_odds_dropped_total",
    "Slow /ws/odds connections closed (1013 slow_consumer): `max_pending` (too many markets waiting), `stalled` "
    "(the socket took nothing for SPORTSBOOK_ODDS_STALL_S).",
    ("reason",),
)
CLIENT_ERRORS = Counter(
    "sportsbook_odds_client_errors_total", "Error frames answered to /ws/odds client messages, by code.", ("code",)
)

CLOSE_TIMEOUT_S = 1.0  # a close frame a stuck socket cannot take is given up on: the server closes the TCP side


class Socket(Protocol):
    """One client's WebSocket as the route hands it over."""

    @property
    def subprotocols(self) -> Sequence[str]:
        """The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order of preference."""

    async def accept(self, subprotocol: str | None = None) -> None: ...

    async def receive(self) -> str | bytes | None:
        """The client's next message; None once it has gone."""

    async def send(self, frame: str) -> None:
        """Write one text frame. Raises once the client has gone."""

    async def close(self, code: int, reason: str) -> None: ...


class _Connection:
    """One subscriber: its socket, the events it watches, its outbox and the state of its writer."""

    __slots__ = ("batched", "closing", "deadline", "due", "events", "outbox", "since", "socket", "writer")

    def __init__(self, socket: Socket, *, batched: bool) -> None:
        self.socket = socket
        self.batched = batched  # frames go out as JSON arrays of what waits (the batch subprotocol)
        self.due = False  # a batched connection waiting for the next flush to start its writer
        self.events: dict[UUID, None] = {}  # a dict: a third of a set's size for a few dozen ids
        self.outbox = Outbox()
        # The writer runs only while the outbox holds frames: an idle connection has no task of its own but the
        # server's reading one.
        self.writer: asyncio.Task[None] | None = None
        self.deadline: asyncio.Timeout | None = None  # rescheduled to now to end the connection from here
        self.since = 0.0  # when the send under way began (monotonic), 0 when none is
        self.closing: tuple[int, str] | None = None  # the close code and reason once this node ends it


class _Feed:
    """An event someone here watches: its subscribers, its snapshot at a seq, the markets that snapshot had."""

    __slots__ = ("markets", "snapshot", "subscribers")

    def __init__(self) -> None:
        self.subscribers: set[_Connection] = set()
        self.snapshot: tuple[int, str] | None = None
        self.markets: frozenset[UUID] = frozenset()


class LiveOdds:
    """The hub. `serve` runs one connection until it ends; `start` and `stop` run the channel and heartbeats."""

    def __init__(
        self,
        catalog: Catalog,
        channel: MarketChannel,
        *,
        heartbeat_s: float = 5.0,
        max_pending: int = 2_000,
        stall_s: float = 10.0,
        max_subscriptions: int = 200,
        max_connections: int = 20_000,
        batch_tick_s: float = 0.01,
    ) -> None:
        self._catalog = catalog
        self._channel = channel
        self._heartbeat_s = heartbeat_s
        self._max_pending = max_pending
        self._stall_s = stall_s
        self._max_subscriptions = max_subscriptions
        self._max_connections = max_connections
        self._batch_tick_s = batch_tick_s
        self._due: list[_Connection] = []  # batched connections whose writer starts at the next flush
        self._flush_at: asyncio.TimerHandle | None = None
        self._seq: dict[UUID, int] = {}  # every event this node has seen change: its last seq
        self._feeds: dict[UUID, _Feed] = {}  # the events watched here
        self._connections: set[_Connection] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._running = False
        catalog.watch(self._changed)
        catalog.on_commit(channel.publish)
        channel.listen(catalog.take_markets)

    async def start(self) -> None:
        await self._channel.start()
        self._running = True
        self._sweeper = asyncio.create_task(self._sweep(), name="odds-heartbeats")

    async def stop(self) -> None:
        """Close every connection (1001, going away: clients connect again, to another node) and the channel."""
        self._running = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        self._due = []
        for conn in self._connections:
            self._end_soon(conn, GOING_AWAY, "going_away")
        await self._channel.stop()

    def seq(self, event_id: UUID) -> int:
        """The seq of the event's last change on this node (0 before any): what its snapshot carries now."""
        return self._seq.get(event_id, 0)

    @property
    def connections(self) -> int:
        return len(self._connections)

    # --- one connection ---

    async def serve(self, socket: Socket) -> None:
        """Run one client's connection until it or this node ends it."""
        batched = BATCH_SUBPROTOCOL in socket.subprotocols
        await socket.accept(BATCH_SUBPROTOCOL if batched else None)
        if not self._running or len(self._connections) >= self._max_connections:
            REFUSED.inc()
            await self._close(socket, TRY_AGAIN_LATER, NODE_FULL)
            return
        conn = _Connection(socket, batched=batched)
        self._connections.add(conn)
        CONNECTIONS.inc()
        try:
            async with asyncio.timeout(None) as conn.deadline:
                while (data := await socket.receive()) is not None:
                    try:
                        self._received(conn, data)
                    except Exception:  # a fault of ours must not end a client's connection: log it, read on
                        log.exception("odds.message_failed")
        except TimeoutError:
            pass  # this node ended it (`_end_soon`): a slow consumer, or the node is stopping
        finally:
            conn.deadline = None
            if conn.writer is not None:
                conn.writer.cancel()
            self._release(conn)
            self._connections.discard(conn)
            CONNECTIONS.dec()
        if conn.closing is not None:
            await self._close(socket, *conn.closing)

    def _received(self, conn: _Connection, data: str | bytes) -> None:
        try:
            message = parse_message(data)
        except InvalidMessage as exc:
            self._answer(conn, exc.code, str(exc))
            return
        if isinstance(message, Subscribe):
            self._subscribe(conn, message.events)
        else:
            self._unsubscribe(conn, message.events)
        self._kick(conn)

    def _subscribe(self, conn: _Connection, raw_ids: Iterable[str]) -> None:
        """A snapshot of each event named (again, for one watched already: how a client asks after a gap), an
        error for each id no event has; nothing at all if the connection would watch too many."""
        found: dict[str, UUID | None] = {}
        for raw in raw_ids:
            event_id = parse_event_id(raw)
            if event_id is not None:
                try:
                    event_id = self._catalog.event(event_id).id  # the catalogue's own id object: one per event
                except EventNotFound:
                    event_id = None
            found[raw] = event_id
        adding = {e for e in found.values() if e is not None and e not in conn.events}
        if len(conn.events) + len(adding) > self._max_subscriptions:
            self._answer(
                conn,
                TOO_MANY_SUBSCRIPTIONS,
                f"a connection watches at most {self._max_subscriptions} events: unsubscribe from some first",
            )
            return
        for raw, event_id in found.items():
            if event_id is None:
                self._answer(conn, EVENT_NOT_FOUND, "no event has this id", event_id=raw)
                continue
            feed = self._feeds.get(event_id)
            if feed is None:
                feed = self._feeds[event_id] = _Feed()
            feed.subscribers.add(conn)
            conn.events[event_id] = None
            conn.outbox.put_snapshot(event_id, self._snapshot(event_id, feed))
        SUBSCRIPTIONS.inc(len(adding))
        self._check_pending(conn)

    def _unsubscribe(self, conn: _Connection, raw_ids: Iterable[str]) -> None:
        """Stop sending these events (ids not watched, or of no event, change nothing)."""
        for raw in raw_ids:
            event_id = parse_event_id(raw)
            if event_id is None or event_id not in conn.events:
                continue
            del conn.events[event_id]
            SUBSCRIPTIONS.dec()
            self._leave(conn, event_id)
            conn.outbox.forget_event(event_id)

    def _answer(self, conn: _Connection, code: str, message: str, *, event_id: str | None = None) -> None:
        CLIENT_ERRORS.labels(code).inc()
        conn.outbox.put_answer(error_frame(code, message, event_id=event_id))
        self._check_pending(conn)
        self._kick(conn)

    def _leave(self, conn: _Connection, event_id: UUID) -> None:
        feed = self._feeds.get(event_id)
        if feed is not None:
            feed.subscribers.discard(conn)
            if not feed.subscribers:
                del self._feeds[event_id]

    def _release(self, conn: _Connection) -> None:
        """Forget a connection that is ending: nothing more is offered to it."""
        for event_id in conn.events:
            self._leave(conn, event_id)
        SUBSCRIPTIONS.dec(len(conn.events))
        conn.events = {}
        conn.outbox.clear()

    def _kick(self, conn: _Connection) -> None:
        """Start the connection's writer if it has frames and none is running."""
        if conn.writer is None and conn.outbox and conn.closing is None:
            conn.writer = asyncio.create_task(self._write(conn), name="odds-writer")

    async def _write(self, conn: _Connection) -> None:
        """The connection's writer: sends what its outbox holds, oldest first, and ends once it is empty."""
        outbox = conn.outbox
        send = conn.socket.send
        sent = 0
        try:
            if conn.batched:
                while outbox:
                    frames = outbox.pop_many(MAX_BATCH_FRAMES)
                    conn.since = time.monotonic()
                    await send(batch(frames))
                    sent += len(frames)
            while outbox:
                frame = outbox.pop()
                conn.since = time.monotonic()
                await send(frame)
                sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client has gone: its reader hears of it and ends the connection
            log.debug("odds.send_failed", error=repr(exc))
        finally:
            conn.since = 0.0
            conn.writer = None
            FRAMES.inc(sent)

    async def _close(self, socket: Socket, code: int, reason: str) -> None:
        # A socket whose client reads nothing cannot take even the close frame: give up after a moment, and the
        # server closes the TCP connection once the app returns.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await socket.close(code, reason)

    def _end_soon(self, conn: _Connection, code: int, reason: str, dropped: str | None = None) -> None:
        """End a connection from this node (safe while its feed's subscribers are being walked: the work is
        scheduled)."""
        if conn.closing is not None:
            return
        conn.closing = (code, reason)
        if dropped is not None:
            DROPPED.labels(dropped).inc()
        asyncio.get_running_loop().call_soon(self._end, conn)

    def _end(self, conn: _Connection) -> None:
        self._release(conn)
        if conn.writer is not None:
            conn.writer.cancel()
            conn.writer = None
        if conn.deadline is not None:
            conn.deadline.reschedule(asyncio.get_running_loop().time())

    def _check_pending(self, conn: _Connection) -> None:
        if len(conn.outbox) > self._max_pending:
            self._end_soon(conn, TRY_AGAIN_LATER, SLOW_CONSUMER, dropped="max_pending")

    # --- market changes ---

    def _changed(self, market: Market) -> None:
        """The catalogue's watch listener: a new state of `market` on this node. Numbers the change in its event
        and puts one frame, built once, into every subscriber's outbox. Never raises into the read model."""
        event_id = market.event_id
        seq = self._seq[event_id] = self._seq.get(event_id, 0) + 1
        feed = self._feeds.get(event_id)
        if feed is None:
            return
        try:
            UPDATES.inc()
            if market.id not in feed.markets:  # a market the event's subscribers have not seen: a new snapshot
                frame = self._snapshot(event_id, feed)
                for conn in feed.subscribers:
                    conn.outbox.put_snapshot(event_id, frame)
                    self._kick(conn)
                return
            frame = odds_frame(market, seq)
            market_id = market.id
            create_task = asyncio.get_running_loop().create_task
            max_pending = self._max_pending
            conflated = 0
            for conn in feed.subscribers:
                outbox = conn.outbox
                if outbox.put_update(event_id, market_id, frame):
                    conflated += 1
                elif len(outbox) > max_pending:
                    self._end_soon(conn, TRY_AGAIN_LATER, SLOW_CONSUMER, dropped="max_pending")
                if conn.writer is None and conn.closing is None:
                    if conn.batched:
                        self._defer(conn)
                    else:
                        conn.writer = create_task(self._write(conn), name="odds-writer")
            if conflated:
                CONFLATED.inc(conflated)
        except Exception:
            log.exception("odds.fan_out_failed", event_id=str(event_id), market_id=str(market.id))

    def _defer(self, conn: _Connection) -> None:
        """Start a batched connection's writer at the next flush, `batch_tick_s` away, rather than at once: the
        updates of that time go out in one message. Its client asked for batches; one timer serves every connection."""
        if not conn.due:
            conn.due = True
            self._due.append(conn)
            if self._flush_at is None:
                self._flush_at = asyncio.get_running_loop().call_later(self._batch_tick_s, self._flush)

    def _flush(self) -> None:
        self._flush_at = None
        due, self._due = self._due, []
        for conn in due:
            conn.due = False
            self._kick(conn)

    def _snapshot(self, event_id: UUID, feed: _Feed) -> str:
        """The event's snapshot at its current seq, built once per seq for every subscriber asking."""
        seq = self._seq.get(event_id, 0)
        if feed.snapshot is not None and feed.snapshot[0] == seq:
            return feed.snapshot[1]
        event = self._catalog.event(event_id)
        feed.markets = frozenset(m.id for m in event.markets)
        frame = snapshot_frame(event_id, event.markets, seq)
        feed.snapshot = (seq, frame)
        return frame

    # --- heartbeats and stalled sockets ---

    async def _sweep(self) -> None:
        """Every `heartbeat_s`: a heartbeat to every connection, and the end of those whose socket has taken
        nothing for `stall_s`."""
        while True:
            await asyncio.sleep(self._heartbeat_s)
            now = time.monotonic()
            for conn in self._connections:
                if conn.closing is not None:
                    continue
                if conn.since and now - conn.since > self._stall_s:
                    self._end_soon(conn, TRY_AGAIN_LATER, SLOW_CONSUMER, dropped="stalled")
                    continue
                conn.outbox.put_heartbeat()
                self._kick(conn)

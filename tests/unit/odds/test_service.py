"""The live odds hub against sockets that are fakes: subscriptions, one frame per change, errors, conflation and
dropping slow clients, heartbeats, the batch subprotocol, and the channel wiring (the catalogue is real, in
memory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from prometheus_client import REGISTRY

from sportsbook.catalog import model as catalog_model
from sportsbook.catalog.model import Event, Market, MarketDraft, SelectionDraft
from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import ManualClock
from sportsbook.db.engine import Database
from sportsbook.odds import service
from sportsbook.odds.memory import MemoryMarkets
from sportsbook.odds.model import BATCH_SUBPROTOCOL
from sportsbook.odds.service import LiveOdds
from tests.unit.catalog.test_model import START, fixture


class FakeSocket:
    """A client: what it sends goes in `incoming`, what it receives lands in `sent`; `stuck()` makes every send
    wait, as a socket whose client reads nothing does."""

    def __init__(self, subprotocols: Sequence[str] = ()) -> None:
        self.subprotocols = subprotocols
        self.incoming: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.sent: list[str] = []
        self.accepted: list[str | None] = []
        self.closed: tuple[int, str] | None = None
        self._open = asyncio.Event()
        self._open.set()

    async def accept(self, subprotocol: str | None = None) -> None:
        self.accepted.append(subprotocol)

    async def receive(self) -> str | bytes | None:
        return await self.incoming.get()

    async def send(self, frame: str) -> None:
        await self._open.wait()
        self.sent.append(frame)

    async def close(self, code: int, reason: str) -> None:
        await self._open.wait()
        self.closed = (code, reason)

    def stuck(self) -> None:
        self._open.clear()

    def reads_again(self) -> None:
        self._open.set()

    def say(self, message: Any) -> None:
        self.incoming.put_nowait(message if isinstance(message, str | bytes) else orjson.dumps(message).decode())

    def leave(self) -> None:
        self.incoming.put_nowait(None)

    def frames(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for text in self.sent:
            decoded = orjson.loads(text)
            out.extend(decoded if isinstance(decoded, list) else [decoded])
        return out

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames() if f["type"] == kind]


async def until(check: Callable[[], bool], what: str, timeout_s: float = 2.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not check():  # noqa: ASYNC110  # polling what fakes record
                await asyncio.sleep(0.005)
    except TimeoutError:
        pytest.fail(f"{what} did not happen within {timeout_s} s")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Hub:
    """A LiveOdds on a real in-memory catalogue, with helpers to connect fake clients and move prices."""

    def __init__(self, catalog: Catalog, odds: LiveOdds) -> None:
        self.catalog = catalog
        self.odds = odds
        self.tasks: list[asyncio.Task[None]] = []

    def connect(self, socket: FakeSocket | None = None) -> FakeSocket:
        socket = socket or FakeSocket()
        self.tasks.append(asyncio.create_task(self.odds.serve(socket)))
        return socket

    def add(self, event: Event) -> Event:
        self.catalog.view.put_event(event)
        return event

    def move(self, market_id: UUID, price: str, selection: int = 0) -> Market:
        """Another node's commit of a new price arriving (what the channel hands the read model)."""
        market = self.catalog.market(market_id)
        event = self.catalog.event(market.event_id)
        moved = catalog_model.change_market(event, market_id, odds={market.selections[selection].id: price})
        new = moved.market(market_id)
        self.catalog.take_markets([new])
        return new


@pytest.fixture
async def hub_factory(sqlite_db: Database) -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    started: list[Hub] = []

    async def make(**options: Any) -> Hub:
        catalog = Catalog(sqlite_db, ManualClock(START), None)
        odds = LiveOdds(catalog, MemoryMarkets(), **{"heartbeat_s": 60.0, **options})
        await odds.start()
        hub = Hub(catalog, odds)
        started.append(hub)
        return hub

    yield make
    for hub in started:
        await hub.odds.stop()
        for task in hub.tasks:
            task.cancel()
        await asyncio.gather(*hub.tasks, return_exceptions=True)


@pytest.fixture
async def hub(hub_factory: Callable[..., Awaitable[Hub]]) -> Hub:
    return await hub_factory()


def big_event(markets: int) -> Event:
    over_under = [SelectionDraft("over", "1.90"), SelectionDraft("under", "1.90")]
    return fixture(
        *[MarketDraft(type="total", specifiers={"total": f"{n}.5"}, selections=over_under) for n in range(markets)]
    )


# --- subscribing ---


async def test_a_subscriber_gets_the_events_snapshot_then_a_frame_per_change(hub: Hub) -> None:
    event = hub.add(fixture())
    market = event.markets[0]
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")
    (snapshot,) = client.frames()
    assert snapshot["type"] == "snapshot"
    assert snapshot["event_id"] == str(event.id)
    assert [m["id"] for m in snapshot["markets"]] == [str(market.id)]
    first = snapshot["seq"]

    hub.move(market.id, "2.20")
    await until(lambda: len(client.sent) == 2, "the first odds frame")
    hub.move(market.id, "2.30", selection=1)
    await until(lambda: len(client.sent) == 3, "the second")
    odds = client.of_type("odds")
    assert [f["seq"] for f in odds] == [first + 1, first + 2]
    assert [s["odds"] for s in odds[1]["selections"][:2]] == ["2.20", "2.30"]
    assert hub.odds.seq(event.id) == first + 2


async def test_resubscribing_answers_a_fresh_snapshot_at_the_current_seq(hub: Hub) -> None:
    """How a client that saw a gap asks again."""
    event = hub.add(fixture())
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")
    client.say({"op": "unsubscribe", "events": [str(event.id)]})
    await asyncio.sleep(0.01)
    hub.move(event.markets[0].id, "4.00")
    hub.move(event.markets[0].id, "4.50")
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 2, "the second snapshot")
    first, second = client.of_type("snapshot")
    assert second["seq"] == first["seq"] + 2  # the two changes it did not see: a gap, then the state after them
    assert second["markets"][0]["selections"][0]["odds"] == "4.50"
    assert client.of_type("odds") == []


async def test_an_event_the_node_does_not_know_is_event_not_found_and_the_rest_subscribe(hub: Hub) -> None:
    event = hub.add(fixture())
    client = hub.connect()
    unknown = str(uuid4())
    client.say({"op": "subscribe", "events": [unknown, str(event.id), "not-an-id"]})
    await until(lambda: len(client.sent) == 3, "three answers")
    errors = client.of_type("error")
    assert [(e["code"], e["event_id"]) for e in errors] == [
        ("event_not_found", unknown),
        ("event_not_found", "not-an-id"),
    ]
    assert [s["event_id"] for s in client.of_type("snapshot")] == [str(event.id)]


async def test_a_connection_watches_at_most_max_subscriptions_events(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> None:
    hub = await hub_factory(max_subscriptions=2)
    events = [hub.add(fixture()) for _ in range(3)]
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(e.id) for e in events]})
    await until(lambda: len(client.sent) == 1, "the refusal")
    assert client.frames()[0]["code"] == "too_many_subscriptions"
    client.say({"op": "subscribe", "events": [str(events[0].id), str(events[1].id)]})
    await until(lambda: len(client.sent) == 3, "two snapshots")
    client.say({"op": "subscribe", "events": [str(events[0].id)]})  # again: no new subscription, a new snapshot
    await until(lambda: len(client.sent) == 4, "the snapshot again")
    client.say({"op": "subscribe", "events": [str(events[2].id)]})
    await until(lambda: len(client.sent) == 5, "the second refusal")
    assert client.frames()[-1]["code"] == "too_many_subscriptions"


@pytest.mark.parametrize(
    "message",
    ["", "garbage", "[]", '{"op": "subscribe"}', '{"op": "watch", "events": ["x"]}', b"\x00\x01", "{" * 5000],
)
async def test_a_malformed_message_is_invalid_message_and_the_connection_goes_on(hub: Hub, message: str) -> None:
    event = hub.add(fixture())
    client = hub.connect()
    before = metric("sportsbook_odds_client_errors_total", code="invalid_message")
    client.say(message)
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 2, "an error, then the snapshot")
    error, snapshot = client.frames()
    assert error["type"] == "error"
    assert error["code"] == "invalid_message"
    assert error["message"]
    assert snapshot["type"] == "snapshot"
    assert metric("sportsbook_odds_client_errors_total", code="invalid_message") == before + 1


async def test_unsubscribing_stops_an_events_frames_and_forgets_those_waiting(hub: Hub) -> None:
    kept, dropped = hub.add(fixture()), hub.add(fixture())
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(kept.id), str(dropped.id)]})
    await until(lambda: len(client.sent) == 2, "two snapshots")
    client.say({"op": "unsubscribe", "events": [str(dropped.id), str(uuid4()), "nonsense"]})
    await asyncio.sleep(0.01)
    hub.move(dropped.markets[0].id, "9.00")
    hub.move(kept.markets[0].id, "9.00")
    await until(lambda: len(client.sent) == 3, "one odds frame")
    assert [f["event_id"] for f in client.of_type("odds")] == [str(kept.id)]


async def test_a_market_new_to_the_event_comes_as_a_new_snapshot(hub: Hub) -> None:
    event = hub.add(fixture())
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")
    added = catalog_model.add_market(
        hub.catalog.event(event.id),
        MarketDraft(type="btts", selections=[SelectionDraft("yes", "1.80"), SelectionDraft("no", "2.00")]),
        new_id=uuid4,
        defaults=catalog_model.Limits(),
    ).markets[-1]
    hub.catalog.take_markets([added])
    await until(lambda: len(client.sent) == 2, "a second snapshot")
    snapshot = client.frames()[-1]
    assert snapshot["type"] == "snapshot"
    assert {m["type"] for m in snapshot["markets"]} == {"1x2", "btts"}
    hub.move(added.id, "1.70")
    await until(lambda: len(client.sent) == 3, "its odds frame")
    assert client.frames()[-1]["seq"] == snapshot["seq"] + 1


# --- slow clients ---


async def test_a_stuck_client_is_conflated_and_holds_back_nobody(hub: Hub) -> None:
    event = hub.add(big_event(3))
    fast, slow = hub.connect(), hub.connect()
    for client in (fast, slow):
        client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(fast.sent) == 1 and len(slow.sent) == 1, "both snapshots")
    base = fast.frames()[0]["seq"]
    conflated = metric("sportsbook_odds_conflated_total")
    slow.stuck()
    prices = ["2.00", "2.10", "2.20", "2.30", "2.40"]
    for price in prices:
        for market in event.markets:
            hub.move(market.id, price)
        await asyncio.sleep(0)
    await until(lambda: len(fast.sent) == 1 + 15, "every frame to the fast client")
    assert [f["seq"] for f in fast.of_type("odds")] == list(range(base + 1, base + 16))
    assert metric("sportsbook_odds_conflated_total") > conflated

    slow.reads_again()
    await until(lambda: slow.frames()[-1]["seq"] == base + 15, "the slow client's last frame")
    odds = slow.of_type("odds")
    assert len(odds) < 15  # conflated
    assert [f["seq"] for f in odds] == sorted(f["seq"] for f in odds)
    skipped = 15 - len(odds)
    assert sum(f.get("conflated", 0) for f in odds) == skipped  # every gap in seq accounted for
    latest = {f["market_id"]: f["selections"][0]["odds"] for f in odds}
    assert latest == {str(m.id): "2.40" for m in event.markets}  # and the newest price of every market


async def test_a_client_with_more_than_max_pending_markets_waiting_is_dropped(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> None:
    hub = await hub_factory(max_pending=4)
    event = hub.add(big_event(6))
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")
    dropped = metric("sportsbook_odds_dropped_total", reason="max_pending")
    connections = hub.odds.connections
    client.stuck()
    for market in event.markets:
        hub.move(market.id, "3.00")
    await until(lambda: hub.odds.connections == connections - 1, "the connection ending")
    assert metric("sportsbook_odds_dropped_total", reason="max_pending") == dropped + 1
    client.reads_again()  # the close frame could not be sent while stuck: the server closes the socket itself
    await until(hub.tasks[-1].done, "the connection's task ending")


async def test_a_client_that_keeps_up_is_closed_with_1013_once_dropped(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> None:
    hub = await hub_factory(max_pending=2)
    event = hub.add(big_event(5))
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")
    for market in event.markets:  # five markets waiting at once, before its writer runs
        hub.move(market.id, "3.00")
    await until(lambda: client.closed is not None, "the close")
    assert client.closed == (1013, "slow_consumer")


async def test_a_client_whose_socket_takes_nothing_for_stall_s_is_dropped(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> None:
    hub = await hub_factory(stall_s=0.1, heartbeat_s=0.05)
    event = hub.add(fixture())
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) >= 1, "the snapshot")
    stalled = metric("sportsbook_odds_dropped_total", reason="stalled")
    client.stuck()
    hub.move(event.markets[0].id, "5.00")
    await until(lambda: metric("sportsbook_odds_dropped_total", reason="stalled") == stalled + 1, "the drop", 3.0)
    await until(lambda: hub.odds.connections == 0, "the connection ending")


async def test_heartbeats_come_every_heartbeat_s_to_an_idle_client(hub_factory: Callable[..., Awaitable[Hub]]) -> None:
    hub = await hub_factory(heartbeat_s=0.05)
    client = hub.connect()
    await until(lambda: len(client.of_type("heartbeat")) >= 3, "three heartbeats")


# --- the batch subprotocol ---


async def test_a_client_offering_the_batch_subprotocol_gets_json_arrays_of_the_same_frames(hub: Hub) -> None:
    event = hub.add(big_event(3))
    plain, batched = hub.connect(), hub.connect(FakeSocket(subprotocols=["other", BATCH_SUBPROTOCOL]))
    for client in (plain, batched):
        client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(plain.sent) == 1 and len(batched.sent) == 1, "both snapshots")
    assert plain.accepted == [None]
    assert batched.accepted == [BATCH_SUBPROTOCOL]
    for market in event.markets:
        hub.move(market.id, "6.00")
    await until(lambda: len(batched.frames()) == 4 and len(plain.sent) == 4, "three odds frames each")
    assert isinstance(orjson.loads(batched.sent[0]), list)
    assert len(batched.sent) == 2  # the three changes of one turn in one message
    assert batched.frames() == plain.frames()


# --- the node ---


async def test_stop_closes_every_connection_as_going_away(hub: Hub) -> None:
    client = hub.connect()
    await until(lambda: hub.odds.connections == 1, "the connection")
    await hub.odds.stop()
    await until(lambda: client.closed == (1001, "going_away"), "the close")
    await until(lambda: hub.odds.connections == 0, "the connection ending")


async def test_a_node_with_max_connections_open_closes_the_next_with_1013(
    hub_factory: Callable[..., Awaitable[Hub]],
) -> None:
    hub = await hub_factory(max_connections=1)
    hub.connect()
    await until(lambda: hub.odds.connections == 1, "the first connection")
    refused = hub.connect()
    await until(lambda: refused.closed is not None, "the refusal")
    assert refused.closed == (1013, "too_many_connections")


async def test_a_fault_in_fan_out_never_reaches_the_read_model(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    event = hub.add(fixture())
    client = hub.connect()
    client.say({"op": "subscribe", "events": [str(event.id)]})
    await until(lambda: len(client.sent) == 1, "the snapshot")

    def broken(market: Market, seq: int) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "odds_frame", broken)
    moved = hub.move(event.markets[0].id, "8.00")
    assert hub.catalog.market(moved.id).selections[0].odds == Decimal("8.00")


class RecordingChannel(MemoryMarkets):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[Sequence[Market]] = []

    async def publish(self, markets: Sequence[Market]) -> None:
        self.published.append(markets)
        await super().publish(markets)


async def test_this_nodes_commits_go_out_on_the_channel_and_what_it_brings_reaches_subscribers(
    sqlite_db: Database,
) -> None:
    channel = RecordingChannel()
    catalog = Catalog(sqlite_db, ManualClock(START), None)
    odds = LiveOdds(catalog, channel, heartbeat_s=60)
    await odds.start()
    try:
        btts = MarketDraft(type="btts", selections=[SelectionDraft("yes", "1.80"), SelectionDraft("no", "2.00")])
        draft = catalog_model.EventDraft(
            sport="football", name="A v B", start_time=START, competitors=["A", "B"], markets=[btts]
        )
        event = await catalog.create_event(draft)
        assert [m.id for m in channel.published[-1]] == [event.markets[0].id]
        client = FakeSocket()
        task = asyncio.create_task(odds.serve(client))
        client.say({"op": "subscribe", "events": [str(event.id)]})
        await until(lambda: len(client.sent) == 1, "the snapshot")
        market = event.markets[0]
        await catalog.update_market(market.id, odds={market.selections[0].id: "1.75"})
        assert channel.published[-1][0].version == 2
        await until(lambda: len(client.sent) == 2, "the odds frame")
        # another node's newer state, as the channel brings it
        other = catalog_model.change_market(catalog.event(event.id), market.id, odds={market.selections[1].id: "2.25"})
        await channel.publish([other.market(market.id)])
        await until(lambda: len(client.sent) == 3, "the other node's price")
        assert client.frames()[-1]["selections"][1]["odds"] == "2.25"
        client.leave()
        await task
    finally:
        await odds.stop()

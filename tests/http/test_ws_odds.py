"""`GET /ws/odds` on a real server: the app served by uvicorn on a free port (websockets-sansio, as `sportsbook serve`
runs it), `websockets` clients, staff trading over HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
import uvicorn
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sportsbook.app import create_app
from sportsbook.catalog import model as catalog_model
from sportsbook.platform import Platform
from tests.http.conftest import STRONG_PASSWORD, test_settings, unique_email


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Node:
    """One API node serving on 127.0.0.1: its platform, an HTTP client, and a trader's headers."""

    port: int
    platform: Platform
    http: httpx.AsyncClient
    trader: dict[str, str]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/odds"

    async def create_event(self, markets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        body = {
            "sport": "football",
            "name": "Arsenal v Chelsea",
            "start_time": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            "competitors": ["Arsenal", "Chelsea"],
            "markets": markets
            or [
                {
                    "type": "1x2",
                    "selections": [
                        {"outcome": "home", "odds": "2.50"},
                        {"outcome": "draw", "odds": "3.40"},
                        {"outcome": "away", "odds": "2.80"},
                    ],
                },
                {
                    "type": "total",
                    "specifiers": {"total": "2.5"},
                    "selections": [{"outcome": "over", "odds": "1.90"}, {"outcome": "under", "odds": "1.90"}],
                },
            ],
        }
        created = await self.http.post("/api/v1/admin/events", json=body, headers=self.trader)
        assert created.status_code == 201, created.text
        event: dict[str, Any] = created.json()
        return event

    async def patch_market(self, market_id: str, body: dict[str, Any]) -> dict[str, Any]:
        patched = await self.http.patch(f"/api/v1/admin/markets/{market_id}", json=body, headers=self.trader)
        assert patched.status_code == 200, patched.text
        market: dict[str, Any] = patched.json()
        return market


@asynccontextmanager
async def serving(database_url: str, **settings: Any) -> AsyncIterator[Node]:
    """The app on `database_url`, served by uvicorn in this event loop until the block ends."""
    app = create_app(test_settings(database_url, **settings))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        platform: Platform = app.state.platform
        email = unique_email("trader")
        await platform.players.create_staff(email, STRONG_PASSWORD, "trader")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            session = await http.post("/api/v1/sessions", json={"email": email, "password": STRONG_PASSWORD})
            assert session.status_code == 201, session.text
            yield Node(port, platform, http, {"Authorization": f"Bearer {session.json()['token']}"})
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def node_factory(sqlite_url: str) -> Callable[..., AbstractAsyncContextManager[Node]]:
    return lambda **settings: serving(sqlite_url, **settings)


@pytest.fixture
async def node(node_factory: Callable[..., AbstractAsyncContextManager[Node]]) -> AsyncIterator[Node]:
    async with node_factory() as running:
        yield running


async def next_frame(ws: ClientConnection, *, skip_heartbeats: bool = True, timeout_s: float = 5.0) -> Any:
    """The next frame the server sent (heartbeats skipped unless asked for)."""
    async with asyncio.timeout(timeout_s):
        while True:
            frame = orjson.loads(await ws.recv())
            if not (skip_heartbeats and isinstance(frame, dict) and frame["type"] == "heartbeat"):
                return frame


async def subscribe(ws: ClientConnection, *event_ids: str) -> list[Any]:
    await ws.send(orjson.dumps({"op": "subscribe", "events": list(event_ids)}).decode())
    return [await next_frame(ws) for _ in event_ids]


async def read_until_closed(ws: ClientConnection, *, timeout_s: float) -> ConnectionClosed:
    """Read (and drop) frames until the connection ends; how it ended."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                await ws.recv()
            except ConnectionClosed as closed:
                return closed


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- snapshot, then every change ---


async def test_a_watcher_gets_the_event_views_markets_then_each_staff_price_change_in_seq(node: Node) -> None:
    event = await node.create_event()
    async with connect(node.ws_url) as ws:
        (snapshot,) = await subscribe(ws, event["id"])
        assert snapshot["type"] == "snapshot"
        assert snapshot["event_id"] == event["id"]
        view = (await node.http.get(f"/api/v1/events/{event['id']}")).json()
        assert snapshot["markets"] == view["markets"]  # as the public event view shows them
        seq = snapshot["seq"]

        market = event["markets"][0]
        home, draw, _away = market["selections"]
        await node.patch_market(market["id"], {"selections": [{"id": home["id"], "odds": "2.30"}]})
        moved = await next_frame(ws)
        assert moved == {
            "type": "odds",
            "event_id": event["id"],
            "market_id": market["id"],
            "seq": seq + 1,
            "status": "active",
            "selections": [
                {"id": home["id"], "odds": "2.30", "status": "active"},
                {"id": draw["id"], "odds": "3.40", "status": "active"},
                {"id": _away["id"], "odds": "2.80", "status": "active"},
            ],
        }
        await node.patch_market(market["id"], {"status": "suspended"})
        suspended = await next_frame(ws)
        assert (suspended["seq"], suspended["status"]) == (seq + 2, "suspended")
        # what the player sees is what this node bets on
        bet_view = (await node.http.get(f"/api/v1/events/{event['id']}")).json()["markets"][0]
        assert [s["odds"] for s in bet_view["selections"]] == [s["odds"] for s in suspended["selections"]]


async def test_a_gap_shows_in_seq_and_subscribing_again_answers_the_state_after_it(node: Node) -> None:
    event = await node.create_event()
    market = event["markets"][1]
    over = market["selections"][0]
    async with connect(node.ws_url) as watching, connect(node.ws_url) as away:
        (first,) = await subscribe(watching, event["id"])
        await subscribe(away, event["id"])
        await away.send(orjson.dumps({"op": "unsubscribe", "events": [event["id"]]}).decode())
        await asyncio.sleep(0.05)
        for price in ("2.00", "2.10"):
            await node.patch_market(market["id"], {"selections": [{"id": over["id"], "odds": price}]})
            assert (await next_frame(watching))["seq"] > first["seq"]
        (again,) = await subscribe(away, event["id"])
        assert again["type"] == "snapshot"
        assert again["seq"] == first["seq"] + 2  # two numbers it never saw: the gap a client can tell
        assert again["markets"][1]["selections"][0]["odds"] == "2.10"


# --- bad input ---


async def test_bad_messages_get_error_frames_and_the_connection_stays_open(
    node_factory: Callable[..., AbstractAsyncContextManager[Node]],
) -> None:
    async with node_factory(odds_max_subscriptions=2) as node:
        events = [await node.create_event() for _ in range(3)]
        async with connect(node.ws_url) as ws:
            for bad in ("hello", "[]", '{"op": "subscribe"}', '{"op": "subscribe", "events": [1]}', "x" * 20_000):
                await ws.send(bad)
                error = await next_frame(ws)
                assert (error["type"], error["code"]) == ("error", "invalid_message"), bad[:40]
            await ws.send(b"\x00\xff binary")
            assert (await next_frame(ws))["code"] == "invalid_message"
            await ws.send(orjson.dumps({"op": "subscribe", "events": ["no-such-id"]}).decode())
            assert await next_frame(ws) == {
                "type": "error",
                "code": "event_not_found",
                "message": "no event has this id",
                "event_id": "no-such-id",
            }
            await ws.send(orjson.dumps({"op": "subscribe", "events": [e["id"] for e in events]}).decode())
            assert (await next_frame(ws))["code"] == "too_many_subscriptions"
            snapshots = await subscribe(ws, events[0]["id"], events[1]["id"])
            assert [s["type"] for s in snapshots] == ["snapshot", "snapshot"]
        health = await node.http.get("/health/live")
        assert health.status_code == 200


# --- slow consumers ---


def correct_score_event() -> list[dict[str, Any]]:
    """A market of 200 selections, whose frames are ~14 KB: a client that reads nothing fills its socket's
    buffers in a few hundred changes (the server's kernel buffer alone grows to 4 MB: `tcp_wmem`)."""
    scores = [f"{h}:{a}" for h in range(20) for a in range(10)]
    return [
        {"type": "correct_score", "selections": [{"outcome": s, "odds": "9.00"} for s in scores]},
        {"type": "btts", "selections": [{"outcome": "yes", "odds": "1.80"}, {"outcome": "no", "odds": "2.00"}]},
    ]


def move(node: Node, market_id: str, price: str) -> None:
    """A new price of the market's first selection, as another node's commit arrives through the market channel:
    the read model takes it, and fan-out follows (hundreds a second, where a commit on SQLite of a 200-selection
    market takes ~13 ms)."""
    catalog = node.platform.catalog
    market = catalog.market(UUID(market_id))
    event = catalog.event(market.event_id)
    changed = catalog_model.change_market(event, market.id, odds={market.selections[0].id: price})
    catalog.take_markets([changed.market(market.id)])


async def stuck_client(node: Node) -> ClientConnection:
    """A client whose kernel buffer is tiny and whose library stops reading after one message: it reads nothing
    more until the test calls `recv`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", node.port))
    return await connect(node.ws_url, sock=sock, max_queue=1)


async def test_a_slow_consumer_is_conflated_and_does_not_delay_the_others(
    node_factory: Callable[..., AbstractAsyncContextManager[Node]],
) -> None:
    async with node_factory(odds_stall_s=60) as node:
        event = await node.create_event(correct_score_event())
        market = event["markets"][0]
        slow = await stuck_client(node)
        async with connect(node.ws_url) as fast:
            (snapshot,) = await subscribe(fast, event["id"])
            await slow.send(orjson.dumps({"op": "subscribe", "events": [event["id"]]}).decode())
            await asyncio.sleep(0.1)
            conflated = metric("sportsbook_odds_conflated_total")
            prices = [f"{p / 100:.2f}" for p in range(200, 1100)]
            seen: list[int] = []
            for price in prices:  # the fast client reads every frame as it comes
                started = time.monotonic()
                move(node, market["id"], price)
                frame = await next_frame(fast)
                assert time.monotonic() - started < 1.0  # never held back by the slow one
                assert frame["selections"][0]["odds"] == price
                seen.append(frame["seq"])
            assert seen == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(prices)))
            assert metric("sportsbook_odds_conflated_total") > conflated  # the slow one's frames were replaced

            # the slow client reads again: the newest price, and every skipped seq accounted for
            frames: list[Any] = []
            while not frames or frames[-1].get("seq") != seen[-1]:
                frames.append(await next_frame(slow))
            odds = [f for f in frames if f["type"] == "odds"]
            assert odds[-1]["selections"][0]["odds"] == prices[-1]
            assert len(odds) < len(prices)
            assert sum(f.get("conflated", 0) for f in odds) == len(prices) - len(odds)
        await slow.close()


async def test_a_consumer_that_takes_nothing_for_stall_s_is_dropped(
    node_factory: Callable[..., AbstractAsyncContextManager[Node]],
) -> None:
    async with node_factory(odds_stall_s=0.3, odds_heartbeat_s=0.1) as node:
        event = await node.create_event(correct_score_event())
        market = event["markets"][0]
        slow = await stuck_client(node)
        await slow.send(orjson.dumps({"op": "subscribe", "events": [event["id"]]}).decode())
        await asyncio.sleep(0.1)
        dropped = metric("sportsbook_odds_dropped_total", reason="stalled")
        connections = metric("sportsbook_odds_connections")
        for p in range(200, 1100):
            move(node, market["id"], f"{p / 100:.2f}")
            await asyncio.sleep(0)
            if metric("sportsbook_odds_dropped_total", reason="stalled") > dropped:
                break
        async with asyncio.timeout(5):
            while metric("sportsbook_odds_dropped_total", reason="stalled") == dropped:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        async with asyncio.timeout(5):  # the connection ends just after the drop is counted
            while metric("sportsbook_odds_connections") != connections - 1:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        # it reads again: what was already in its socket, then the end
        await read_until_closed(slow, timeout_s=10)


async def test_a_client_with_too_many_markets_waiting_is_closed_with_1013(
    node_factory: Callable[..., AbstractAsyncContextManager[Node]],
) -> None:
    async with node_factory(odds_max_pending=2) as node:
        event = await node.create_event()  # two markets
        extra = {"type": "btts", "selections": [{"outcome": "yes", "odds": "1.8"}, {"outcome": "no", "odds": "2"}]}
        added = await node.http.post(f"/api/v1/admin/events/{event['id']}/markets", json=extra, headers=node.trader)
        assert added.status_code == 201, added.text
        async with connect(node.ws_url) as ws:
            await subscribe(ws, event["id"])
            path = f"/api/v1/admin/events/{event['id']}"
            live = await node.http.patch(path, json={"status": "live"}, headers=node.trader)
            assert live.status_code == 200, live.text
            ended = await node.http.patch(path, json={"status": "ended"}, headers=node.trader)
            assert ended.status_code == 200, ended.text  # three markets suspended in one commit: three frames at once
            closed = await read_until_closed(ws, timeout_s=5)
            assert closed.rcvd is not None
            assert (closed.rcvd.code, closed.rcvd.reason) == (1013, "slow_consumer")


# --- heartbeats, batches, metrics ---


async def test_heartbeats_reach_an_idle_client(node_factory: Callable[..., AbstractAsyncContextManager[Node]]) -> None:
    async with node_factory(odds_heartbeat_s=0.1) as node, connect(node.ws_url) as ws:
        assert await next_frame(ws, skip_heartbeats=False, timeout_s=2) == {"type": "heartbeat"}


async def test_the_batch_subprotocol_sends_json_arrays_of_the_same_frames(node: Node) -> None:
    event = await node.create_event()
    market = event["markets"][0]
    async with connect(node.ws_url, subprotocols=["sportsbook.odds.batch"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "sportsbook.odds.batch"
        await ws.send(orjson.dumps({"op": "subscribe", "events": [event["id"]]}).decode())
        (snapshot,) = await next_frame(ws)
        assert snapshot["type"] == "snapshot"
        await node.patch_market(market["id"], {"selections": [{"id": market["selections"][0]["id"], "odds": "5.00"}]})
        (moved,) = await next_frame(ws)
        assert (moved["type"], moved["seq"]) == ("odds", snapshot["seq"] + 1)
    async with connect(node.ws_url) as plain:
        assert plain.subprotocol is None


async def test_connections_and_frames_show_in_metrics(node: Node) -> None:
    event = await node.create_event()
    before = {name: metric(name) for name in ("sportsbook_odds_connections", "sportsbook_odds_subscriptions")}
    async with connect(node.ws_url) as ws:
        await subscribe(ws, event["id"])
        text = (await node.http.get("/metrics")).text
        for name, value in before.items():
            assert f"{name} {value + 1}" in text
        assert "sportsbook_odds_frames_sent_total" in text
    async with asyncio.timeout(2):
        while metric("sportsbook_odds_connections") != before["sportsbook_odds_connections"]:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert metric("sportsbook_odds_subscriptions") == before["sportsbook_odds_subscriptions"]

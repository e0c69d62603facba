"""Two API processes (`sportsbook serve`) sharing PostgreSQL and Redis, with the in-process bus (no broker): a price
moved on one node reaches a WebSocket client of the other at once, through the Redis market channel alone.

Node B starts once the event exists, so it loads the event from the database: the channel carries markets (every
commit's), while an event's own changes reach other nodes through the bus, which here stays in each process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.http.conftest import STRONG_PASSWORD, unique_email
from tests.integration.test_two_nodes import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


class Nodes:
    """API processes on one database and one Redis, started one at a time."""

    def __init__(self, postgres_url: str, redis_url: str) -> None:
        self.env = {
            **os.environ,
            "SPORTSBOOK_DATABASE_URL": postgres_url,
            "SPORTSBOOK_REDIS_URL": redis_url,
            "SPORTSBOOK_ARGON2_TIME_COST": "1",
            "SPORTSBOOK_ARGON2_MEMORY_KIB": "8",
            "SPORTSBOOK_LOG_LEVEL": "WARNING",
            "SPORTSBOOK_GC_FREEZE": "false",
            "SPORTSBOOK_DATABASE_POOL_SIZE": "2",
        }
        self.procs: list[asyncio.subprocess.Process] = []
        self.clients: list[httpx.AsyncClient] = []

    async def start(self) -> tuple[httpx.AsyncClient, int]:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "sportsbook.cli", "serve", "--port", str(port)),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.clients.append(client)
        async with asyncio.timeout(60):
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"the node exited with {proc.returncode}")
                try:
                    ready = (await client.get("/health/ready")).status_code == 200
                    metrics = (await client.get("/metrics")).text
                except httpx.TransportError:
                    ready, metrics = False, ""
                if ready and "sportsbook_odds_channel_subscribed 1.0" in metrics:
                    return client, port
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        for proc in self.procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


@pytest.fixture
async def nodes(postgres_url: str, redis_url: str) -> AsyncIterator[Nodes]:
    running = Nodes(postgres_url, redis_url)
    try:
        yield running
    finally:
        await running.stop()


async def next_odds(ws: ClientConnection, timeout_s: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if frame["type"] == "odds":
                return frame


async def test_a_price_moved_on_one_node_reaches_a_watcher_on_the_other_at_once(nodes: Nodes) -> None:
    email = unique_email("trader")
    command = ["admin", "create", "--email", email, "--password", STRONG_PASSWORD, "--role", "trader"]
    created = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sportsbook.cli", *command),
        cwd=ROOT,
        env=nodes.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _out, err = await created.communicate()
    assert created.returncode == 0, err.decode()
    a, port_a = await nodes.start()
    session = await a.post("/api/v1/sessions", json={"email": email, "password": STRONG_PASSWORD})
    assert session.status_code == 201, session.text
    trader = {"Authorization": f"Bearer {session.json()['token']}"}
    body = {
        "sport": "football",
        "name": "Two nodes v One channel",
        "start_time": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "competitors": ["Two nodes", "One channel"],
        "markets": [
            {"type": "btts", "selections": [{"outcome": "yes", "odds": "1.80"}, {"outcome": "no", "odds": "2.00"}]}
        ],
    }
    event = await a.post("/api/v1/admin/events", json=body, headers=trader)
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    market = event.json()["markets"][0]
    yes, no = (s["id"] for s in market["selections"])

    b, port_b = await nodes.start()
    async with connect(f"ws://127.0.0.1:{port_b}/ws/odds") as on_b, connect(f"ws://127.0.0.1:{port_a}/ws/odds") as on_a:
        for ws in (on_b, on_a):
            await ws.send(orjson.dumps({"op": "subscribe", "events": [event_id]}).decode())
            assert orjson.loads(await ws.recv())["type"] == "snapshot"

        started = time.monotonic()
        moved = await a.patch(
            f"/api/v1/admin/markets/{market['id']}", json={"selections": [{"id": yes, "odds": "1.65"}]}, headers=trader
        )
        assert moved.status_code == 200, moved.text
        frame = await next_odds(on_b, timeout_s=2.0)
        assert time.monotonic() - started < 2.0
        assert frame["market_id"] == market["id"]
        assert frame["selections"][0]["odds"] == "1.65"
        # what B's watcher saw is what B now prices bets at
        on_b_view = (await b.get(f"/api/v1/events/{event_id}")).json()["markets"][0]
        assert on_b_view["selections"][0]["odds"] == "1.65"
        assert (await next_odds(on_a, timeout_s=2.0))["selections"][0]["odds"] == "1.65"

        # and the other way: a change made on B reaches A's watcher
        session_b = await b.post("/api/v1/sessions", json={"email": email, "password": STRONG_PASSWORD})
        assert session_b.status_code == 201, session_b.text
        trader_b = {"Authorization": f"Bearer {session_b.json()['token']}"}
        moved = await b.patch(
            f"/api/v1/admin/markets/{market['id']}", json={"selections": [{"id": no, "odds": "2.40"}]}, headers=trader_b
        )
        assert moved.status_code == 200, moved.text
        frame = await next_odds(on_a, timeout_s=2.0)
        assert [s["odds"] for s in frame["selections"]] == ["1.65", "2.40"]

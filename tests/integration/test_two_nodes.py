"""Two API processes (`sportsbook serve`) sharing PostgreSQL and Redis: a token logged out on one is refused on
the other within a second, though each trusts a live session from its cache far longer than that."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.http.conftest import STRONG_PASSWORD, registration, unique_email

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _until_ready(client: httpx.AsyncClient, proc: asyncio.subprocess.Process) -> None:
    """Until the node answers ready and its revocation subscription is up (bounded by the caller)."""
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"the node exited with {proc.returncode}")
        try:
            ready = (await client.get("/health/ready")).status_code == 200
            metrics = (await client.get("/metrics")).text
        except httpx.TransportError:
            ready, metrics = False, ""
        if ready and "sportsbook_session_revocations_subscribed 1.0" in metrics:
            return
        await asyncio.sleep(0.1)


@pytest.fixture
async def two_nodes(postgres_url: str, redis_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    env = {
        **os.environ,
        "SPORTSBOOK_DATABASE_URL": postgres_url,
        "SPORTSBOOK_REDIS_URL": redis_url,
        # Trusted for minutes by time alone: only the revocation channel can make the other node refuse in time.
        "SPORTSBOOK_SESSION_CACHE_S": "600",
        "SPORTSBOOK_ARGON2_TIME_COST": "1",
        "SPORTSBOOK_ARGON2_MEMORY_KIB": "8",
        "SPORTSBOOK_LOG_LEVEL": "WARNING",
        "SPORTSBOOK_GC_FREEZE": "false",
        "SPORTSBOOK_DATABASE_POOL_SIZE": "2",
    }
    procs: list[asyncio.subprocess.Process] = []
    clients: list[httpx.AsyncClient] = []
    try:
        for _ in range(2):
            port = free_port()
            procs.append(
                await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "sportsbook.cli", "serve", "--port", str(port)),
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            clients.append(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10))
        async with asyncio.timeout(60):
            await asyncio.gather(*(_until_ready(c, p) for c, p in zip(clients, procs, strict=True)))
        yield clients[0], clients[1]
    finally:
        for client in clients:
            await client.aclose()
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_a_token_logged_out_on_one_node_is_refused_on_the_other_within_a_second(
    two_nodes: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    a, b = two_nodes
    email = unique_email("two-nodes")
    registered = await a.post("/api/v1/players", json=registration(email))
    assert registered.status_code == 201, registered.text
    session = await a.post("/api/v1/sessions", json={"email": email, "password": STRONG_PASSWORD})
    assert session.status_code == 201, session.text
    headers = {"Authorization": f"Bearer {session.json()['token']}"}
    for node in (a, b, b):  # B's second answer comes from its cache
        me = await node.get("/api/v1/me", headers=headers)
        assert me.status_code == 200, me.text

    assert (await a.delete("/api/v1/sessions/current", headers=headers)).status_code == 204
    assert (await a.get("/api/v1/me", headers=headers)).status_code == 401

    answers: list[int] = []
    try:
        async with asyncio.timeout(1.0):
            while True:
                answers.append((await b.get("/api/v1/me", headers=headers)).status_code)
                if answers[-1] == 401:
                    break
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"B still accepted the logged-out token after a second: {answers}")
    assert set(answers[:-1]) <= {200}

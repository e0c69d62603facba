"""Session revocations over Redis pub/sub: nodes sharing Redis stop trusting a logged-out token at once, and a
node that loses its subscription trusts nothing cached until it has subscribed again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from sportsbook.core.errors import Unauthorized
from sportsbook.players.revocation.redis import RedisRevocations
from sportsbook.players.service import Players
from sportsbook.players.store import PlayerStore, SessionRecord
from tests.http.conftest import STRONG_PASSWORD, Api, test_settings

pytestmark = [pytest.mark.redis]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float) -> None:
    """Wait until `check` holds, polling; fail naming `what` if it does not within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"{what} did not happen within {timeout_s} s")


class Nodes:
    """Two nodes' players services on one database, each with its own subscription to one Redis channel."""

    def __init__(self, api: Api, url: str, redis_url: str) -> None:
        self.name = f"sbtest-revocations-{uuid.uuid4().hex[:8]}"
        self.channels = [RedisRevocations(redis_url, channel=self.name, client_name=self.name) for _ in range(2)]
        self.a, self.b = (
            Players(api.platform.db, api.clock, api.platform.ledger, test_settings(url), revocations=channel)
            for channel in self.channels
        )

    async def start(self) -> None:
        await self.a.start()
        await self.b.start()

        async def subscribed() -> bool:
            return all(c.is_healthy() for c in self.channels)

        await eventually(subscribed, "both nodes subscribing", 10)

    async def stop(self) -> None:
        await self.a.stop()
        await self.b.stop()


@pytest.fixture
async def nodes(api: Api, sqlite_url: str, redis_url: str) -> AsyncIterator[Nodes]:
    running = Nodes(api, sqlite_url, redis_url)
    await running.start()
    yield running
    await running.stop()


async def refused(players: Players, token: str) -> bool:
    try:
        await players.authenticate(token)
    except Unauthorized:
        return True
    return False


async def test_a_token_logged_out_on_one_node_is_refused_on_the_other_within_a_second(api: Api, nodes: Nodes) -> None:
    token, _ = await nodes.a.login((await api.new_player()).email, STRONG_PASSWORD, "127.0.0.1")
    await nodes.a.authenticate(token)
    await nodes.b.authenticate(token)  # cached on B, trusted for half an hour or more by time alone
    await nodes.a.logout(token)
    assert await refused(nodes.a, token)
    await eventually(lambda: refused(nodes.b, token), "B refusing the logged-out token", 1.0)


async def test_a_node_that_loses_its_subscription_drops_its_cache_until_it_subscribes_again(
    api: Api, nodes: Nodes, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, _ = await nodes.b.login((await api.new_player()).email, STRONG_PASSWORD, "127.0.0.1")
    principal = await nodes.b.authenticate(token)
    resets = REGISTRY.get_sample_value("sportsbook_session_cache_resets_total") or 0.0
    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        # The subscriptions (their last command may be a ping), not the connections that publish.
        ours = [c["id"] for c in clients if c.get("name") == nodes.name and int(c.get("sub", 0)) > 0]
        assert ours, clients
        for client_id in ours:  # both nodes' subscriptions; nobody else's
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()

    async def lost() -> bool:
        return (REGISTRY.get_sample_value("sportsbook_session_cache_resets_total") or 0.0) >= resets + 2

    await eventually(lost, "both nodes dropping their caches", 5)
    reads = 0
    read = PlayerStore.session_by_token_hash

    async def counted(self: PlayerStore, token_hash: str) -> SessionRecord | None:
        nonlocal reads
        reads += 1
        return await read(self, token_hash)

    monkeypatch.setattr(PlayerStore, "session_by_token_hash", counted)
    assert await nodes.b.authenticate(token) == principal  # no cache: the database answers
    assert reads == 1

    async def subscribed() -> bool:
        return all(c.is_healthy() for c in nodes.channels)

    await eventually(subscribed, "both nodes subscribing again", 10)
    await nodes.b.authenticate(token)  # read and cached again
    await nodes.b.authenticate(token)
    assert reads == 2

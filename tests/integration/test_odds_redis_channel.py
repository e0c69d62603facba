"""The market channel on real Redis: what one node publishes every node hears; a malformed message is counted and
skipped; a lost subscription comes back by itself; an unreachable Redis never fails the node."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from sportsbook.catalog import model as catalog_model
from sportsbook.catalog.model import Market
from sportsbook.odds.channel import encode
from sportsbook.odds.redis import RedisMarkets
from tests.unit.catalog.test_model import fixture

pytestmark = [pytest.mark.redis]


def failures(kind: str) -> float:
    return REGISTRY.get_sample_value("sportsbook_odds_channel_failures_total", {"kind": kind}) or 0.0


async def eventually(check: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while not check():  # noqa: ASYNC110  # polling what the channel's listeners record
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"{what} did not happen within {timeout_s} s")


class Nodes:
    """Two nodes' channels on one Redis channel of the test's own, each recording what it hears."""

    def __init__(self, redis_url: str) -> None:
        self.name = f"sbtest-odds-{uuid.uuid4().hex[:8]}"
        self.a, self.b = (RedisMarkets(redis_url, channel=self.name, client_name=self.name) for _ in range(2))
        self.heard_a: list[Sequence[Market]] = []
        self.heard_b: list[Sequence[Market]] = []
        self.a.listen(self.heard_a.append)
        self.b.listen(self.heard_b.append)

    async def start(self) -> None:
        await self.a.start()
        await self.b.start()
        await eventually(lambda: self.a.is_healthy() and self.b.is_healthy(), "both subscribing")

    async def stop(self) -> None:
        await self.a.stop()
        await self.b.stop()


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[Nodes]:
    running = Nodes(redis_url)
    await running.start()
    yield running
    await running.stop()


async def test_a_commits_markets_reach_every_node_the_publisher_included(nodes: Nodes) -> None:
    event = fixture()
    market = event.markets[0]
    moved = catalog_model.change_market(event, market.id, odds={market.selections[0].id: "4.20"}).market(market.id)
    await nodes.a.publish([moved])
    await eventually(lambda: bool(nodes.heard_b) and bool(nodes.heard_a), "both hearing it")
    assert nodes.heard_b == [[moved]]
    assert nodes.heard_a == [[moved]]


async def test_a_malformed_message_is_counted_and_the_next_one_still_arrives(nodes: Nodes, redis_url: str) -> None:
    before = failures("malformed")
    admin = aioredis.Redis.from_url(redis_url)
    try:
        await admin.publish(nodes.name, b"not a message")
        await admin.publish(nodes.name, b'{"v": 99, "markets": []}')
        await admin.publish(nodes.name, encode(fixture().markets))
    finally:
        await admin.aclose()
    await eventually(lambda: len(nodes.heard_b) == 1, "the good message")
    assert failures("malformed") >= before + 4  # two bad messages, heard by each node


async def test_a_lost_subscription_comes_back_and_carries_markets_again(nodes: Nodes, redis_url: str) -> None:
    before = failures("subscribe")
    admin = aioredis.Redis.from_url(redis_url)
    try:
        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name") == nodes.name and int(c.get("sub", 0)) > 0]
        assert ours, clients
        for client_id in ours:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()
    await eventually(lambda: failures("subscribe") >= before + 2, "both nodes noticing")
    await eventually(lambda: nodes.a.is_healthy() and nodes.b.is_healthy(), "both subscribing again")
    markets = fixture().markets
    await nodes.b.publish(markets)
    await eventually(lambda: bool(nodes.heard_a), "A hearing B again")
    assert nodes.heard_a == [list(markets)]


async def test_an_unreachable_redis_never_fails_the_node() -> None:
    channel = RedisMarkets("redis://127.0.0.1:1/0", retry_s=0.05)
    heard: list[Sequence[Market]] = []
    channel.listen(heard.append)
    subscribe_failures, publish_failures = failures("subscribe"), failures("publish")
    await channel.start()
    await channel.publish(fixture().markets)  # queued; its sending fails, counted
    await eventually(lambda: failures("subscribe") > subscribe_failures, "a subscribe failure")
    await eventually(lambda: failures("publish") > publish_failures, "a publish failure")
    assert not channel.is_healthy()
    assert heard == []
    await channel.stop()

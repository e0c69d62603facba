"""The market channel's wire form and its in-process backend."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest

from sportsbook.catalog import model as catalog
from sportsbook.catalog.model import Market
from sportsbook.odds.channel import MalformedMessage, decode, encode
from sportsbook.odds.memory import MemoryMarkets
from tests.unit.catalog.test_model import fixture, race


def test_a_commits_markets_travel_as_one_message_and_arrive_equal() -> None:
    event = fixture()
    moved = catalog.change_market(event, event.markets[0].id, odds={event.markets[0].selections[0].id: "7.50"})
    markets = [*moved.markets, *race().markets]
    message = encode(markets)
    assert orjson.loads(message)["v"] == 1
    assert decode(message) == markets


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"markets": []}',
        b'{"v": 2, "markets": []}',
        b'{"v": 1}',
        b'{"v": 1, "markets": {}}',
        b'{"v": 1, "markets": [{}]}',
        b'{"v": 1, "markets": [1]}',
        b'{"v": 1, "markets": [{"market_id": "x"}]}',
    ],
)
def test_anything_else_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        decode(data)


def test_a_payload_with_a_bad_value_is_malformed() -> None:
    payload = orjson.loads(encode(fixture().markets))
    payload["markets"][0]["selections"][0]["odds"] = "two"
    with pytest.raises(MalformedMessage):
        decode(orjson.dumps(payload))


async def test_the_memory_channel_hands_a_publish_to_every_listener_and_never_raises() -> None:
    channel = MemoryMarkets()
    heard: list[Sequence[Market]] = []

    def broken(_markets: Sequence[Market]) -> None:
        raise RuntimeError("a listener's fault")

    channel.listen(broken)
    channel.listen(heard.append)
    await channel.start()
    markets = fixture().markets
    await channel.publish(markets)
    assert heard == [markets]
    assert channel.is_healthy()
    await channel.stop()

"""Pricing margins over HTTP: traders read and set them, bad ones are refused with nothing written, and the feed
prices with them from then on."""

from __future__ import annotations

from decimal import Decimal

from sportsbook.feed.model import FeedMarketStatus, MarketOdds, MarketRef, OddsChange, OutcomeOdds
from sportsbook.pricing.model import overround
from tests.http.conftest import Api
from tests.http.test_feed_ingestion import FIXTURE, MATCH, at, event_view, ingestion, market_of, prices

PRICING = "/api/v1/admin/pricing"


async def test_traders_set_margins_and_the_feed_prices_with_them(api: Api) -> None:
    trader = await api.new_staff("trader")
    shown = await api.client.get(PRICING, headers=trader.headers)
    assert shown.status_code == 200
    assert shown.json() == {"default_margin": "0.05", "min_odds": "1.01", "max_odds": "1000", "margins": []}

    body = {"default_margin": "0.04", "margins": [{"sport": "football", "market_type": "1x2", "margin": "0.10"}]}
    changed = await api.client.patch(PRICING, json=body, headers=trader.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["margins"] == [{"sport": "football", "market_type": "1x2", "margin": "0.1"}]
    assert [e.type for e in await api.published_events()][-1] == "pricing.margins_changed"

    feed = ingestion(api)
    await feed.process(FIXTURE)
    fair = (("1", "0.5"), ("2", "0.25"), ("3", "0.25"))
    await feed.process(
        OddsChange(
            producer="live",
            timestamp=at(1),
            event=MATCH,
            markets=(
                MarketOdds(
                    MarketRef(1),
                    FeedMarketStatus.ACTIVE,
                    tuple(OutcomeOdds(o, Decimal("2"), probability=Decimal(p)) for o, p in fair),
                ),
            ),
        )
    )
    await feed.flush()
    book = [Decimal(p) for p in prices(market_of(await event_view(api), "1x2")).values()]
    assert Decimal("1.10") <= overround(book) < Decimal("1.12")  # the 1x2 override, rounded down the ladder

    removed = await api.client.patch(
        PRICING, json={"margins": [{"sport": "football", "market_type": "1x2", "margin": None}]}, headers=trader.headers
    )
    assert removed.json()["margins"] == []
    assert removed.json()["default_margin"] == "0.04"


async def test_bad_margins_are_refused_and_nothing_is_written(api: Api) -> None:
    trader = await api.new_staff("trader")
    player = await api.new_player()
    for body, code in [
        ({"default_margin": "0.6"}, "invalid_margin"),
        ({"margins": [{"sport": "football", "market_type": "1x2", "margin": "0.51"}]}, "invalid_margin"),
        ({"margins": [{"sport": "Foot Ball", "market_type": "1x2", "margin": "0.1"}]}, "invalid_margin"),
        ({"margins": [{"sport": "football", "market_type": "goals", "margin": "0.1"}]}, "invalid_margin"),
        ({"default_margin": "-0.1"}, "invalid_request"),
        ({"default_margin": 0.1}, "invalid_request"),
        ({}, "invalid_request"),
    ]:
        answer = await api.client.patch(PRICING, json=body, headers=trader.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"]["code"] == code, body
    assert (await api.client.get(PRICING, headers=trader.headers)).json()["default_margin"] == "0.05"
    assert (await api.client.get(PRICING, headers=player.headers)).status_code == 403

"""Quoting a bet slip: the terms now, and the largest stake the limits and the liability room left would take.

A refusal for stake or liability also carries `max_stake` in its error body, so a slip can offer it."""

from __future__ import annotations

from typing import Any

from tests.http.conftest import Api, open_api
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _single, _wallet
from tests.http.test_catalog_api import football_body

QUOTE = "/api/v1/bets/quote"


async def _quote(api: Api, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return await api.client.post(QUOTE, json=body, headers=headers)


async def test_a_quote_prices_the_slip_and_quotes_the_max_stake_without_moving_money(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 50_000)
    over = _selection(event, "total", "over")  # 1.90, max stake 5000 on that market
    answer = await _quote(api, player.headers, _single(over, 1_000))
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert (got["lines"], got["total_stake"], got["potential_return"], got["currency"]) == (1, 1_000, 1_900, "EUR")
    assert (got["max_stake"], got["reject_code"], got["in_play_delay_s"]) == (5_000, None, 0)
    assert got["legs"][0]["odds"] == "1.90"
    assert got["min_stake"] > 0
    assert (await _wallet(api, player))["cash"] == 50_000
    assert (await api.client.get("/api/v1/bets", headers=player.headers)).json()["items"] == []


async def test_a_quote_above_the_max_stake_says_what_would_refuse_it(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    over = _selection(event, "total", "over")
    got = (await _quote(api, player.headers, _single(over, 5_001))).json()
    assert (got["reject_code"], got["max_stake"]) == ("stake_too_high", 5_000)
    low = (await _quote(api, player.headers, _single(over, 1))).json()
    assert (low["reject_code"], low["max_stake"]) == ("stake_too_low", 5_000)


async def test_the_max_stake_follows_the_liability_room_left_as_every_node_shares_it(database_url: str) -> None:
    async with open_api(database_url) as api:
        body = football_body()
        body["markets"][0]["limits"] = {"selection_liability_limit": 3_000, "market_liability_limit": 3_000}
        event = await _event(api, body)
        home = _selection(event, "1x2", "home")  # 2.50: each 1000 staked exposes 1500
        first, second = await _funded_player(api), await _funded_player(api)
        assert (await _quote(api, second.headers, _single(home, 100))).json()["max_stake"] == 2_000
        assert (await _bet(api, first, _single(home, 1_200))).status_code == 201  # exposes 1800 of 3000

        quoted = (await _quote(api, second.headers, _single(home, 1_000))).json()
        assert (quoted["max_stake"], quoted["reject_code"]) == (800, "liability_exceeded")  # 800 * 1.5 = 1200 left
        refused = await _bet(api, second, _single(home, 1_000))
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "liability_exceeded",
            "message": refused.json()["error"]["message"],
            "max_stake": 800,
        }
        assert (await _bet(api, second, _single(home, 800))).status_code == 201  # the quoted stake is struck
        assert (await _quote(api, second.headers, _single(home, 100))).json()["max_stake"] == 0


async def test_a_multiple_is_quoted_at_the_tightest_of_its_legs(api: Api) -> None:
    first, second = await _event(api), await _event(api)
    player = await _funded_player(api)
    legs = [_selection(first, "total", "over"), _selection(second, "1x2", "home")]
    body = {"type": "multiple", "stake": 100, "legs": [{"selection_id": s["id"], "odds": s["odds"]} for s in legs]}
    got = (await _quote(api, player.headers, body)).json()
    assert (got["lines"], got["potential_return"], got["max_stake"]) == (1, 475, 5_000)  # 1.90 x 2.50


async def test_a_quote_refuses_what_pricing_refuses_with_the_same_codes(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")
    stale = await _quote(api, player.headers, _single({**home, "odds": "2.40"}))
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "odds_changed")
    missing = await _quote(api, player.headers, _single({"id": "00000000-0000-0000-0000-000000000001", "odds": "2"}))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "selection_not_found")
    bad = await _quote(api, player.headers, {**_single(home), "type": "system"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_bet")
    assert (await api.client.post(QUOTE, json=_single(home))).status_code == 401


async def test_a_refusal_above_the_max_stake_carries_it(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    refused = await _bet(api, player, _single(_selection(event, "total", "over"), 5_001))
    assert (refused.status_code, refused.json()["error"]["max_stake"]) == (409, 5_000)


async def test_a_refusal_above_the_payout_cap_carries_the_stake_under_it(api: Api) -> None:
    body = football_body()
    body["markets"][0]["limits"] = {"max_payout": 10_000}
    event = await _event(api, body)
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")  # 2.50: 4000 pays out 10000
    refused = await _bet(api, player, _single(home, 4_001))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "stake_too_high")
    assert refused.json()["error"]["max_stake"] == 4_000
    assert (await _quote(api, player.headers, _single(home, 4_001))).json()["max_stake"] == 4_000
    assert (await _bet(api, player, _single(home, 4_000))).status_code == 201

"""Odds on the wire are ASCII decimal strings: a price in another script's digits (3.40 in Arabic-Indic digits,
which Python's Decimal reads as 3.40) is refused with 422 `invalid_odds` on every route that takes one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import Api
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _single, _wallet
from tests.http.test_catalog_api import ADMIN_EVENTS, _error, football_body, race_body

# 3.40 in Arabic-Indic, Devanagari and full-width digits, and in ASCII digits but for one Arabic-Indic zero
PRICES = ["\u0663.\u0664\u0660", "\u0969.\u096a\u0966", "\uff13.\uff14\uff10", "3.4\u0660"]


@pytest.mark.parametrize("odds", PRICES)
async def test_a_bet_or_a_quote_at_non_ascii_odds_is_invalid_odds_and_reserves_nothing(api: Api, odds: str) -> None:
    event = await _event(api)
    player = await _funded_player(api, 50_000)
    body = _single({**_selection(event, "1x2", "draw"), "odds": odds})  # draw is 3.40
    assert _error(await _bet(api, player, body)) == (422, "invalid_odds")
    quote = await api.client.post("/api/v1/bets/quote", json=body, headers=player.headers)
    assert _error(quote) == (422, "invalid_odds")
    assert (await _wallet(api, player))["reserved"] == 0


@pytest.mark.parametrize("odds", PRICES)
async def test_a_trader_cannot_price_a_selection_in_non_ascii_digits(api: Api, odds: str) -> None:
    trader = await api.new_staff("trader")
    body = football_body()
    body["markets"][0]["selections"][1]["odds"] = odds
    assert _error(await api.client.post(ADMIN_EVENTS, json=body, headers=trader.headers)) == (422, "invalid_odds")

    created = await api.client.post(ADMIN_EVENTS, json=football_body(), headers=trader.headers)
    assert created.status_code == 201, created.text
    event: dict[str, Any] = created.json()
    market = event["markets"][0]
    patch = {"selections": [{"id": market["selections"][1]["id"], "odds": odds}]}
    response = await api.client.patch(f"/api/v1/admin/markets/{market['id']}", json=patch, headers=trader.headers)
    assert _error(response) == (422, "invalid_odds")

    btts = {"type": "btts", "selections": [{"outcome": "yes", "odds": odds}, {"outcome": "no", "odds": "2.05"}]}
    added = await api.client.post(f"{ADMIN_EVENTS}/{event['id']}/markets", json=btts, headers=trader.headers)
    assert _error(added) == (422, "invalid_odds")

    shown = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    assert [m["type"] for m in shown["markets"]] == ["1x2", "total"]
    assert shown["markets"][0]["selections"][1]["odds"] == "3.40"


@pytest.mark.parametrize("odds", PRICES)
async def test_a_non_runner_withdrawn_at_non_ascii_odds_is_invalid_odds(api: Api, odds: str) -> None:
    trader = await api.new_staff("trader")
    race = await api.client.post(ADMIN_EVENTS, json=race_body(), headers=trader.headers)
    assert race.status_code == 201, race.text
    market = race.json()["markets"][0]
    withdrawn = await api.client.post(
        f"/api/v1/admin/markets/{market['id']}/non-runners",
        json={"selection_id": market["selections"][0]["id"], "odds_at_withdrawal": odds},
        headers=trader.headers,
    )
    assert _error(withdrawn) == (422, "invalid_odds")
    shown = (await api.client.get(f"/api/v1/events/{race.json()['id']}")).json()
    assert shown["markets"][0]["selections"][0]["status"] == "active"

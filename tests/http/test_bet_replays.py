"""A bet's Idempotency-Key replays the first answer, whatever happened to the bet or the price since; and a
pending in-play bet whose leg a bet cancel voided is not accepted after its delay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

import pytest

from tests.http.conftest import Api
from tests.http.test_bets_api import (
    BETS,
    _bet,
    _event,
    _funded_player,
    _live_over,
    _reprice,
    _selection,
    _single,
    _wallet,
)


@pytest.fixture
async def both(database_url: str, api_factory: Callable[..., AbstractAsyncContextManager[Api]]) -> AsyncIterator[Api]:
    """The app on SQLite and on PostgreSQL in turn."""
    async with api_factory(database_url) as running:
        yield running


async def test_replay_of_a_pending_bet_answers_pending_after_it_was_accepted(both: Api) -> None:
    api = both
    _market, over, _trader = await _live_over(api)
    player = await _funded_player(api)
    first = await _bet(api, player, _single(over, 1_000), key="in-play-1")
    assert (first.status_code, first.json()["status"]) == (201, "pending")
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{first.json()['id']}", headers=player.headers)).json()
    assert got["status"] == "open"
    again = await _bet(api, player, _single(over, 1_000), key="in-play-1")
    assert (again.status_code, again.json()) == (first.status_code, first.json())


async def test_replay_of_a_re_struck_bet_answers_the_odds_it_was_first_struck_at(both: Api) -> None:
    api = both
    market, over, trader = await _live_over(api)
    player = await _funded_player(api)
    first = await _bet(api, player, _single(over, 1_000, odds_change="any"), key="in-play-2")
    assert first.json()["legs"][0]["odds"] == "1.90"
    await _reprice(api, trader, market, over, "1.70")
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{first.json()['id']}", headers=player.headers)).json()
    assert (got["legs"][0]["odds"], got["potential_return"]) == ("1.70", 1_700)
    again = await _bet(api, player, _single(over, 1_000, odds_change="any"), key="in-play-2")
    assert (again.status_code, again.json()) == (first.status_code, first.json())


async def test_a_key_refused_for_its_price_stays_refused_when_the_price_moves_back(both: Api) -> None:
    api = both
    event = await _event(api)
    trader = await api.new_staff("trader")
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")  # 2.50
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    await _reprice(api, trader, market, home, "2.20")
    refused = await _bet(api, player, _single(home, 1_000), key="slip-price")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "odds_changed")
    await _reprice(api, trader, market, home, "2.50")  # back to the slip's price
    again = await _bet(api, player, _single(home, 1_000), key="slip-price")
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert (await _wallet(api, player))["reserved"] == 0
    listed = (await api.client.get(BETS, headers=player.headers)).json()
    assert listed["items"] == []
    other_body = await _bet(api, player, _single(home, 2_000), key="slip-price")
    assert (other_body.status_code, other_body.json()["error"]["code"]) == (409, "idempotency_key_reused")


async def test_a_key_refused_for_funds_stays_refused_after_a_deposit(both: Api) -> None:
    api = both
    event = await _event(api)
    player = await _funded_player(api, 500)
    home = _selection(event, "1x2", "home")
    refused = await _bet(api, player, _single(home, 1_000), key="slip-funds")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "insufficient_funds")
    payments = await api.new_staff("payments")
    funded = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": str(player.id), "amount": 10_000, "reason": "top up"},
        headers={**payments.headers, "Idempotency-Key": f"top-up-{player.id}"},
    )
    assert funded.status_code == 201
    again = await _bet(api, player, _single(home, 1_000), key="slip-funds")
    assert (again.status_code, again.json()) == (refused.status_code, refused.json())
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 10_500,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 10_500,
    }
    fresh = await _bet(api, player, _single(home, 1_000), key="slip-funds-2")
    assert fresh.status_code == 201


async def test_pending_bet_whose_leg_a_bet_cancel_voided_is_refused_after_its_delay(both: Api) -> None:
    api = both
    market, over, trader = await _live_over(api)
    player = await _funded_player(api)
    placed = await _bet(api, player, _single(over, 1_000))
    assert placed.json()["status"] == "pending"
    start = api.clock.now() - timedelta(seconds=1)
    cancel: dict[str, Any] = {"start": start.isoformat(), "end": (start + timedelta(seconds=2)).isoformat()}
    cancelled = await api.staff(trader, "POST", f"/api/v1/admin/markets/{market['id']}/bet-cancellations", cancel)
    assert cancelled.status_code < 300, cancelled.text
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["reject_code"]) == ("rejected", "odds_changed")
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (100_000, 0)
    assert (await api.platform.ledger.reconcile()).sound

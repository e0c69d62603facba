"""A rolled-back settlement leaves the wallet exactly as it was before the settlement (the stake reserved again,
the return taken back), whatever the bet's outcome was, and settling again moves the money as the first
settlement did. On SQLite and PostgreSQL, with the ledger reconciled after every step."""

from __future__ import annotations

from typing import Any

import pytest

from sportsbook.ledger.model import HOUSE, AccountKind
from sportsbook.ledger.store import AccountKey
from tests.http.conftest import Account, Api, open_api
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _single, _wallet
from tests.http.test_settlement_api import _bet_status, _reconciled, _settle, _trader

# How the home single (1,000 at 2.50) is resulted, and the return it settles with: more than the stake, nothing,
# the stake, between the two, and a dead heat paying back less than the stake (the stake's hold posted in part).
OUTCOMES: dict[str, tuple[dict[str, Any], str, int]] = {
    "won": ({"result": "won"}, "won", 2_500),
    "lost": ({"result": "lost"}, "lost", 0),
    "void": ({"result": "void"}, "void", 1_000),
    "half_won": ({"result": "won", "void_factor": "0.5"}, "half_won", 1_750),
    "half_lost": ({"result": "lost", "void_factor": "0.5"}, "half_lost", 500),
    "dead_heat": ({"result": "won", "dead_heat_factor": "0.25"}, "won", 625),
}


async def _roll_back(api: Api, market_id: str) -> Any:
    trader = await _trader(api)
    answer = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market_id}/settlement")
    assert answer.status_code == 202, answer.text
    return answer.report


async def _reserved_stakes(api: Api, player: Account) -> int:
    listed = (await api.client.get("/api/v1/bets?status=open", headers=player.headers)).json()["items"]
    return sum(int(b["total_stake"]) for b in listed)


@pytest.mark.parametrize("outcome", list(OUTCOMES))
async def test_a_rollback_leaves_the_wallet_as_it_was_before_the_settlement(database_url: str, outcome: str) -> None:
    result, status, paid = OUTCOMES[outcome]
    async with open_api(database_url) as api:
        event = await _event(api)
        player = await _funded_player(api, 10_000)
        market = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
        home = _selection(event, "1x2", "home")
        bet = (await _bet(api, player, _single(home, 1_000))).json()["id"]
        before = await _wallet(api, player)
        assert (before["cash"], before["reserved"]) == (9_000, 1_000)

        await _settle(api, market, [{"selection_id": home["id"], **result}])
        assert await _bet_status(api, player, bet) == (status, paid)
        settled_once = await _wallet(api, player)
        assert (settled_once["cash"], settled_once["reserved"]) == (9_000 + paid, 0)
        await _reconciled(api)

        assert (await _roll_back(api, market))["reopened_bets"] == 1
        assert await _bet_status(api, player, bet) == ("open", None)
        assert await _wallet(api, player) == before
        assert await _reserved_stakes(api, player) == before["reserved"]
        await _reconciled(api)

        # settled again, it moves the money as the first settlement did; rolled back again, as the first rollback
        await _settle(api, market, [{"selection_id": home["id"], **result}])
        assert await _bet_status(api, player, bet) == (status, paid)
        assert await _wallet(api, player) == settled_once
        await _reconciled(api)
        await _roll_back(api, market)
        assert await _wallet(api, player) == before
        await _reconciled(api)


async def test_a_rollback_resettled_another_way_pays_as_if_settled_that_way_first(database_url: str) -> None:
    async with open_api(database_url) as api:
        event = await _event(api)
        player = await _funded_player(api, 10_000)
        market = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
        home, away = _selection(event, "1x2", "home"), _selection(event, "1x2", "away")
        bets = [(await _bet(api, player, _single(s, 1_000))).json()["id"] for s in (home, away)]
        await _settle(api, market, [{"selection_id": home["id"], "result": "won"}])
        assert (await _wallet(api, player))["cash"] == 8_000 + 2_500
        await _roll_back(api, market)
        assert (await _wallet(api, player))["reserved"] == 2_000
        await _settle(api, market, [{"selection_id": away["id"], "result": "won"}])
        assert [await _bet_status(api, player, b) for b in bets] == [("lost", 0), ("won", 1_500)]
        assert await _wallet(api, player) == {
            "currency": "EUR",
            "cash": 8_000 + 1_500,
            "bonus": 0,
            "reserved": 0,
            "withdrawable": 8_000 + 1_500,
        }
        await _reconciled(api)


async def test_a_rollback_after_the_return_was_spent_still_reserves_the_stake(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 1_000)
    market = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
    home = _selection(event, "1x2", "home")
    bet = (await _bet(api, player, _single(home, 1_000))).json()["id"]
    await _settle(api, market, [{"selection_id": home["id"], "result": "void"}])  # the stake back in cash
    payments = await api.new_staff("payments")
    spent = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": str(player.id), "amount": -600, "reason": "withdrawn"},
        headers={**payments.headers, "Idempotency-Key": "spend"},
    )
    assert spent.status_code == 201, spent.text
    await _roll_back(api, market)
    # the stake is reserved again; of the 1,000 returned, 400 is taken back from cash and 600 is owed
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (0, 1_000)
    assert await _owed(api, player) == 600
    await _settle(api, market, [{"selection_id": home["id"], "result": "won"}])
    assert await _bet_status(api, player, bet) == ("won", 2_500)
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (2_500, 0)
    assert await _owed(api, player) == 600
    await _reconciled(api)


async def _owed(api: Api, player: Account) -> int:
    """What the player owes the house (the house's receivable on them is negative by that much)."""
    ledger = api.platform.ledger
    account = await ledger.account(AccountKey(HOUSE, AccountKind.RECEIVABLE, "EUR", str(player.id)))
    return -(await ledger.balances([account])).get(account, 0)

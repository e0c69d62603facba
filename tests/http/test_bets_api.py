"""Bet placement over HTTP: every bet type, every refusal code, replays, the in-play delay, money reserved."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest

from tests.http.conftest import Account, Api, open_api
from tests.http.test_catalog_api import football_body, race_body

BETS = "/api/v1/bets"
_keys = iter(range(10**9))


async def _event(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    trader = await api.new_staff("trader")
    response = await api.client.post("/api/v1/admin/events", json=body or football_body(), headers=trader.headers)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


def _selection(event: dict[str, Any], market_type: str, outcome: str) -> dict[str, Any]:
    market = next(m for m in event["markets"] if m["type"] == market_type)
    selection: dict[str, Any] = next(s for s in market["selections"] if s["outcome"] == outcome)
    return selection


async def _funded_player(api: Api, amount: int = 100_000) -> Account:
    player = await api.new_player()
    await _fund(api, player, await api.new_staff("payments"), amount)
    return player


async def _fund(api: Api, player: Account, payments: Account, amount: int = 100_000) -> None:
    """Credit the player's cash by a staff adjustment of the payments member of staff `payments`."""
    response = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": str(player.id), "amount": amount, "reason": "test funds"},
        headers={**payments.headers, "Idempotency-Key": f"fund-{player.id}"},
    )
    assert response.status_code == 201


async def _bet(api: Api, player: Account, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**player.headers, "Idempotency-Key": key or f"bet-{next(_keys)}"}
    return await api.client.post(BETS, json=body, headers=headers)


def _single(selection: dict[str, Any], stake: int = 1_000, **extra: Any) -> dict[str, Any]:
    return {
        "type": "single",
        "legs": [{"selection_id": selection["id"], "odds": selection["odds"]}],
        "stake": stake,
        **extra,
    }


async def _wallet(api: Api, player: Account) -> dict[str, Any]:
    wallet: dict[str, Any] = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    return wallet


async def test_single_is_accepted_and_its_stake_reserved(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")
    response = await _bet(api, player, _single(home, 1_000))
    assert response.status_code == 201, response.text
    bet = response.json()
    assert (bet["status"], bet["lines"], bet["total_stake"], bet["potential_return"]) == ("accepted", 1, 1_000, 2_500)
    assert bet["legs"][0]["odds"] == "2.50"
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (99_000, 1_000)
    got = (await api.client.get(f"{BETS}/{bet['id']}", headers=player.headers)).json()
    assert (got["status"], got["return"], got["stake"]) == ("open", None, 1_000)
    assert (await api.platform.ledger.reconcile()).sound


async def test_multiple_and_system_bets_count_their_lines(api: Api) -> None:
    events = [await _event(api, football_body(name=f"Team {i} v Team {i + 10}")) for i in range(4)]
    homes = [_selection(e, "1x2", "home") for e in events]
    player = await _funded_player(api)
    legs = [{"selection_id": s["id"], "odds": s["odds"]} for s in homes]
    double = await _bet(api, player, {"type": "multiple", "legs": legs[:2], "stake": 100})
    assert double.status_code == 201, double.text
    assert (double.json()["lines"], double.json()["potential_return"]) == (1, 625)  # 100 x 2.5 x 2.5
    yankee = await _bet(api, player, {"type": "system", "system": "yankee", "legs": legs, "stake": 100})
    assert (yankee.status_code, yankee.json()["lines"], yankee.json()["total_stake"]) == (201, 11, 1_100)
    two_of_four = await _bet(api, player, {"type": "system", "system": "2/4", "legs": legs, "stake": 100})
    assert two_of_four.json()["lines"] == 6
    singles = await _bet(api, player, {"type": "single", "legs": legs[:3], "stake": 100})
    assert (singles.json()["lines"], singles.json()["total_stake"]) == (3, 300)


async def test_each_way_doubles_the_lines_at_the_place_terms(api: Api) -> None:
    race = await _event(api, race_body())
    runner = race["markets"][0]["selections"][0]  # 3.00, each way 1/4 for 2 places
    player = await _funded_player(api)
    response = await _bet(api, player, _single(runner, 1_000, each_way=True))
    assert response.status_code == 201, response.text
    # win line 1000 x 3.00 + place line 1000 x (1 + 2.00/4)
    assert (response.json()["lines"], response.json()["total_stake"], response.json()["potential_return"]) == (
        2,
        2_000,
        4_500,
    )


async def test_replay_returns_the_same_bet_and_reserves_once(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    body = _single(_selection(event, "1x2", "draw"), 500)
    answers = await asyncio.gather(*(_bet(api, player, body, key="slip-1") for _ in range(5)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await _wallet(api, player))["reserved"] == 500
    reused = await _bet(api, player, _single(_selection(event, "1x2", "draw"), 600), key="slip-1")
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")


async def test_odds_change_policies(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")  # 2.50 now
    stale_low = {**home, "odds": "2.40"}
    stale_high = {**home, "odds": "2.60"}
    refused = await _bet(api, player, _single(stale_low))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "odds_changed")
    higher = await _bet(api, player, _single(stale_low, odds_change="higher"))
    assert (higher.status_code, higher.json()["legs"][0]["odds"]) == (201, "2.50")
    shortened = await _bet(api, player, _single(stale_high, odds_change="higher"))
    assert shortened.json()["error"]["code"] == "odds_changed"
    anything = await _bet(api, player, _single(stale_high, odds_change="any"))
    assert (anything.status_code, anything.json()["legs"][0]["odds"]) == (201, "2.50")


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("insufficient_funds", 409, "insufficient_funds"),
        ("stake_too_low", 422, "stake_too_low"),
        ("stake_too_high", 409, "stake_too_high"),
        ("related_legs", 422, "related_legs"),
        ("unknown_selection", 404, "selection_not_found"),
        ("market_suspended", 409, "market_suspended"),
        ("selection_closed", 409, "selection_closed"),
        ("bad_system", 422, "invalid_bet"),
        ("system_without_name", 422, "invalid_bet"),
        ("bad_odds", 422, "invalid_odds"),
        ("each_way_not_offered", 422, "each_way_not_offered"),
        ("float_stake", 422, "invalid_request"),
    ],
)
async def test_refusals_have_stable_codes_and_move_no_money(api: Api, case: str, status: int, code: str) -> None:
    event = await _event(api)
    player = await _funded_player(api, 50_000)
    trader = await api.new_staff("trader")
    home, draw = _selection(event, "1x2", "home"), _selection(event, "1x2", "draw")
    body = _single(home)
    if case == "insufficient_funds":
        body = _single(home, 60_000)
    elif case == "stake_too_low":
        body = _single(home, 5)
    elif case == "stake_too_high":
        body = _single(_selection(event, "total", "over"), 5_001)  # that market's max stake is 5000
    elif case == "related_legs":
        body = {
            "type": "multiple",
            "stake": 100,
            "legs": [{"selection_id": home["id"], "odds": "2.50"}, {"selection_id": draw["id"], "odds": "3.40"}],
        }
    elif case == "unknown_selection":
        body = _single({"id": "00000000-0000-0000-0000-000000000001", "odds": "2.00"})
    elif case == "market_suspended":
        market = next(m for m in event["markets"] if m["type"] == "1x2")
        r = await api.client.patch(
            f"/api/v1/admin/markets/{market['id']}", json={"status": "suspended"}, headers=trader.headers
        )
        assert r.status_code == 200, r.text
    elif case == "selection_closed":
        r = await api.client.patch(
            f"/api/v1/admin/events/{event['id']}", json={"status": "cancelled"}, headers=trader.headers
        )
        assert r.status_code == 200, r.text
    elif case == "bad_system":
        body = {"type": "system", "system": "yankee", "stake": 100, "legs": body["legs"]}
    elif case == "system_without_name":
        body = {**body, "type": "system"}
    elif case == "bad_odds":
        body = _single({**home, "odds": "abc"})
    elif case == "each_way_not_offered":
        body = _single(home, each_way=True)
    elif case == "float_stake":
        body = _single(home, 10.5)  # type: ignore[arg-type]
    response = await _bet(api, player, body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 50_000,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 50_000,
    }


async def test_liability_limit_refuses_and_quotes_nothing_above_it(api: Api) -> None:
    body = football_body()
    body["markets"][0]["limits"] = {"selection_liability_limit": 3_000, "market_liability_limit": 3_000}
    event = await _event(api, body)
    home = _selection(event, "1x2", "home")  # 2.50: each 1000 staked exposes 1500
    first, second = await _funded_player(api), await _funded_player(api)
    assert (await _bet(api, first, _single(home, 1_000))).status_code == 201
    assert (await _bet(api, second, _single(home, 1_000))).status_code == 201
    refused = await _bet(api, second, _single(home, 10))
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "liability_exceeded")


async def test_staff_cannot_bet_and_anonymous_is_unauthorized(api: Api) -> None:
    event = await _event(api)
    staff = await api.new_staff("admin")
    body = _single(_selection(event, "1x2", "home"))
    response = await api.client.post(BETS, json=body, headers={**staff.headers, "Idempotency-Key": "k"})
    assert response.status_code == 403
    assert (await api.client.post(BETS, json=body, headers={"Idempotency-Key": "k"})).status_code == 401
    player = await _funded_player(api)
    missing_key = await api.client.post(BETS, json=body, headers=player.headers)
    assert missing_key.json()["error"]["code"] == "idempotency_key_required"


async def test_in_play_bet_waits_out_its_delay_then_is_accepted(api: Api) -> None:
    event = await _event(api)
    trader = await api.new_staff("trader")
    await api.client.patch(f"/api/v1/admin/events/{event['id']}", json={"status": "live"}, headers=trader.headers)
    player = await _funded_player(api)
    over = _selection(event, "total", "over")  # in-play delay 6 s
    pre_match_only = await _bet(api, player, _single(_selection(event, "1x2", "home")))
    assert pre_match_only.json()["error"]["code"] == "market_suspended"
    placed = await _bet(api, player, _single(over, 1_000))
    assert (placed.status_code, placed.json()["status"]) == (201, "pending")
    assert await api.platform.betting.accept_due() == 0  # the delay is still running
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert got["status"] == "open"
    assert (await _wallet(api, player))["reserved"] == 1_000


async def test_in_play_bet_is_refused_if_the_price_shortens_during_the_delay(api: Api) -> None:
    event = await _event(api)
    trader = await api.new_staff("trader")
    await api.client.patch(f"/api/v1/admin/events/{event['id']}", json={"status": "live"}, headers=trader.headers)
    player = await _funded_player(api)
    over = _selection(event, "total", "over")
    placed = await _bet(api, player, _single(over, 1_000))
    market = next(m for m in event["markets"] if m["type"] == "total")
    shorter = {"selections": [{"id": over["id"], "odds": "1.70"}]}
    moved = await api.client.patch(f"/api/v1/admin/markets/{market['id']}", json=shorter, headers=trader.headers)
    assert moved.status_code == 200, moved.text
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["reject_code"]) == ("rejected", "odds_changed")
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 100_000,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 100_000,
    }
    assert (await api.platform.ledger.reconcile()).sound


async def _live_over(api: Api, limits: dict[str, int] | None = None) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """A live event's in-play `total` market (delay 6 s): the market, its `over` selection and a trader."""
    body = football_body()
    if limits:
        next(m for m in body["markets"] if m["type"] == "total")["limits"] = limits
    event = await _event(api, body)
    trader = await api.new_staff("trader")
    await api.client.patch(f"/api/v1/admin/events/{event['id']}", json={"status": "live"}, headers=trader.headers)
    market = next(m for m in event["markets"] if m["type"] == "total")
    return market, _selection(event, "total", "over"), trader


async def _reprice(api: Api, trader: Account, market: dict[str, Any], selection: dict[str, Any], odds: str) -> None:
    moved = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}",
        json={"selections": [{"id": selection["id"], "odds": odds}]},
        headers=trader.headers,
    )
    assert moved.status_code == 200, moved.text


@pytest.mark.parametrize(
    ("policy", "new_odds", "status", "struck", "potential_return"),
    [
        ("any", "1.70", "open", "1.70", 1_700),  # shortened: re-struck at the current price
        ("any", "2.10", "open", "2.10", 2_100),
        ("higher", "2.10", "open", "2.10", 2_100),  # lengthened: the player gets the better price
        ("higher", "1.70", "rejected", "1.90", 1_900),
        ("none", "2.10", "rejected", "1.90", 1_900),  # no change accepted, either way
    ],
)
async def test_in_play_bet_is_re_checked_under_its_odds_change_policy(
    api: Api, policy: str, new_odds: str, status: str, struck: str, potential_return: int
) -> None:
    market, over, trader = await _live_over(api)
    player = await _funded_player(api)
    placed = await _bet(api, player, _single(over, 1_000, odds_change=policy))
    assert placed.json()["status"] == "pending"
    await _reprice(api, trader, market, over, new_odds)
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["legs"][0]["odds"], got["potential_return"]) == (status, struck, potential_return)
    if status == "rejected":
        assert got["reject_code"] == "odds_changed"
    exposure = await api.platform.betting.exposures([UUID(market["id"])])
    assert exposure.get(UUID(over["id"]), 0) == (potential_return - 1_000 if status == "open" else 0)
    assert (await _wallet(api, player))["reserved"] == (1_000 if status == "open" else 0)
    assert (await api.platform.ledger.reconcile()).sound


async def test_in_play_re_strike_that_breaks_the_liability_limit_is_refused(api: Api) -> None:
    market, over, trader = await _live_over(api, {"selection_liability_limit": 1_000, "market_liability_limit": 1_000})
    player = await _funded_player(api)
    placed = await _bet(api, player, _single(over, 1_000, odds_change="any"))  # 1.90: exposes 900
    await _reprice(api, trader, market, over, "2.50")  # would expose 1,500
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["reject_code"]) == ("rejected", "liability_exceeded")
    assert await api.platform.betting.exposures([UUID(market["id"])]) == {UUID(over["id"]): 0}
    assert (await _wallet(api, player))["reserved"] == 0
    assert (await api.platform.ledger.reconcile()).sound


async def test_in_play_bet_is_refused_if_the_market_is_suspended_during_the_delay(api: Api) -> None:
    market, over, trader = await _live_over(api)
    player = await _funded_player(api)
    placed = await _bet(api, player, _single(over, 1_000))
    suspended = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}", json={"status": "suspended"}, headers=trader.headers
    )
    assert suspended.status_code == 200
    api.clock.advance(6)
    assert await api.platform.betting.accept_due() == 1
    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["reject_code"]) == ("rejected", "market_suspended")


@pytest.mark.postgres
async def test_concurrent_acceptors_re_strike_a_bet_once_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        market, over, trader = await _live_over(api)
        player = await _funded_player(api)
        placed = await _bet(api, player, _single(over, 1_000, odds_change="any"))
        await _reprice(api, trader, market, over, "2.40")
        api.clock.advance(6)
        await asyncio.gather(*(api.platform.betting.accept_due() for _ in range(4)))
        got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
        assert (got["status"], got["potential_return"]) == ("open", 2_400)
        assert await api.platform.betting.exposures([UUID(market["id"])]) == {UUID(over["id"]): 1_400}
        assert (await api.platform.ledger.reconcile()).sound


async def test_bet_history_pages_and_filters(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    for outcome in ("home", "draw", "away"):  # placed at the same instant: paging must not lose any
        assert (await _bet(api, player, _single(_selection(event, "1x2", outcome), 100))).status_code == 201
    page = (await api.client.get(f"{BETS}?status=open&limit=2", headers=player.headers)).json()
    assert len(page["items"]) == 2
    rest = (await api.client.get(f"{BETS}?status=open&cursor={page['next_cursor']}", headers=player.headers)).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    assert len({b["id"] for b in page["items"] + rest["items"]}) == 3
    assert (await api.client.get(f"{BETS}?status=settled", headers=player.headers)).json()["items"] == []
    other = await api.new_player()
    bet_id = page["items"][0]["id"]
    assert (await api.client.get(f"{BETS}/{bet_id}", headers=other.headers)).json()["error"]["code"] == "bet_not_found"


@pytest.mark.postgres
async def test_placement_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        event = await _event(api)
        player = await _funded_player(api)
        bodies = [_single(_selection(event, "1x2", "home"), 100) for _ in range(20)]
        answers = await asyncio.gather(*(_bet(api, player, b) for b in bodies))
        assert {a.status_code for a in answers} == {201}
        assert (await _wallet(api, player))["reserved"] == 2_000
        assert (await api.platform.ledger.reconcile()).sound


@pytest.mark.parametrize("cursor", ["abc", "123", "123.nothex", ".", "1" * 19 + ".00"])
async def test_a_cursor_this_api_did_not_give_out_is_invalid_cursor(api: Api, cursor: str) -> None:
    player = await api.new_player()
    response = await api.client.get(f"{BETS}?cursor={cursor}", headers=player.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_cursor")

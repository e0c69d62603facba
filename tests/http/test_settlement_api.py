"""Settlement over HTTP, with the money checked in the wallet and the ledger reconciled after every story."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from sportsbook.db.unit_of_work import unit_of_work
from tests.http.conftest import Account, Api, open_api
from tests.http.test_bets_api import _bet, _event, _funded_player, _live_over, _selection, _single, _wallet
from tests.http.test_catalog_api import football_body


async def _trader(api: Api) -> Account:
    return await api.new_staff("trader")


async def _settle(api: Api, market_id: str, outcomes: list[dict[str, Any]]) -> Any:
    trader = await _trader(api)
    return await api.staff(trader, "POST", f"/api/v1/admin/markets/{market_id}/settlement", {"outcomes": outcomes})


async def _bet_status(api: Api, player: Account, bet_id: str) -> tuple[str, int | None]:
    got = (await api.client.get(f"/api/v1/bets/{bet_id}", headers=player.headers)).json()
    return got["status"], got["return"]


def _race(odds: list[str], each_way: dict[str, Any] | None = None) -> dict[str, Any]:
    runners = [f"Runner {i}" for i in range(len(odds))]
    return {
        "sport": "horse_racing",
        "name": "2:30 Ascot",
        "start_time": "2026-01-01T15:15:00Z",
        "runners": runners,
        "markets": [
            {
                "type": "winner",
                **({"each_way": each_way} if each_way else {}),
                "selections": [{"outcome": r, "odds": o} for r, o in zip(runners, odds, strict=True)],
            }
        ],
    }


async def _reconciled(api: Api) -> None:
    report = await api.platform.ledger.reconcile()
    assert report.sound, report.faults


async def test_result_from_score_pays_winners_and_keeps_losing_stakes(api: Api) -> None:
    event = await _event(api)
    punter, other = await _funded_player(api, 10_000), await _funded_player(api, 10_000)
    home = await _bet(api, punter, _single(_selection(event, "1x2", "home"), 1_000))  # 2.50
    away = await _bet(api, other, _single(_selection(event, "1x2", "away"), 1_000))  # 1.50
    over = await _bet(api, other, _single(_selection(event, "total", "over"), 500))  # 1.90, total 2.5
    trader = await _trader(api)
    response = await api.staff(
        trader, "POST", f"/api/v1/admin/events/{event['id']}/result", {"score": {"home": 2, "away": 1}}
    )
    assert response.status_code == 202, response.text
    assert response.response.headers.get("Location") is None  # one job per market: the items say where
    assert sorted(r["settled_bets"] for r in response.reports) == [1, 2]
    assert await _bet_status(api, punter, home.json()["id"]) == ("won", 2_500)
    legs = (await api.client.get(f"/api/v1/bets/{home.json()['id']}", headers=punter.headers)).json()["legs"]
    assert [leg["result"] for leg in legs] == ["won"]
    assert await _bet_status(api, other, away.json()["id"]) == ("lost", 0)
    assert await _bet_status(api, other, over.json()["id"]) == ("won", 950)
    assert (await _wallet(api, punter))["cash"] == 10_000 - 1_000 + 2_500
    assert await _wallet(api, other) == {
        "currency": "EUR",
        "cash": 10_000 - 1_500 + 950,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 10_000 - 1_500 + 950,
    }
    again = await api.staff(
        trader, "POST", f"/api/v1/admin/markets/{event['markets'][0]['id']}/settlement", {"outcomes": []}
    )
    assert again.json()["error"]["code"] == "market_already_settled"
    await _reconciled(api)


async def test_a_different_score_for_a_resulted_event_is_refused_until_its_settlements_are_rolled_back(
    api: Api,
) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    bet = (await _bet(api, player, _single(_selection(event, "1x2", "home"), 1_000))).json()["id"]  # 2.50
    trader = await _trader(api)
    path = f"/api/v1/admin/events/{event['id']}/result"

    async def result(home: int, away: int) -> Any:
        return await api.staff(trader, "POST", path, {"score": {"home": home, "away": away}})

    assert (await result(2, 1)).status_code == 202
    again = await result(2, 1)  # the same score again: nothing left to settle, harmless
    assert (again.status_code, again.json()["items"]) == (202, [])
    other = await result(0, 1)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "event_already_resulted")
    assert "roll" in other.json()["error"]["message"]
    assert await _bet_status(api, player, bet) == ("won", 2_500)
    assert (await _wallet(api, player))["cash"] == 11_500
    shown = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    assert shown["score"] == {"home": 2, "away": 1}

    markets = {m["type"]: m["id"] for m in event["markets"]}
    await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{markets['1x2']}/settlement")
    still = await result(0, 1)  # the total market still stands on 2-1
    assert (still.status_code, still.json()["error"]["code"]) == (409, "event_already_resulted")
    resettled = await result(2, 1)  # the same score settles the market rolled back
    assert [r["market_id"] for r in resettled.jobs] == [markets["1x2"]]
    assert await _bet_status(api, player, bet) == ("won", 2_500)

    for market_id in markets.values():
        await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market_id}/settlement")
    corrected = await result(0, 1)
    assert corrected.status_code == 202, corrected.text
    assert sorted(r["market_id"] for r in corrected.jobs) == sorted(markets.values())
    assert await _bet_status(api, player, bet) == ("lost", 0)
    assert (await _wallet(api, player))["cash"] == 9_000
    shown = (await api.client.get(f"/api/v1/events/{event['id']}")).json()
    assert shown["score"] == {"home": 0, "away": 1}
    await _reconciled(api)


async def test_asian_handicap_quarter_line_half_won_returns_146_50(api: Api) -> None:
    # Source: Pinnacle, "Asian Handicap explained" (+0.25: a draw is half won, half returned); the figure.
    body = football_body()
    body["markets"] = [
        {
            "type": "asian_handicap",
            "specifiers": {"hcp": "0.25"},
            "selections": [{"outcome": "home", "odds": "1.93"}, {"outcome": "away", "odds": "1.93"}],
        }
    ]
    event = await _event(api, body)
    player = await _funded_player(api, 20_000)
    bet = await _bet(api, player, _single(_selection(event, "asian_handicap", "home"), 10_000))
    trader = await _trader(api)
    await api.staff(trader, "POST", f"/api/v1/admin/events/{event['id']}/result", {"score": {"home": 0, "away": 0}})
    assert await _bet_status(api, player, bet.json()["id"]) == ("half_won", 14_650)
    assert (await _wallet(api, player))["cash"] == 20_000 - 10_000 + 14_650
    await _reconciled(api)


async def test_dead_heat_two_way_tie_returns_55(api: Api) -> None:
    # Source: Betfair, "Dead heat rules": £10 at 11.0, two-way tie -> £55.
    race = await _event(api, _race(["11.00", "4.00", "6.00"]))
    market = race["markets"][0]
    player = await _funded_player(api, 5_000)
    bet = await _bet(api, player, _single(market["selections"][0], 1_000))
    response = await _settle(
        api,
        market["id"],
        [
            {"selection_id": market["selections"][0]["id"], "result": "won", "dead_heat_factor": "0.5"},
            {"selection_id": market["selections"][1]["id"], "result": "won", "dead_heat_factor": "0.5"},
        ],
    )
    assert response.status_code == 202, response.text
    assert await _bet_status(api, player, bet.json()["id"]) == ("won", 5_500)
    await _reconciled(api)


async def test_rule4_deduction_from_a_non_runner_applies_to_bets_struck_before(api: Api) -> None:
    race = await _event(api, _race(["2.25", "1.25", "8.00"]))
    market = race["markets"][0]
    before, after = await _funded_player(api, 5_000), await _funded_player(api, 5_000)
    early = await _bet(api, before, _single(market["selections"][0], 1_000))
    api.clock.advance(60)
    trader = await _trader(api)
    withdrawn = await api.client.post(
        f"/api/v1/admin/markets/{market['id']}/non-runners",
        json={"selection_id": market["selections"][1]["id"], "odds_at_withdrawal": "1.25"},
        headers=trader.headers,
    )
    assert withdrawn.status_code == 201, withdrawn.text
    assert withdrawn.json()["rule4_deduction"] == "0.80"  # Tattersalls Rule 4(c): 1/4 (1.25) is in the 80p band
    api.clock.advance(60)
    late = await _bet(api, after, _single(market["selections"][0], 1_000))
    nr_bet = await _bet(api, after, _single(market["selections"][1], 1_000))
    assert nr_bet.json()["error"]["code"] == "selection_closed"
    settled = await _settle(api, market["id"], [{"selection_id": market["selections"][0]["id"], "result": "won"}])
    assert settled.status_code == 202, settled.text
    # winnings 1.25 x 1000 = 1250, less 80p in the pound -> 250; return 1250
    assert await _bet_status(api, before, early.json()["id"]) == ("won", 1_250)
    assert await _bet_status(api, after, late.json()["id"]) == ("won", 2_250)
    await _reconciled(api)


async def test_each_way_placed_runner_loses_the_win_line_and_wins_the_place_line(api: Api) -> None:
    # £5 each way at 11.0, 1/5 odds 3 places, placed: place line 5 x (1 + 10/5) = £15, win line lost.
    race = await _event(api, _race(["11.00", "3.00", "4.00", "5.00"], {"fraction": "1/5", "places": 3}))
    market = race["markets"][0]
    player = await _funded_player(api, 5_000)
    bet = await _bet(api, player, _single(market["selections"][0], 500, each_way=True))
    await _settle(
        api,
        market["id"],
        [
            {"selection_id": market["selections"][1]["id"], "result": "won"},
            {"selection_id": market["selections"][0]["id"], "result": "placed"},
        ],
    )
    status, paid = await _bet_status(api, player, bet.json()["id"])
    assert paid == 1_500
    assert status == "won"
    await _reconciled(api)


async def test_void_leg_counts_at_one_in_an_accumulator(api: Api) -> None:
    first, second = await _event(api), await _event(api, football_body(name="Spurs v Everton"))
    player = await _funded_player(api, 5_000)
    legs = [{"selection_id": _selection(e, "1x2", "home")["id"], "odds": "2.50"} for e in (first, second)]
    double = await _bet(api, player, {"type": "multiple", "legs": legs, "stake": 1_000})
    assert double.status_code == 201
    trader = await _trader(api)
    cancelled = await api.client.patch(
        f"/api/v1/admin/markets/{first['markets'][0]['id']}", json={"status": "suspended"}, headers=trader.headers
    )
    assert cancelled.status_code == 200
    await _settle(api, first["markets"][0]["id"], [{"selection_id": legs[0]["selection_id"], "result": "void"}])
    assert (await _bet_status(api, player, double.json()["id"]))[0] == "open"  # the other leg is still running
    legs = (await api.client.get(f"/api/v1/bets/{double.json()['id']}", headers=player.headers)).json()["legs"]
    assert [leg["result"] for leg in legs] == ["void", None]
    await _settle(api, second["markets"][0]["id"], [{"selection_id": legs[1]["selection_id"], "result": "won"}])
    assert await _bet_status(api, player, double.json()["id"]) == ("won", 2_500)
    await _reconciled(api)


async def test_rollback_reopens_bets_takes_winnings_back_and_resettles(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    home = _selection(event, "1x2", "home")
    bet = await _bet(api, player, _single(home, 1_000))
    await _settle(api, market["id"], [{"selection_id": home["id"], "result": "won"}])
    assert (await _wallet(api, player))["cash"] == 11_500
    trader = await _trader(api)
    undone = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market['id']}/settlement")
    assert (undone.status_code, undone.report["reopened_bets"]) == (202, 1)
    assert await _bet_status(api, player, bet.json()["id"]) == ("open", None)
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (9_000, 1_000)  # the stake reserved again, the return reversed
    away = _selection(event, "1x2", "away")
    await _settle(api, market["id"], [{"selection_id": away["id"], "result": "won"}])
    assert await _bet_status(api, player, bet.json()["id"]) == ("lost", 0)
    assert (await _wallet(api, player))["cash"] == 9_000
    undone = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market['id']}/settlement")
    await _settle(api, market["id"], [{"selection_id": home["id"], "result": "void"}])
    assert await _bet_status(api, player, bet.json()["id"]) == ("void", 1_000)
    assert (await _wallet(api, player))["cash"] == 10_000
    none_left = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market['id']}/settlement")
    assert (none_left.status_code, none_left.report["reopened_bets"]) == (202, 1)  # the void bet reopens
    missing = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market['id']}/settlement")
    assert missing.json()["error"]["code"] == "settlement_not_found"
    await _reconciled(api)


async def test_rollback_after_the_winnings_were_spent_books_a_receivable(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 1_000)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    home = _selection(event, "1x2", "home")
    await _bet(api, player, _single(home, 1_000))
    await _settle(api, market["id"], [{"selection_id": home["id"], "result": "won"}])
    payments = await api.new_staff("payments")
    spent = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": str(player.id), "amount": -2_000, "reason": "withdrawn"},
        headers={**payments.headers, "Idempotency-Key": "spend"},
    )
    assert spent.status_code == 201
    trader = await _trader(api)
    await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market['id']}/settlement")
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (0, 1_000)  # the stake reserved again; 500 taken back, 2,000 owed
    await _reconciled(api)


async def test_cash_out_quote_then_accept_and_price_protection(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    home = _selection(event, "1x2", "home")
    first = await _bet(api, player, _single(home, 1_000))
    second = await _bet(api, player, _single(home, 1_000))
    quote = await api.client.get(f"/api/v1/bets/{first.json()['id']}/cashout", headers=player.headers)
    assert quote.status_code == 200, quote.text
    amount = quote.json()["amount"]
    assert 0 < amount < 1_000  # same price, less the margin
    cash_out = {**player.headers, "Idempotency-Key": f"cash-out-{first.json()['id']}"}
    path = f"/api/v1/bets/{first.json()['id']}/cashout"
    paid = await api.client.post(path, json={"amount": amount}, headers=cash_out)
    assert (paid.status_code, paid.json()) == (200, {"status": "cashed_out", "return": amount})
    assert await _bet_status(api, player, first.json()["id"]) == ("cashed_out", amount)
    again = await api.client.post(path, json={"amount": amount}, headers=cash_out)  # the answer was lost: retry
    assert (again.status_code, again.json()) == (200, {"status": "cashed_out", "return": amount})
    other = await api.client.post(path, json={"amount": amount - 1}, headers=cash_out)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    unkeyed = await api.client.post(path, json={"amount": amount}, headers=player.headers)
    assert (unkeyed.status_code, unkeyed.json()["error"]["code"]) == (400, "idempotency_key_required")
    stale = (await api.client.get(f"/api/v1/bets/{second.json()['id']}/cashout", headers=player.headers)).json()
    trader = await _trader(api)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}",
        json={"selections": [{"id": home["id"], "odds": "4.00"}]},
        headers=trader.headers,
    )
    changed = await api.client.post(
        f"/api/v1/bets/{second.json()['id']}/cashout",
        json=stale,
        headers={**player.headers, "Idempotency-Key": "stale-cash-out"},
    )
    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "cashout_price_changed")
    await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}", json={"status": "suspended"}, headers=trader.headers
    )
    closed = await api.client.get(f"/api/v1/bets/{second.json()['id']}/cashout", headers=player.headers)
    assert closed.json()["error"]["code"] == "cashout_unavailable"
    assert (await _wallet(api, player))["cash"] == 10_000 - 2_000 + amount
    await _reconciled(api)


async def test_cash_out_of_a_bet_no_longer_open_is_409_bet_not_open_and_of_another_players_bet_404(api: Api) -> None:
    event = await _event(api)
    player, other = await _funded_player(api, 10_000), await _funded_player(api, 10_000)
    home, away = _selection(event, "1x2", "home"), _selection(event, "1x2", "away")
    cashed = (await _bet(api, player, _single(home, 1_000))).json()["id"]
    losing = (await _bet(api, player, _single(away, 1_000))).json()["id"]
    amount = (await api.client.get(f"/api/v1/bets/{cashed}/cashout", headers=player.headers)).json()["amount"]
    paid = await api.client.post(
        f"/api/v1/bets/{cashed}/cashout", json={"amount": amount}, headers={**player.headers, "Idempotency-Key": "1"}
    )
    assert paid.status_code == 200, paid.text

    async def refusal(account: Account, bet_id: str, key: str) -> list[tuple[int, str, str]]:
        quoted = await api.client.get(f"/api/v1/bets/{bet_id}/cashout", headers=account.headers)
        posted = await api.client.post(
            f"/api/v1/bets/{bet_id}/cashout", json={"amount": 1}, headers={**account.headers, "Idempotency-Key": key}
        )
        return [(r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]) for r in (quoted, posted)]

    for status, code, message in await refusal(player, cashed, "2"):  # a new key: not a replay of the first
        assert (status, code) == (409, "bet_not_open")
        assert "cashed_out" in message
    assert (await _bet_status(api, player, cashed)) == ("cashed_out", amount)
    await _settle(
        api,
        next(m["id"] for m in event["markets"] if m["type"] == "1x2"),
        [{"selection_id": home["id"], "result": "won"}],
    )
    assert await _bet_status(api, player, losing) == ("lost", 0)
    for status, code, message in await refusal(player, losing, "3"):
        assert (status, code) == (409, "bet_not_open")
        assert "lost" in message
    for status, code, _message in await refusal(other, losing, "4"):  # someone else's bet stays unknown
        assert (status, code) == (404, "bet_not_found")
    assert (await _wallet(api, player))["cash"] == 10_000 - 2_000 + amount
    await _reconciled(api)


async def test_cash_out_of_a_pending_in_play_bet_is_409_bet_not_open(api: Api) -> None:
    _market, over, _trader = await _live_over(api)
    player = await _funded_player(api, 10_000)
    placed = (await _bet(api, player, _single(over, 1_000))).json()
    assert placed["status"] == "pending"
    quoted = await api.client.get(f"/api/v1/bets/{placed['id']}/cashout", headers=player.headers)
    posted = await api.client.post(
        f"/api/v1/bets/{placed['id']}/cashout", json={"amount": 1}, headers={**player.headers, "Idempotency-Key": "p"}
    )
    for answer in (quoted, posted):
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "bet_not_open")
        assert "pending" in answer.json()["error"]["message"]


async def test_the_same_cash_out_sent_four_times_at_once_pays_once_and_all_answer_it(database_url: str) -> None:
    async with open_api(database_url) as api:
        event = await _event(api)
        player = await _funded_player(api, 10_000)
        bet = (await _bet(api, player, _single(_selection(event, "1x2", "home"), 1_000))).json()["id"]
        amount = (await api.client.get(f"/api/v1/bets/{bet}/cashout", headers=player.headers)).json()["amount"]
        headers = {**player.headers, "Idempotency-Key": "once"}
        answers = await asyncio.gather(
            *(
                api.client.post(f"/api/v1/bets/{bet}/cashout", json={"amount": amount}, headers=headers)
                for _ in range(4)
            )
        )
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"status": "cashed_out", "return": amount})] * 4
        assert (await _wallet(api, player))["cash"] == 10_000 - 1_000 + amount
        await _reconciled(api)


async def test_a_chunk_changed_while_it_was_worked_out_is_decided_again_under_the_lock(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Settlement works the next chunk out outside the ledger lock. Here a feed's bet cancel voids one of its
    # bets (and settles it) in between: the chunk must be decided again, not written as worked out.
    event = await _event(api)
    early, late = await _funded_player(api, 10_000), await _funded_player(api, 10_000)
    home = _selection(event, "1x2", "home")  # 2.50
    cancelled = (await _bet(api, early, _single(home, 1_000))).json()["id"]
    window_start = api.clock.now()
    api.clock.advance(10)
    kept = (await _bet(api, late, _single(home, 1_000))).json()["id"]
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    settler = api.platform.settlements
    read_chunk = settler._read_chunk
    raced = False

    async def bet_cancel_meanwhile(bet_ids: Any) -> Any:
        nonlocal raced
        chunk = await read_chunk(bet_ids)
        if not raced:
            raced = True
            assert len(chunk.done) == 2  # both worked out as winners
            market_id, window_end = UUID(market["id"]), window_start + timedelta(seconds=5)
            async with unit_of_work(api.platform.db) as uow:
                await settler.accept_bet_cancel(uow, market_id, window_start, window_end)
            in_window = await settler.bets_in_window(market_id, window_start, window_end)
            assert await settler.cancel_chunk(market_id, in_window) == 1
        return chunk

    monkeypatch.setattr(settler, "_read_chunk", bet_cancel_meanwhile)
    answer = await _settle(api, market["id"], [{"selection_id": home["id"], "result": "won"}])
    assert answer.report["settled_bets"] == 1, answer.jobs  # the other one the bet cancel settled
    assert raced
    assert await _bet_status(api, early, cancelled) == ("void", 1_000)
    assert await _bet_status(api, late, kept) == ("won", 2_500)
    assert (await _wallet(api, early))["cash"] == 10_000
    assert (await _wallet(api, late))["cash"] == 10_000 - 1_000 + 2_500
    await _reconciled(api)


async def test_liabilities_show_exposure_per_selection(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    await _bet(api, player, _single(_selection(event, "1x2", "home"), 1_000))
    risk = await api.new_staff("risk")
    view = (await api.client.get(f"/api/v1/admin/liabilities?event_id={event['id']}", headers=risk.headers)).json()
    one_x_two = next(m for m in view["markets"] if m["type"] == "1x2")
    assert one_x_two["exposure"] == 1_500
    assert {s["outcome"]: s["exposure"] for s in one_x_two["selections"]} == {"home": 1_500, "draw": 0, "away": 0}
    player_view = await api.client.get(f"/api/v1/admin/liabilities?event_id={event['id']}", headers=player.headers)
    assert player_view.status_code == 403


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        ([{"selection_id": "00000000-0000-0000-0000-000000000009", "result": "won"}], "invalid_settlement"),
        ([{"selection_id": "HOME", "result": "placed"}], "invalid_settlement"),
        ([{"selection_id": "HOME", "result": "won"}, {"selection_id": "HOME", "result": "lost"}], "invalid_settlement"),
        ([{"selection_id": "HOME", "result": "won", "dead_heat_factor": "0"}], "invalid_request"),
        ([{"selection_id": "HOME", "result": "maybe"}], "invalid_request"),
    ],
)
async def test_bad_settlements_are_refused(api: Api, outcomes: list[dict[str, Any]], code: str) -> None:
    event = await _event(api)
    home = _selection(event, "1x2", "home")
    outcomes = [
        {**o, "selection_id": home["id"] if o["selection_id"] == "HOME" else o["selection_id"]} for o in outcomes
    ]
    response = await _settle(api, event["markets"][0]["id"], outcomes)
    assert response.status_code in (409, 422), response.text
    assert response.json()["error"]["code"] == code


@pytest.mark.postgres
async def test_settlement_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        event = await _event(api)
        player = await _funded_player(api, 10_000)
        bets = [await _bet(api, player, _single(_selection(event, "1x2", o), 1_000)) for o in ("home", "draw", "away")]
        trader = await _trader(api)
        await api.staff(trader, "POST", f"/api/v1/admin/events/{event['id']}/result", {"score": {"home": 0, "away": 0}})
        assert [await _bet_status(api, player, b.json()["id"]) for b in bets] == [
            ("lost", 0),
            ("won", 3_400),
            ("lost", 0),
        ]
        await _reconciled(api)


async def test_cancelled_market_voids_its_bets_and_releases_the_stakes(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    bet = await _bet(api, player, _single(_selection(event, "1x2", "home"), 1_000))
    trader = await _trader(api)
    cancelled = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}", json={"status": "cancelled"}, headers=trader.headers
    )
    assert cancelled.status_code == 200, cancelled.text
    await api.published_events()  # the catalogue's event reaches the betting consumer, which queues a job
    (job,) = await api.platform.jobs.run_pending()
    assert (job.kind.value, job.status.value, job.report) == (
        "settle",
        "succeeded",
        {
            "settled_bets": 1,
            "reopened_bets": 0,
            "stake": 1_000,
            "return": 1_000,
            "outcomes": {"void": {"bets": 1, "stake": 1_000, "return": 1_000}},
        },
    )
    await api.published_events()  # the same event again (at-least-once): nothing more is queued
    assert await api.platform.jobs.run_pending() == []
    assert await _bet_status(api, player, bet.json()["id"]) == ("void", 1_000)
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 10_000,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 10_000,
    }
    await _reconciled(api)


async def test_a_market_cancelled_in_error_is_rolled_back_and_settled_for_real(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    home = _selection(event, "1x2", "home")  # 2.50
    bet = (await _bet(api, player, _single(home, 1_000))).json()["id"]
    trader = await _trader(api)
    path = f"/api/v1/admin/markets/{market['id']}"
    assert (await api.client.patch(path, json={"status": "cancelled"}, headers=trader.headers)).status_code == 200
    await api.published_events()
    await api.platform.jobs.run_pending()
    assert await _bet_status(api, player, bet) == ("void", 1_000)
    undone = await api.staff(trader, "DELETE", f"{path}/settlement")
    assert undone.status_code == 202, undone.text
    assert await _bet_status(api, player, bet) == ("open", None)
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (9_000, 1_000)  # the stake is reserved again
    market_now = (await api.client.get(f"/api/v1/admin/events/{event['id']}", headers=trader.headers)).json()
    assert next(m for m in market_now["markets"] if m["id"] == market["id"])["status"] == "suspended"
    async with unit_of_work(api.platform.db) as uow:  # a late cancel event voids nothing
        assert await api.platform.settlements.accept_void(uow, UUID(market["id"])) is False
    assert await _bet_status(api, player, bet) == ("open", None)
    settled = await _settle(api, market["id"], [{"selection_id": home["id"], "result": "won"}])
    assert settled.status_code == 202, settled.text
    assert await _bet_status(api, player, bet) == ("won", 2_500)
    assert (await _wallet(api, player))["cash"] == 10_000 - 1_000 + 2_500
    await _reconciled(api)


async def test_bet_cancel_voids_legs_placed_in_the_window_and_resettles(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api, 10_000)
    market = next(m for m in event["markets"] if m["type"] == "1x2")
    home = _selection(event, "1x2", "home")
    before = await _bet(api, player, _single(home, 1_000))
    api.clock.advance(60)
    inside = await _bet(api, player, _single(home, 1_000))
    window_start = api.clock.now()
    api.clock.advance(60)
    await _settle(api, market["id"], [{"selection_id": home["id"], "result": "won"}])
    assert (await _wallet(api, player))["cash"] == 10_000 - 2_000 + 5_000
    trader = await _trader(api)
    start = (window_start - timedelta(seconds=1)).isoformat()
    end = (window_start + timedelta(seconds=30)).isoformat()
    response = await api.staff(
        trader, "POST", f"/api/v1/admin/markets/{market['id']}/bet-cancellations", {"start": start, "end": end}
    )
    assert response.status_code == 202, response.text
    assert (response.report["reopened_bets"], response.report["settled_bets"]) == (1, 1)
    assert await _bet_status(api, player, inside.json()["id"]) == ("void", 1_000)
    assert await _bet_status(api, player, before.json()["id"]) == ("won", 2_500)
    assert (await _wallet(api, player))["cash"] == 10_000 - 2_000 + 2_500 + 1_000
    backwards = await api.staff(
        trader, "POST", f"/api/v1/admin/markets/{market['id']}/bet-cancellations", {"start": end, "end": start}
    )
    assert backwards.json()["error"]["code"] == "invalid_settlement"
    await _reconciled(api)

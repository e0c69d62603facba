"""A multiple settles as soon as a leg loses, and a system bet once every line is decided, over HTTP: the stake
is taken at once, the exposure on the open legs' selections released, cash-out no longer offered, and rolling
back a market the bet no longer depends on leaves it settled."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from sportsbook.betting.refusals import CashoutUnavailable
from tests.http.conftest import Account, Api
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _wallet
from tests.http.test_catalog_api import football_body
from tests.http.test_settlement_api import _bet_status, _reconciled, _settle, _trader


async def _events(api: Api, n: int) -> list[dict[str, Any]]:
    return [
        await _event(api, football_body(name=f"Home {i} v Away {i}", competitors=[f"H{i}", f"A{i}"])) for i in range(n)
    ]


def _one_x_two(event: dict[str, Any]) -> str:
    market_id: str = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
    return market_id


async def _won(api: Api, event: dict[str, Any], outcome: str) -> Any:
    """Settle the event's 1x2 market with `outcome` won (the others lose)."""
    answer = await _settle(
        api, _one_x_two(event), [{"selection_id": _selection(event, "1x2", outcome)["id"], "result": "won"}]
    )
    assert answer.status_code == 202, answer.text
    return answer.report


async def _home_slip(api: Api, player: Account, events: list[dict[str, Any]], **body: Any) -> str:
    legs = [{"selection_id": _selection(e, "1x2", "home")["id"], "odds": "2.50"} for e in events]
    placed = await _bet(api, player, {"type": "multiple", "legs": legs, "stake": 1_000, **body})
    assert placed.status_code == 201, placed.text
    bet_id: str = placed.json()["id"]
    return bet_id


async def _exposure(api: Api, event: dict[str, Any]) -> dict[str, int]:
    trader = await _trader(api)
    view = (await api.client.get(f"/api/v1/admin/liabilities?event_id={event['id']}", headers=trader.headers)).json()
    one_x_two = next(m for m in view["markets"] if m["type"] == "1x2")
    return {s["outcome"]: s["exposure"] for s in one_x_two["selections"]}


async def test_a_double_with_a_lost_leg_is_lost_at_once_and_releases_the_open_legs_exposure(api: Api) -> None:
    first, second = await _events(api, 2)
    player = await _funded_player(api, 10_000)
    double = await _home_slip(api, player, [first, second])
    assert await _exposure(api, second) == {"home": 5_250, "draw": 0, "away": 0}  # 1,000 x 2.50 x 2.50 - 1,000
    report = await _won(api, first, "away")  # the first leg loses; the second is still to run
    assert report["settled_bets"] == 1
    assert await _bet_status(api, player, double) == ("lost", 0)
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 9_000,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 9_000,
    }
    assert await _exposure(api, second) == {"home": 0, "draw": 0, "away": 0}
    assert await _exposure(api, first) == {"home": 0, "draw": 0, "away": 0}
    quoted = await api.client.get(f"/api/v1/bets/{double}/cashout", headers=player.headers)
    assert (quoted.status_code, quoted.json()["error"]["code"]) == (409, "bet_not_open")
    later = await _won(api, second, "home")  # the other leg wins: the bet is settled already, nothing moves
    assert later["settled_bets"] == 0
    assert await _bet_status(api, player, double) == ("lost", 0)
    assert (await _wallet(api, player))["cash"] == 9_000
    await _reconciled(api)


async def test_a_leg_that_still_pays_part_of_the_stake_does_not_settle_a_double(api: Api) -> None:
    first, second = await _events(api, 2)
    player = await _funded_player(api, 10_000)
    voided = await _home_slip(api, player, [first, second])
    await _settle(
        api,
        _one_x_two(first),
        [{"selection_id": _selection(first, "1x2", "home")["id"], "result": "lost", "void_factor": "0.5"}],
    )
    assert await _bet_status(api, player, voided) == ("open", None)  # half the stake is refunded on that leg
    assert (await _wallet(api, player))["reserved"] == 1_000
    await _won(api, second, "home")
    assert await _bet_status(api, player, voided) == ("half_lost", 1_250)  # 1,000 x 0.5 x 2.50
    await _reconciled(api)


async def test_an_each_way_double_with_a_placed_leg_waits_and_one_with_a_lost_leg_does_not(api: Api) -> None:
    races = []
    for i in range(2):
        body = {
            "sport": "horse_racing",
            "name": f"Race {i}",
            "start_time": "2026-01-01T15:15:00Z",
            "runners": ["A", "B", "C", "D"],
            "markets": [
                {
                    "type": "winner",
                    "each_way": {"fraction": "1/4", "places": 2},
                    "selections": [{"outcome": r, "odds": "5.00"} for r in "ABCD"],
                }
            ],
        }
        races.append(await _event(api, body))
    player = await _funded_player(api, 10_000)
    legs = [{"selection_id": r["markets"][0]["selections"][0]["id"], "odds": "5.00"} for r in races]
    placed_bet = (await _bet(api, player, {"type": "multiple", "legs": legs, "stake": 500, "each_way": True})).json()[
        "id"
    ]
    legs = [{"selection_id": r["markets"][0]["selections"][1]["id"], "odds": "5.00"} for r in races]
    lost_bet = (await _bet(api, player, {"type": "multiple", "legs": legs, "stake": 500, "each_way": True})).json()[
        "id"
    ]
    first = races[0]["markets"][0]
    # runner A placed (its win line lost, its place line still pays), runner B unplaced: lost on both lines
    settled = await _settle(
        api,
        first["id"],
        [
            {"selection_id": first["selections"][2]["id"], "result": "won"},
            {"selection_id": first["selections"][0]["id"], "result": "placed"},
        ],
    )
    assert settled.report["settled_bets"] == 1
    assert await _bet_status(api, player, placed_bet) == ("open", None)
    assert await _bet_status(api, player, lost_bet) == ("lost", 0)
    assert (await _wallet(api, player))["reserved"] == 1_000  # the placed bet's two lines of 500
    second = races[1]["markets"][0]
    await _settle(api, second["id"], [{"selection_id": second["selections"][0]["id"], "result": "placed"}])
    assert await _bet_status(api, player, placed_bet) == ("won", 2_000)  # place double: 500 x 2 x 2
    await _reconciled(api)


async def test_a_trixie_settles_once_every_line_has_a_lost_leg(api: Api) -> None:
    events = await _events(api, 3)
    player = await _funded_player(api, 10_000)
    trixie = await _home_slip(api, player, events, type="system", system="trixie")
    await _won(api, events[0], "away")
    assert await _bet_status(api, player, trixie) == ("open", None)  # the double of the other two can still win
    assert (await _wallet(api, player))["reserved"] == 4_000
    await _won(api, events[1], "draw")
    assert await _bet_status(api, player, trixie) == ("lost", 0)  # every line has a lost leg; the third is open
    assert await _wallet(api, player) == {
        "currency": "EUR",
        "cash": 6_000,
        "bonus": 0,
        "reserved": 0,
        "withdrawable": 6_000,
    }
    assert await _exposure(api, events[2]) == {"home": 0, "draw": 0, "away": 0}
    await _reconciled(api)


async def test_a_double_whose_leg_lost_is_worth_nothing_to_cash_out_while_it_settles(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await _events(api, 2)
    player = await _funded_player(api, 10_000)
    double = await _home_slip(api, player, [first, second])
    assert (await api.client.get(f"/api/v1/bets/{double}/cashout", headers=player.headers)).status_code == 200
    settler = api.platform.settlements
    read_chunk = settler._read_chunk
    seen: list[str] = []

    async def cash_out_meanwhile(bet_ids: Any) -> Any:
        # the first leg's result is recorded, its bets not yet settled: the double is open, worth nothing
        with pytest.raises(CashoutUnavailable):
            await settler.cashout_quote(player.id, UUID(double))
        paid = await api.client.post(
            f"/api/v1/bets/{double}/cashout", json={"amount": 1}, headers={**player.headers, "Idempotency-Key": "late"}
        )
        seen.append(paid.json()["error"]["code"])
        return await read_chunk(bet_ids)

    monkeypatch.setattr(settler, "_read_chunk", cash_out_meanwhile)
    await _won(api, first, "draw")
    assert seen == ["cashout_unavailable"]
    assert await _bet_status(api, player, double) == ("lost", 0)
    assert (await _wallet(api, player))["cash"] == 9_000
    await _reconciled(api)


async def test_rolling_back_a_market_a_settled_bet_no_longer_depends_on_leaves_it_settled(api: Api) -> None:
    first, second, third, fourth = await _events(api, 4)
    player = await _funded_player(api, 10_000)
    early = await _home_slip(api, player, [first, second])
    late = await _home_slip(api, player, [third, fourth])
    await _won(api, first, "away")  # `early` is lost at once, its second leg still to run
    await _won(api, second, "home")
    await _won(api, third, "home")
    await _won(api, fourth, "draw")  # `late` is lost with both legs resolved
    before = await _wallet(api, player)
    assert (before["cash"], before["reserved"]) == (8_000, 0)
    trader = await _trader(api)
    for market in (_one_x_two(second), _one_x_two(third)):  # each bet stays lost by its other leg
        rolled = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{market}/settlement")
        assert (rolled.status_code, rolled.report["reopened_bets"]) == (202, 0), rolled.text
    assert await _bet_status(api, player, early) == ("lost", 0)
    assert await _bet_status(api, player, late) == ("lost", 0)
    assert await _wallet(api, player) == before
    assert await _exposure(api, second) == await _exposure(api, third) == {"home": 0, "draw": 0, "away": 0}
    # Rolling back the market that decides a bet reopens it: `late` now waits for both its legs.
    rolled = await api.staff(trader, "DELETE", f"/api/v1/admin/markets/{_one_x_two(fourth)}/settlement")
    assert rolled.report["reopened_bets"] == 1
    assert await _bet_status(api, player, late) == ("open", None)
    assert (await _exposure(api, fourth))["home"] == 5_250
    await _won(api, third, "home")
    assert await _bet_status(api, player, late) == ("open", None)
    await _won(api, fourth, "home")
    assert await _bet_status(api, player, late) == ("won", 6_250)
    assert (await _wallet(api, player))["cash"] == 8_000 + 6_250
    await _reconciled(api)

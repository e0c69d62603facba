"""Staff finding players and reading one with their wallet: roles, paging, and 4xx for bad input."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.http.conftest import Api, open_api, unique_email


async def _credit(api: Api, player_id: str, amount: int) -> None:
    payments = await api.new_staff("payments")
    response = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": player_id, "amount": amount, "reason": "goodwill"},
        headers={**payments.headers, "Idempotency-Key": f"adj-{uuid4()}"},
    )
    assert response.status_code == 201, response.text


async def test_search_finds_players_by_part_of_the_email_in_any_case(api: Api) -> None:
    marker = uuid4().hex[:10]
    email, player_id = await api.registered_player(email=f"ada.{marker}@example.com")
    await api.registered_player()  # someone else
    support = await api.new_staff("support")
    response = await api.client.get("/api/v1/admin/players", params={"q": marker.upper()}, headers=support.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["id"] for item in body["items"]] == [str(player_id)]
    item = body["items"][0]
    assert item["email"] == email
    assert (item["country"], item["currency"], item["kyc_status"]) == ("GB", "EUR", "unverified")
    assert body["next_cursor"] is None


async def test_search_by_whole_id_and_never_lists_staff(api: Api) -> None:
    _email, player_id = await api.registered_player()
    risk = await api.new_staff("risk", email=unique_email("findme-staff"))
    by_id = (await api.client.get("/api/v1/admin/players", params={"q": str(player_id)}, headers=risk.headers)).json()
    assert [item["id"] for item in by_id["items"]] == [str(player_id)]
    staff = (await api.client.get("/api/v1/admin/players", params={"q": "findme-staff"}, headers=risk.headers)).json()
    assert staff["items"] == []


async def test_search_pages_through_every_match_once(api: Api) -> None:
    marker = uuid4().hex[:10]
    ids = {str((await api.registered_player(email=f"p{n}.{marker}@example.com"))[1]) for n in range(5)}
    staff = await api.new_staff("payments")
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params = {"q": marker, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/api/v1/admin/players", params=params, headers=staff.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == len(ids)


async def test_wildcards_in_the_search_are_plain_text(api: Api) -> None:
    await api.registered_player()
    staff = await api.new_staff("support")
    body = (await api.client.get("/api/v1/admin/players", params={"q": "%"}, headers=staff.headers)).json()
    assert body["items"] == []


async def test_player_detail_carries_the_wallet_balances(api: Api) -> None:
    _email, player_id = await api.registered_player()
    await _credit(api, str(player_id), 2_500)
    support = await api.new_staff("support")
    response = await api.client.get(f"/api/v1/admin/players/{player_id}", headers=support.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(player_id)
    assert body["wallet"] == {"currency": "EUR", "cash": 2_500, "bonus": 0, "reserved": 0, "withdrawable": 2_500}
    assert body["date_of_birth"]


async def test_unknown_or_staff_ids_are_player_not_found(api: Api) -> None:
    support = await api.new_staff("support")
    for missing in (uuid4(), support.id):
        response = await api.client.get(f"/api/v1/admin/players/{missing}", headers=support.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "player_not_found")
    not_an_id = await api.client.get("/api/v1/admin/players/nope", headers=support.headers)
    assert not_an_id.status_code == 422


async def test_bad_queries_are_422(api: Api) -> None:
    staff = await api.new_staff("risk")
    for params in ({"limit": "0"}, {"limit": "201"}, {"cursor": "nope"}, {"cursor": "12_zz"}, {"q": "x" * 321}):
        response = await api.client.get("/api/v1/admin/players", params=params, headers=staff.headers)
        assert response.status_code == 422, (params, response.text)
    bad_cursor = await api.client.get("/api/v1/admin/players", params={"cursor": "nope"}, headers=staff.headers)
    assert bad_cursor.json()["error"]["code"] == "invalid_cursor"


async def test_players_and_traders_may_not_read_players(api: Api) -> None:
    player = await api.new_player()
    trader = await api.new_staff("trader")
    for who in (player, trader):
        listed = await api.client.get("/api/v1/admin/players", headers=who.headers)
        assert (listed.status_code, listed.json()["error"]["code"]) == (403, "forbidden")
        one = await api.client.get(f"/api/v1/admin/players/{player.id}", headers=who.headers)
        assert one.status_code == 403
    admin = await api.new_staff("admin")
    assert (await api.client.get(f"/api/v1/admin/players/{player.id}", headers=admin.headers)).status_code == 200
    anonymous = await api.client.get("/api/v1/admin/players")
    assert anonymous.status_code == 401


@pytest.mark.postgres
async def test_search_and_detail_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        marker = uuid4().hex[:10]
        ids = {str((await api.registered_player(email=f"pg{n}.{marker}@example.com"))[1]) for n in range(3)}
        staff = await api.new_staff("support")
        first = (
            await api.client.get("/api/v1/admin/players", params={"q": marker, "limit": "2"}, headers=staff.headers)
        ).json()
        rest = (
            await api.client.get(
                "/api/v1/admin/players",
                params={"q": marker.upper(), "limit": "2", "cursor": first["next_cursor"]},
                headers=staff.headers,
            )
        ).json()
        seen = [item["id"] for item in first["items"] + rest["items"]]
        assert sorted(seen) == sorted(ids)
        assert rest["next_cursor"] is None
        one = await api.client.get(f"/api/v1/admin/players/{seen[0]}", headers=staff.headers)
        assert one.status_code == 200, one.text
        assert one.json()["wallet"]["cash"] == 0

"""The wallet over HTTP: balances, statement pages, and idempotent, audited adjustments by staff."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.http.conftest import Account, Api, open_api

ADJUST = "/api/v1/admin/adjustments"


async def _adjust(api: Api, staff: Account, body: dict[str, Any], key: str | None = "k1") -> Any:
    headers = dict(staff.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.client.post(ADJUST, json=body, headers=headers)


async def test_new_player_wallet_is_empty(api: Api) -> None:
    player = await api.new_player(currency="GBP")
    response = await api.client.get("/api/v1/wallet", headers=player.headers)
    assert response.status_code == 200
    assert response.json() == {"currency": "GBP", "cash": 0, "bonus": 0, "reserved": 0, "withdrawable": 0}


async def test_credit_then_debit_moves_cash_and_records_balance_after(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    credit = await _adjust(api, staff, {"player_id": str(player.id), "amount": 2500, "reason": "goodwill"}, "c1")
    assert credit.status_code == 201, credit.text
    assert credit.json()["balance_after"] == 2500
    assert credit.json()["currency"] == "EUR"
    debit = await _adjust(api, staff, {"player_id": str(player.id), "amount": -1000, "reason": "correction"}, "d1")
    assert debit.status_code == 201
    assert debit.json()["balance_after"] == 1500
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert (wallet["cash"], wallet["withdrawable"]) == (1500, 1500)
    events = [e for e in await api.published_events() if e.type == "wallet.adjusted"]
    assert [(e.payload["amount"], e.payload["reason"]) for e in events] == [(2500, "goodwill"), (-1000, "correction")]
    assert {e.payload["staff_id"] for e in events} == {str(staff.id)}
    assert (await api.platform.ledger.reconcile()).sound


async def test_replay_with_same_key_returns_the_first_answer_and_moves_money_once(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {"player_id": str(player.id), "amount": 700, "reason": "promo"}
    first = await _adjust(api, staff, body, "same")
    again = await _adjust(api, staff, body, "same")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert wallet["cash"] == 700


async def test_concurrent_replays_apply_once(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {"player_id": str(player.id), "amount": 300, "reason": "promo"}
    answers = await asyncio.gather(*(_adjust(api, staff, body, "race") for _ in range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 300


async def test_same_key_with_different_body_is_idempotency_key_reused(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    await _adjust(api, staff, {"player_id": str(player.id), "amount": 100, "reason": "a"}, "k")
    response = await _adjust(api, staff, {"player_id": str(player.id), "amount": 101, "reason": "a"}, "k")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"


async def test_debit_beyond_cash_is_insufficient_funds_and_replays_the_same(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {"player_id": str(player.id), "amount": -1, "reason": "x"}
    first = await _adjust(api, staff, body, "broke")
    assert first.status_code == 409
    assert first.json()["error"]["code"] == "insufficient_funds"
    again = await _adjust(api, staff, body, "broke")
    assert (again.status_code, again.json()) == (409, first.json())
    assert (await api.platform.ledger.reconcile()).sound


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"player_id": "not-a-uuid", "amount": 1, "reason": "x"}, 422, "invalid_request"),
        ({"amount": 1, "reason": "x"}, 422, "invalid_request"),
        ({"player_id": "PLAYER", "amount": 1.5, "reason": "x"}, 422, "invalid_request"),
        ({"player_id": "PLAYER", "amount": "100", "reason": "x"}, 422, "invalid_request"),
        ({"player_id": "PLAYER", "amount": 1, "reason": ""}, 422, "invalid_request"),
        ({"player_id": "PLAYER", "amount": 0, "reason": "x"}, 422, "invalid_amount"),
        ({"player_id": "PLAYER", "amount": 10**16, "reason": "x"}, 422, "invalid_amount"),
        ({"player_id": "PLAYER", "amount": 10**30, "reason": "x"}, 422, "invalid_amount"),
        ({"player_id": "PLAYER", "amount": 1, "reason": "x", "extra": 1}, 422, "invalid_request"),
        ({"player_id": str(uuid.uuid4()), "amount": 1, "reason": "x"}, 404, "player_not_found"),
        ({"player_id": "STAFF", "amount": 1, "reason": "x"}, 404, "player_not_found"),
    ],
)
async def test_bad_adjustments_are_refused_with_a_stable_code(
    api: Api, body: dict[str, Any], status: int, code: str
) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {k: (str(player.id) if v == "PLAYER" else str(staff.id) if v == "STAFF" else v) for k, v in body.items()}
    response = await _adjust(api, staff, body, "k")
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 0


async def test_adjustment_needs_an_idempotency_key_of_sane_length(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {"player_id": str(player.id), "amount": 5, "reason": "x"}
    for key in (None, "", "x" * 256):
        response = await _adjust(api, staff, body, key)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "idempotency_key_required"


async def test_malformed_json_is_400(api: Api) -> None:
    staff = await api.new_staff("payments")
    headers = {**staff.headers, "Idempotency-Key": "k", "Content-Type": "application/json"}
    response = await api.client.post(ADJUST, content=b"{not json", headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


async def test_only_payments_staff_and_admins_may_adjust(api: Api) -> None:
    player = await api.new_player()
    body = {"player_id": str(player.id), "amount": 5, "reason": "x"}
    for role in ("trader", "risk", "support"):
        staff = await api.new_staff(role)
        assert (await _adjust(api, staff, body)).status_code == 403
    assert (await _adjust(api, await api.new_staff("admin"), body)).status_code == 201
    other = await api.new_player()
    response = await api.client.post(ADJUST, json=body, headers={**other.headers, "Idempotency-Key": "k"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    response = await api.client.post(ADJUST, json=body, headers={"Idempotency-Key": "k"})
    assert response.status_code == 401


async def test_wallet_is_for_players_only(api: Api) -> None:
    staff = await api.new_staff("support")
    assert (await api.client.get("/api/v1/wallet", headers=staff.headers)).status_code == 403
    assert (await api.client.get("/api/v1/wallet")).status_code == 401


async def test_transactions_page_newest_first_with_cursor(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    for i, amount in enumerate((100, 200, 300, -50, 400)):
        response = await _adjust(api, staff, {"player_id": str(player.id), "amount": amount, "reason": "r"}, f"t{i}")
        assert response.status_code == 201
    page = (await api.client.get("/api/v1/wallet/transactions?limit=2", headers=player.headers)).json()
    assert [(i["amount"], i["balance_after"], i["kind"]) for i in page["items"]] == [
        (400, 950, "adjustment"),
        (-50, 550, "adjustment"),
    ]
    assert page["next_cursor"] is not None
    rest = (
        await api.client.get(
            f"/api/v1/wallet/transactions?limit=10&cursor={page['next_cursor']}", headers=player.headers
        )
    ).json()
    assert [i["amount"] for i in rest["items"]] == [300, 200, 100]
    assert rest["next_cursor"] is None
    assert all(i["reference"].startswith("adjustment:") for i in page["items"] + rest["items"])


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "cursor=abc", "cursor=-1"])
async def test_bad_list_parameters_are_422(api: Api, query: str) -> None:
    player = await api.new_player()
    response = await api.client.get(f"/api/v1/wallet/transactions?{query}", headers=player.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_cursor"}


@pytest.mark.postgres
async def test_adjustment_flow_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        player = await api.new_player()
        staff = await api.new_staff("payments")
        body = {"player_id": str(player.id), "amount": 900, "reason": "pg"}
        answers = await asyncio.gather(*(_adjust(api, staff, body, "pg-race") for _ in range(4)))
        assert {a.status_code for a in answers} == {201}
        assert len({a.json()["id"] for a in answers}) == 1
        assert (await api.platform.ledger.wallet(player.id, "EUR")).cash == 900
        assert (await api.platform.ledger.reconcile()).sound

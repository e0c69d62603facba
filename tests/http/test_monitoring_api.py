"""The back office's monitoring summary: cumulative figures from this node's metrics, for any staff role."""

from __future__ import annotations

from uuid import uuid4

from tests.http.conftest import Api


async def test_any_staff_role_reads_the_summary(api: Api) -> None:
    for role in ("admin", "trader", "risk", "payments", "support"):
        staff = await api.new_staff(role)
        response = await api.client.get("/api/v1/admin/monitoring", headers=staff.headers)
        assert response.status_code == 200, (role, response.text)
    body = response.json()
    assert set(body) == {"at", "bets", "payments", "feed", "odds_connections", "liability"}
    assert body["bets"]["placed"] >= 0
    assert isinstance(body["liability"]["total"], int)
    buckets = body["bets"]["latency_buckets"]
    assert [b["count"] for b in buckets] == sorted(b["count"] for b in buckets)


async def test_players_and_visitors_are_refused(api: Api) -> None:
    player = await api.new_player()
    refused = await api.client.get("/api/v1/admin/monitoring", headers=player.headers)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    assert (await api.client.get("/api/v1/admin/monitoring")).status_code == 401


async def test_payment_attempts_count_into_the_success_rate(api: Api) -> None:
    staff = await api.new_staff("support")
    before = (await api.client.get("/api/v1/admin/monitoring", headers=staff.headers)).json()["payments"]
    player = await api.new_player()
    card = {"number": "4242 4242 4242 4242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123", "holder": "A B"}
    deposit = await api.client.post(
        "/api/v1/deposits",
        json={"amount": 1_000, "currency": "EUR", "card": card},
        headers={**player.headers, "Idempotency-Key": f"dep-{uuid4()}"},
    )
    assert deposit.status_code == 201, deposit.text
    after = (await api.client.get("/api/v1/admin/monitoring", headers=staff.headers)).json()["payments"]
    assert after["attempts"] == before["attempts"] + 1
    assert after["approved"] == before["approved"] + 1
    assert 0 < after["success_rate"] <= 1

"""Payments through the HTTP API on the simulated PSPs: deposits with the contract's test cards, 3-D Secure,
idempotency, withdrawals and KYC, refunds, chargebacks, webhooks, the staff's switches and the block list."""

from __future__ import annotations

import itertools
from typing import Any

import sqlalchemy as sa

from sportsbook.payments.connectors.simulated import SimulatedConnector
from tests.http.conftest import Account, Api

APPROVED = "4242 4242 4242 4242"
STOLEN = "4100 0000 0000 0019"
EXPIRED = "4000 0000 0000 0069"
NO_FUNDS = "4000 0000 0000 9995"
FIRST_FAILS = "4000 0000 0000 0119"
CHALLENGE = "4000 0000 0000 3220"

_keys = itertools.count(1)


def _body(number: str, amount: int = 5_000, currency: str = "EUR") -> dict[str, Any]:
    return {
        "amount": amount,
        "currency": currency,
        "card": {"number": number, "expiry_month": 12, "expiry_year": 2030, "cvc": "123", "holder": "Ada Lovelace"},
    }


async def _deposit(api: Api, player: Account, number: str, amount: int = 5_000, key: str | None = None) -> Any:
    headers = {**player.headers, "Idempotency-Key": key or f"dep-{next(_keys)}"}
    return await api.client.post("/api/v1/deposits", json=_body(number, amount), headers=headers)


async def _withdraw(api: Api, player: Account, amount: int, number: str = APPROVED, key: str | None = None) -> Any:
    headers = {**player.headers, "Idempotency-Key": key or f"wd-{next(_keys)}"}
    return await api.client.post("/api/v1/withdrawals", json=_body(number, amount), headers=headers)


async def _cash(api: Api, player: Account) -> int:
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    return int(wallet["cash"])


def _sim(api: Api, name: str) -> SimulatedConnector:
    connector = api.platform.payments.connectors[name]
    assert isinstance(connector, SimulatedConnector)
    return connector


async def _drain(api: Api) -> None:
    for name in api.platform.payments.connectors:
        await _sim(api, name).drain()


async def test_approved_card_credits_the_wallet_once(api: Api) -> None:
    player = await api.new_player()
    response = await _deposit(api, player, APPROVED, 5_000)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["amount"] == 5_000
    assert body["currency"] == "EUR"
    assert body["connector"] in api.platform.payments.connectors
    assert body["decline_code"] is None
    assert [a["outcome"] for a in body["attempts"]] == ["approved"]
    assert body["card"]["last4"] == "4242"
    await _drain(api)  # the PSP's webhook confirms the capture: no second credit
    assert await _cash(api, player) == 5_000
    lines = (await api.client.get("/api/v1/wallet/transactions", headers=player.headers)).json()["items"]
    assert [(line["kind"], line["amount"]) for line in lines] == [("deposit", 5_000)]
    fetched = (await api.client.get(f"/api/v1/payments/{body['id']}", headers=player.headers)).json()
    assert fetched["status"] == "succeeded"


async def test_stolen_card_is_declined_once_and_never_retried(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, STOLEN)).json()
    assert body["status"] == "failed"
    assert body["decline_code"] == "43"
    assert len(body["attempts"]) == 1
    assert await _cash(api, player) == 0


async def test_expired_card_is_not_retried_as_it_is(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, EXPIRED)).json()
    assert (body["status"], body["decline_code"], len(body["attempts"])) == ("failed", "54", 1)


async def test_insufficient_funds_fails_with_51(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, NO_FUNDS)).json()
    assert (body["status"], body["decline_code"]) == ("failed", "51")
    assert await _cash(api, player) == 0


async def test_system_malfunction_at_the_first_connector_is_approved_at_the_next(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, FIRST_FAILS)).json()
    assert body["status"] == "succeeded"
    attempts = body["attempts"]
    assert [(a["outcome"], a["decline_code"]) for a in attempts] == [("declined", "96"), ("approved", None)]
    assert attempts[0]["connector"] != attempts[1]["connector"]
    assert await _cash(api, player) == 5_000


async def test_three_ds_challenge_then_pass_credits(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, CHALLENGE)).json()
    assert body["status"] == "requires_action"
    assert body["next_action"]["type"] == "three_ds_challenge"
    assert body["next_action"]["url"]
    assert await _cash(api, player) == 0
    answered = await api.client.post(
        f"/api/v1/payments/{body['id']}/authenticate", json={"passed": True}, headers=player.headers
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "succeeded"
    await _drain(api)
    assert await _cash(api, player) == 5_000
    again = await api.client.post(
        f"/api/v1/payments/{body['id']}/authenticate", json={"passed": True}, headers=player.headers
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "no_action_required")


async def test_three_ds_challenge_failed_fails_the_deposit(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, CHALLENGE)).json()
    answered = await api.client.post(
        f"/api/v1/payments/{body['id']}/authenticate", json={"passed": False}, headers=player.headers
    )
    assert answered.json()["status"] == "failed"
    assert await _cash(api, player) == 0


async def test_another_players_payment_is_not_found(api: Api) -> None:
    player, other = await api.new_player(), await api.new_player()
    body = (await _deposit(api, player, APPROVED)).json()
    response = await api.client.get(f"/api/v1/payments/{body['id']}", headers=other.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "payment_not_found")


async def test_card_failing_luhn_is_refused_before_any_connector(api: Api) -> None:
    player = await api.new_player()
    response = await _deposit(api, player, "4242 4242 4242 4241")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_card")
    assert (await api.client.get("/api/v1/payments", headers=player.headers)).json()["items"] == []


async def test_bad_card_fields_are_refused_with_stable_codes(api: Api) -> None:
    player = await api.new_player()
    headers = {**player.headers, "Idempotency-Key": "bad-fields"}
    expired = _body(APPROVED)
    expired["card"]["expiry_year"] = 2020
    response = await api.client.post("/api/v1/deposits", json=expired, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_card")
    letters = _body(APPROVED)
    letters["card"]["cvc"] = "12a"
    response = await api.client.post("/api/v1/deposits", json=letters, headers={**headers, "Idempotency-Key": "b2"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_card")
    other_currency = _body(APPROVED, currency="GBP")
    response = await api.client.post(
        "/api/v1/deposits", json=other_currency, headers={**headers, "Idempotency-Key": "b3"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_currency")
    zero = _body(APPROVED, amount=0)
    response = await api.client.post("/api/v1/deposits", json=zero, headers={**headers, "Idempotency-Key": "b4"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_amount")
    response = await api.client.post("/api/v1/deposits", json=_body(APPROVED), headers=player.headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "idempotency_key_required")


async def test_same_key_replays_and_another_body_is_refused(api: Api) -> None:
    player = await api.new_player()
    first = await _deposit(api, player, APPROVED, 2_000, key="same")
    again = await _deposit(api, player, APPROVED, 2_000, key="same")
    assert again.status_code == 201
    assert again.json() == first.json()
    other = await _deposit(api, player, APPROVED, 3_000, key="same")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    assert await _cash(api, player) == 2_000


async def test_outage_at_a_connector_cascades_to_the_next(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    first = (await _deposit(api, player, APPROVED)).json()["connector"]
    switched = await api.client.patch(
        f"/api/v1/admin/payments/connectors/{first}", json={"simulation": {"outage": True}}, headers=staff.headers
    )
    assert switched.status_code == 200, switched.text
    assert switched.json()["simulation"]["outage"] is True
    body = (await _deposit(api, player, APPROVED)).json()
    assert body["status"] == "succeeded"
    assert body["connector"] != first
    assert body["attempts"][0] in ({"connector": first, "outcome": "error", "decline_code": None}, body["attempts"][-1])
    listed = (await api.client.get("/api/v1/admin/payments/connectors", headers=staff.headers)).json()["items"]
    by_name = {c["name"]: c for c in listed}
    assert by_name[first]["simulated"] is True
    assert by_name[body["connector"]]["approved_24h"] >= 1


async def test_a_disabled_connector_is_left_out(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    for name in ("sim-atlas", "sim-harbour"):
        response = await api.client.patch(
            f"/api/v1/admin/payments/connectors/{name}", json={"enabled": False}, headers=staff.headers
        )
        assert response.status_code == 200
    body = (await _deposit(api, player, APPROVED)).json()
    assert {a["connector"] for a in body["attempts"]} == {"sim-europa"}


async def test_connector_switches_refuse_bad_input(api: Api) -> None:
    staff = await api.new_staff("payments")
    player = await api.new_player()
    unknown = await api.client.patch("/api/v1/admin/payments/connectors/nope", json={}, headers=staff.headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "connector_not_found")
    bad = await api.client.patch(
        "/api/v1/admin/payments/connectors/sim-atlas", json={"simulation": {"approval_rate": 2}}, headers=staff.headers
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_request")
    forbidden = await api.client.get("/api/v1/admin/payments/connectors", headers=player.headers)
    assert forbidden.status_code == 403


async def test_withdrawal_needs_kyc_then_pays_out_and_posts(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    await _deposit(api, player, APPROVED, 10_000)
    refused = await _withdraw(api, player, 4_000)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "kyc_required")
    kyc = await api.client.put(
        f"/api/v1/admin/players/{player.id}/kyc", json={"status": "verified"}, headers=staff.headers
    )
    assert kyc.status_code == 200, kyc.text
    assert kyc.json()["kyc_status"] == "verified"
    response = await _withdraw(api, player, 4_000)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] in ("pending", "succeeded")
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert wallet["cash"] == 6_000
    await _drain(api)  # the payout's webhook
    final = (await api.client.get(f"/api/v1/payments/{body['id']}", headers=player.headers)).json()
    assert final["status"] == "succeeded"
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert (wallet["cash"], wallet["reserved"]) == (6_000, 0)


async def test_withdrawal_beyond_the_cash_writes_nothing(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    await api.client.put(f"/api/v1/admin/players/{player.id}/kyc", json={"status": "verified"}, headers=staff.headers)
    await _deposit(api, player, APPROVED, 1_000)
    response = await _withdraw(api, player, 1_001)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "insufficient_funds")
    items = (await api.client.get("/api/v1/payments", headers=player.headers)).json()["items"]
    assert [p["direction"] for p in items] == ["deposit"]
    assert await _cash(api, player) == 1_000


async def test_failed_payout_gives_the_cash_back(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    await api.client.put(f"/api/v1/admin/players/{player.id}/kyc", json={"status": "verified"}, headers=staff.headers)
    await _deposit(api, player, APPROVED, 3_000)
    body = (await _withdraw(api, player, 2_000, number=NO_FUNDS)).json()
    await _drain(api)
    final = (await api.client.get(f"/api/v1/payments/{body['id']}", headers=player.headers)).json()
    assert final["status"] == "failed"
    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert (wallet["cash"], wallet["reserved"]) == (3_000, 0)


async def test_kyc_route_refuses_unknown_players_and_statuses(api: Api) -> None:
    staff = await api.new_staff("support")
    unknown = await api.client.put(
        f"/api/v1/admin/players/{staff.id}/kyc", json={"status": "verified"}, headers=staff.headers
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "player_not_found")
    player = await api.new_player()
    bad = await api.client.put(
        f"/api/v1/admin/players/{player.id}/kyc", json={"status": "maybe"}, headers=staff.headers
    )
    assert bad.status_code == 422
    me = (await api.client.get("/api/v1/me", headers=player.headers)).json()
    assert me["kyc_status"] == "unverified"


async def test_refund_moves_cash_back_and_is_limited_to_the_deposit(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    deposit = (await _deposit(api, player, APPROVED, 5_000)).json()
    headers = {**staff.headers, "Idempotency-Key": "refund-1"}
    response = await api.client.post(
        f"/api/v1/admin/payments/{deposit['id']}/refunds", json={"amount": 2_000}, headers=headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "succeeded"
    assert response.json()["direction"] == "refund"
    assert await _cash(api, player) == 3_000
    replay = await api.client.post(
        f"/api/v1/admin/payments/{deposit['id']}/refunds", json={"amount": 2_000}, headers=headers
    )
    assert replay.json()["id"] == response.json()["id"]
    too_much = await api.client.post(
        f"/api/v1/admin/payments/{deposit['id']}/refunds",
        json={"amount": 3_001},
        headers={**staff.headers, "Idempotency-Key": "refund-2"},
    )
    assert (too_much.status_code, too_much.json()["error"]["code"]) == (409, "payment_not_refundable")
    assert await _cash(api, player) == 3_000


async def test_chargeback_takes_the_cash_back_and_books_the_rest_owed(api: Api) -> None:
    player = await api.new_player()
    deposit = (await _deposit(api, player, APPROVED, 5_000)).json()
    await _drain(api)
    staff = await api.new_staff("payments")
    detail = (await api.client.get(f"/api/v1/admin/payments/{deposit['id']}", headers=staff.headers)).json()
    reference = detail["staff_attempts"][-1]["reference"]
    await _bet_away(api, player, 4_000)
    await _sim(api, deposit["connector"]).chargeback(reference, 5_000)
    await _drain(api)
    await _drain(api)
    assert await _cash(api, player) == 0
    assert await api.platform.ledger.owed(player.id, "EUR") == 4_000
    items = (await api.client.get("/api/v1/payments", headers=player.headers)).json()["items"]
    assert [(p["direction"], p["status"]) for p in items if p["direction"] == "chargeback"] == [
        ("chargeback", "succeeded")
    ]


async def _bet_away(api: Api, player: Account, amount: int) -> None:
    """Spend the player's cash (a staff debit stands for a lost bet)."""
    staff = await api.new_staff("payments")
    response = await api.client.post(
        "/api/v1/admin/adjustments",
        json={"player_id": str(player.id), "amount": -amount, "reason": "spent"},
        headers={**staff.headers, "Idempotency-Key": f"spend-{player.id}"},
    )
    assert response.status_code == 201


async def test_webhooks_resent_late_and_out_of_order_never_credit_twice(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, APPROVED, 5_000)).json()
    connector = _sim(api, body["connector"])
    await connector.drain()
    sent = list(connector.sent)
    assert sent
    for raw in [*reversed(sent), *sent]:  # every webhook again, in reverse, then in order
        response = await api.client.post(
            f"/api/v1/payments/webhooks/{connector.name}", content=raw, headers=connector.signature_headers(raw)
        )
        assert response.status_code == 200, response.text
        assert response.json()["result"] == "duplicate"
    assert await _cash(api, player) == 5_000


async def test_forged_webhook_is_refused(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, APPROVED, 5_000)).json()
    connector = _sim(api, body["connector"])
    await connector.drain()
    raw = connector.sent[0]
    headers = connector.signature_headers(raw)
    forged = raw.replace(b"5000", b"9000")
    response = await api.client.post(f"/api/v1/payments/webhooks/{connector.name}", content=forged, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_signature")
    unsigned = await api.client.post(f"/api/v1/payments/webhooks/{connector.name}", content=raw)
    assert (unsigned.status_code, unsigned.json()["error"]["code"]) == (400, "invalid_signature")
    unknown = await api.client.post("/api/v1/payments/webhooks/nobody", content=raw, headers=headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "connector_not_found")
    assert await _cash(api, player) == 5_000


async def test_blocked_card_and_bin_fail_without_a_connector(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    deposit = (await _deposit(api, player, APPROVED)).json()
    fingerprint = (await api.client.get(f"/api/v1/admin/payments/{deposit['id']}", headers=staff.headers)).json()[
        "card_fingerprint"
    ]
    blocked = await api.client.post(
        "/api/v1/admin/payments/blocks",
        json={"kind": "fingerprint", "value": fingerprint, "reason": "fraud"},
        headers=staff.headers,
    )
    assert blocked.status_code == 201, blocked.text
    body = (await _deposit(api, player, APPROVED)).json()
    assert (body["status"], body["decline_code"], body["attempts"]) == ("failed", "card_blocked", [])
    await api.client.delete(f"/api/v1/admin/payments/blocks/fingerprint/{fingerprint}", headers=staff.headers)
    await api.client.post(
        "/api/v1/admin/payments/blocks", json={"kind": "bin", "value": "424242", "reason": "bin"}, headers=staff.headers
    )
    body = (await _deposit(api, player, APPROVED)).json()
    assert body["decline_code"] == "card_blocked"
    bad = await api.client.post(
        "/api/v1/admin/payments/blocks", json={"kind": "bin", "value": "42424x", "reason": "x"}, headers=staff.headers
    )
    assert bad.status_code == 422


async def test_success_rates_by_connector_country_and_card_type(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    await _deposit(api, player, APPROVED)
    await _deposit(api, player, NO_FUNDS)
    for by in ("connector", "country", "card_type"):
        response = await api.client.get(f"/api/v1/admin/payments/success-rates?by={by}", headers=staff.headers)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert sum(i["approved"] for i in items) == 1
        assert sum(i["attempts"] for i in items) >= 2
    bad = await api.client.get("/api/v1/admin/payments/success-rates?by=colour", headers=staff.headers)
    assert bad.status_code == 422
    metrics = (await api.client.get("/metrics")).text
    assert "sportsbook_payment_attempts_total" in metrics


async def test_no_full_card_number_is_stored_anywhere(api: Api) -> None:
    player = await api.new_player()
    for number in (APPROVED, STOLEN, CHALLENGE, FIRST_FAILS):
        await _deposit(api, player, number)
    await _drain(api)
    await api.published_events()
    digits = [n.replace(" ", "") for n in (APPROVED, STOLEN, CHALLENGE, FIRST_FAILS)]
    async with api.platform.db.engine.connect() as conn:
        tables = (await conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))).scalars().all()
        for table in tables:
            rows = (await conn.execute(sa.text(f'SELECT * FROM "{table}"'))).all()
            text = repr(rows)
            for number in digits:
                assert number not in text, f"{table} holds a card number"


async def test_prepaid_card_goes_to_the_high_risk_acquirer_with_3ds_forced(api: Api) -> None:
    player = await api.new_player()
    body = (await _deposit(api, player, "5313 0600 0000 0005")).json()  # a GB prepaid Mastercard BIN
    assert body["card"]["prepaid"] is True
    assert body["attempts"][0]["connector"] == "sim-harbour"
    assert body["status"] == "requires_action"  # 3-D Secure forced by the rule, so the issuer challenges
    answered = await api.client.post(
        f"/api/v1/payments/{body['id']}/authenticate", json={"passed": True}, headers=player.headers
    )
    assert answered.json()["status"] in ("succeeded", "failed")  # the simulated issuer's approval model decides

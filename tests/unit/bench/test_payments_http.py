"""The payments bench: its baseline endpoint parses what the deposit route parses and answers at once; the
server's counters, the statuses in the answers and the approved share are read as the report states them."""

from __future__ import annotations

import pytest
from bench.payments_http import (
    APPROVED_CARD,
    cards,
    counters,
    deposit_body,
    load_figures,
    server_figures,
    wrk_script,
)
from bench.trivial_http import create_app
from fastapi.testclient import TestClient

HEADERS = {"Authorization": "Bearer some-token", "Idempotency-Key": "bench-1-1"}

METRICS = """# HELP sportsbook_payments_total Payments that reached a final state, by direction and status
# TYPE sportsbook_payments_total counter
sportsbook_payments_total{direction="deposit",status="succeeded"} 120.0
sportsbook_payments_total{direction="deposit",status="failed"} 3.0
sportsbook_payments_total{direction="withdrawal",status="succeeded"} 7.0
# HELP sportsbook_payment_webhooks_total Webhooks received, by connector and result
# TYPE sportsbook_payment_webhooks_total counter
sportsbook_payment_webhooks_total{connector="sim-europa",result="captured"} 80.0
sportsbook_payment_webhooks_total{connector="sim-atlas",result="captured"} 40.0
sportsbook_payment_webhooks_total{connector="sim-atlas",result="duplicate"} 6.0
"""


def test_a_deposit_body_is_answered_201_as_a_succeeded_payment() -> None:
    response = TestClient(create_app()).post(
        "/api/v1/deposits", json=deposit_body(APPROVED_CARD, 5_000), headers=HEADERS
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["id"], body["status"], body["amount"], body["currency"]) == ("bench-1-1", "succeeded", 5_000, "EUR")
    assert (body["card"]["bin"], body["card"]["last4"]) == ("424242", "4242")


def test_the_deposit_body_is_validated_as_the_deposit_route_validates_it() -> None:
    client = TestClient(create_app())
    good = deposit_body(APPROVED_CARD, 5_000)
    for body in ({**good, "amount": "5000"}, {**good, "currency": "EURO"}, {**good, "surprise": 1}, {"amount": 1}):
        assert client.post("/api/v1/deposits", json=body, headers=HEADERS).status_code == 422, body
    assert client.post("/api/v1/deposits", json=good, headers={"Authorization": "Bearer t"}).status_code == 422


def test_counters_sum_deposits_by_status_and_webhooks_by_result() -> None:
    assert counters(METRICS) == {
        "payments:succeeded": 120.0,
        "payments:failed": 3.0,
        "webhooks:captured": 120.0,
        "webhooks:duplicate": 6.0,
    }


def test_server_figures_are_what_the_counters_moved_by() -> None:
    before = {"payments:succeeded": 100.0, "webhooks:captured": 100.0}
    after = {"payments:succeeded": 120.0, "payments:failed": 3.0, "webhooks:captured": 100.0}
    assert server_figures(before, after) == {"server_payments": {"failed": 3, "succeeded": 20}, "server_webhooks": {}}


def test_the_approval_share_is_the_succeeded_share_of_the_answers() -> None:
    load = {"throughput_per_s": 10, "ok": 8, "bodies": {"succeeded": 6, "failed": 1, "requires_action": 1}}
    figures = load_figures(load)
    assert figures["deposit_statuses"] == {"failed": 1, "requires_action": 1, "succeeded": 6}
    assert figures["approval_share"] == 0.75
    assert "bodies" not in figures
    assert load_figures({"ok": 0})["approval_share"] is None


def test_cards_are_the_approved_test_card_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPORTSBOOK_BENCH_CARDS", raising=False)
    assert cards() == [APPROVED_CARD]
    monkeypatch.setenv("SPORTSBOOK_BENCH_CARDS", "4242 4242 4242 4242, 5555555555554444")
    assert cards() == [APPROVED_CARD, "5555555555554444"]


def test_the_wrk_script_carries_the_tokens_cards_and_run_id() -> None:
    script = wrk_script(["tok-1", "tok-2"], [APPROVED_CARD], "run-9")
    assert 'local tokens = {"tok-1","tok-2"}' in script
    assert f'local cards = {{"{APPROVED_CARD}"}}' in script
    assert 'local run_id = "run-9"' in script
    assert '"status":"([%a_]+)"' in script  # the Lua pattern survives the template's % escapes

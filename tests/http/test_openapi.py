"""The OpenAPI document lists the answers each route really gives, in the error contract's shape, and the bet
routes' refusals come from the refusal catalogue (as docs/api.md's list does)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sportsbook.betting import refusals
from tests.http.conftest import Api

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
async def schema(api: Api) -> dict[str, Any]:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, methods in schema["paths"].items() for method, op in methods.items()]


def _codes(op: dict[str, Any], status: int) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", op["responses"].get(str(status), {}).get("description", "")))


def test_every_error_answer_has_the_contract_shape(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(schema)
    for path, method, op in _operations(schema):
        for status, response in op["responses"].items():
            if status.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorBody", (method, path, status)
                assert _codes(op, int(status)), f"{method} {path} {status} names no code"


def test_authenticated_routes_document_401_and_role_routes_403(schema: dict[str, Any]) -> None:
    for path, method, op in _operations(schema):
        if path.startswith(("/api/v1/admin/", "/api/v1/me", "/api/v1/wallet", "/api/v1/bets")):
            assert "unauthorized" in _codes(op, 401), (method, path)
        if path.startswith(("/api/v1/admin/", "/api/v1/wallet", "/api/v1/bets")):  # /me serves staff too
            assert "forbidden" in _codes(op, 403), (method, path)
    public = schema["paths"]["/api/v1/events"]["get"]["responses"]
    assert "401" not in public


def test_money_moving_posts_document_the_idempotency_key(schema: dict[str, Any]) -> None:
    for path in ("/api/v1/bets", "/api/v1/bets/{bet_id}/cashout", "/api/v1/admin/adjustments"):
        op = schema["paths"][path]["post"]
        assert "idempotency_key_required" in _codes(op, 400), path
        assert "idempotency_key_reused" in _codes(op, 409), path
        assert {"malformed_json"} <= _codes(op, 400)
        assert "invalid_request" in _codes(op, 422)


def test_bet_placement_documents_every_refusal_of_the_catalogue(schema: dict[str, Any]) -> None:
    op = schema["paths"]["/api/v1/bets"]["post"]
    for refusal in refusals.PLACEMENT:
        assert refusal.code in _codes(op, refusal.status), refusal.code
    cashout = schema["paths"]["/api/v1/bets/{bet_id}/cashout"]["post"]
    for refusal in refusals.CASHOUT:
        assert refusal.code in _codes(cashout, refusal.status), refusal.code


def test_docs_list_the_refusal_catalogue() -> None:
    text = DOCS.read_text()
    listed = text.split("<!-- refusals:begin -->\n", 1)[1].split("\n<!-- refusals:end -->", 1)[0]
    assert listed == refusals.table(), "refresh docs/api.md with: python -m sportsbook.betting.refusals"


def test_every_refusal_code_is_unique_and_a_client_error() -> None:
    codes = [r.code for r in refusals.PLACEMENT + refusals.CASHOUT]
    assert len(codes) == len(set(codes))
    assert all(400 <= r.status < 500 for r in refusals.CATALOGUE.values())

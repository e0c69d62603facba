"""The HTTP error contract (ops/http.py): every failure is {"error": {"code", "message"}} with a fixed status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from sportsbook.core.errors import DomainError, InsufficientFunds, RateLimited

Lines = Callable[[], list[dict[str, Any]]]


class MarketSuspended(DomainError):
    """The market is suspended."""

    code = "market_suspended"
    status = 409


class BetIn(BaseModel):
    selection_id: str
    stake: int


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.post("/api/v1/bets", status_code=201)
    async def post_bet(body: BetIn) -> dict[str, Any]:
        if body.selection_id == "suspended":
            raise MarketSuspended()
        if body.selection_id == "broke":
            raise InsufficientFunds()
        if body.selection_id == "busy":
            raise RateLimited(retry_after_s=7)
        if body.selection_id == "bug":
            raise KeyError("a bug in the handler")
        return {"stake": body.stake}

    return app


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


async def test_an_unknown_route_is_404_not_found(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_a_wrong_method_is_405_method_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/bets")

    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


async def test_a_malformed_json_body_is_400_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/bets", content=b'{"selection_id": "s1", "stake": ', headers={"content-type": "application/json"}
    )

    assert_error(response, 400, "malformed_json")


async def test_a_wrong_type_is_422_invalid_request_naming_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "s1", "stake": "a lot"})

    assert_error(response, 422, "invalid_request")
    assert [d["field"] for d in response.json()["error"]["details"]] == ["stake"]


async def test_a_missing_body_is_422_invalid_request(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/v1/bets"), 422, "invalid_request")


async def test_a_domain_error_answers_with_its_own_code_and_status(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "suspended", "stake": 100})

    assert_error(response, 409, "market_suspended")
    assert response.json()["error"]["message"] == "The market is suspended."


async def test_a_core_domain_error_keeps_its_stable_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "broke", "stake": 100})

    assert_error(response, 409, "insufficient_funds")


async def test_rate_limited_is_429_with_retry_after(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "busy", "stake": 100})

    assert_error(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "7"


async def test_an_unexpected_exception_is_a_logged_500_internal_error(
    client: httpx.AsyncClient, json_logs: Lines
) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "bug", "stake": 100})

    assert_error(response, 500, "internal_error")
    assert "a bug in the handler" not in response.text
    [logged] = [line for line in json_logs() if line["event"] == "unhandled_exception"]
    assert logged["level"] == "error"
    assert logged["request_id"] == response.headers["X-Request-ID"]
    assert "KeyError: 'a bug in the handler'" in logged["exception"]


async def test_a_valid_request_still_succeeds(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/bets", json={"selection_id": "s1", "stake": 250})

    assert response.status_code == 201
    assert response.json() == {"stake": 250}

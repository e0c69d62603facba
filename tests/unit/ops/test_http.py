"""The HTTP error contract (ops/http.py): every failure is {"error": {"code", "message"}} with a fixed status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sportsbook.core.errors import DomainError, InsufficientFunds, RateLimited
from sportsbook.ops.http import NulTextGuard

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


# --- NUL in text, refused before any route by NulTextGuard, whatever the body's chunks ---


async def _asgi(app: ASGIApp, messages: list[Message], scope: Scope | None = None) -> tuple[int, bytes]:
    """Drive `app` with a POST /api/v1/bets whose body comes as `messages` (then the client leaves);
    the status and body it answers."""
    scope = scope or {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/bets",
        "raw_path": b"/api/v1/bets",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("sportsbook.test", 80),
    }
    incoming = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), 0)
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _chunks(body: bytes, size: int) -> list[Message]:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]


async def test_a_nul_split_across_body_chunks_is_refused(app: FastAPI) -> None:
    status, answer = await _asgi(app, _chunks(b'{"selection_id": "x\\u0000", "stake": 5}', 3))
    assert status == 422
    assert json.loads(answer)["error"]["details"] == [
        {"field": "selection_id", "problem": "contains the NUL character (U+0000)"}
    ]


async def test_a_body_in_chunks_reaches_the_route_whole(app: FastAPI) -> None:
    status, answer = await _asgi(app, _chunks(b'{"selection_id": "x", "stake": 5}', 4))
    assert (status, json.loads(answer)) == (201, {"stake": 5})


async def test_a_client_that_leaves_mid_body_is_seen_leaving_by_the_app() -> None:
    # the app gets the chunks that came and then the disconnect, not a body cut short posing as whole
    seen: list[Message] = []

    async def recorder(_scope: Scope, receive: Receive, _send: Send) -> None:
        while not seen or seen[-1]["type"] != "http.disconnect":
            seen.append(await receive())

    messages: list[Message] = [
        {"type": "http.request", "body": b'{"selection_id": "x\\u0000', "more_body": True},
        {"type": "http.disconnect"},
    ]
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "query_string": b"", "headers": []}
    assert await _asgi(NulTextGuard(recorder), messages, scope) == (0, b"")  # nothing answered to no one
    assert seen == messages

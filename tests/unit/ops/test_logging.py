"""JSON logs with a request id: the access line, the id in and out, stdlib records in the same shape."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from structlog.contextvars import get_contextvars

from sportsbook.ops.logging import configure_logging, request_id_from, route_template

from .conftest import build_app

Lines = Callable[[], list[dict[str, Any]]]
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    log = structlog.get_logger("sportsbook.test")

    @app.get("/api/v1/bets/{bet_id}")
    async def get_bet(bet_id: int, request: Request) -> dict[str, Any]:
        log.info("bet_read", bet_id=bet_id)
        logging.getLogger("sqlalchemy.pool").warning("pool is busy")
        return {"id": bet_id, "request_id": request.state.request_id}

    return app


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "request"]


async def test_each_request_writes_one_json_access_line_with_its_request_id(
    client: httpx.AsyncClient, json_logs: Lines
) -> None:
    response = await client.get("/api/v1/bets/42")

    [line] = access_lines(json_logs())
    assert response.status_code == 200
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(line["request_id"])
    assert line["level"] == "info"
    assert line["logger"] == "sportsbook.access"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/bets/42"
    assert line["route"] == "/api/v1/bets/{bet_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    timestamp = datetime.fromisoformat(line["timestamp"])
    assert timestamp.utcoffset() is not None
    assert timestamp.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


async def test_lines_logged_while_handling_a_request_carry_its_id(client: httpx.AsyncClient, json_logs: Lines) -> None:
    response = await client.get("/api/v1/bets/7")

    lines = json_logs()
    [inside] = [line for line in lines if line["event"] == "bet_read"]
    [stdlib] = [line for line in lines if line["logger"] == "sqlalchemy.pool"]
    assert inside["request_id"] == response.headers["X-Request-ID"]
    assert inside["bet_id"] == 7
    assert stdlib["request_id"] == response.headers["X-Request-ID"]
    assert stdlib["level"] == "warning"
    assert stdlib["event"] == "pool is busy"


async def test_a_sane_incoming_request_id_is_honoured(client: httpx.AsyncClient, json_logs: Lines) -> None:
    response = await client.get("/api/v1/bets/1", headers={"X-Request-ID": "edge-7f.3a_91"})

    [line] = access_lines(json_logs())
    assert response.headers["X-Request-ID"] == "edge-7f.3a_91"
    assert response.json()["request_id"] == "edge-7f.3a_91"
    assert line["request_id"] == "edge-7f.3a_91"


@pytest.mark.parametrize(
    "bad_id",
    ["has spaces", 'quote"d', "a" * 129, "", "semi;colon", "ünïcode"],
    ids=["spaces", "quote", "too-long", "empty", "semicolon", "non-ascii"],
)
async def test_an_insane_incoming_request_id_is_replaced_by_a_fresh_one(
    client: httpx.AsyncClient, json_logs: Lines, bad_id: str
) -> None:
    response = await client.get("/api/v1/bets/1", headers=[(b"X-Request-ID", bad_id.encode())])

    [line] = access_lines(json_logs())
    assert response.headers["X-Request-ID"] != bad_id
    assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])
    assert line["request_id"] == response.headers["X-Request-ID"]


async def test_each_request_gets_its_own_id(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/bets/1")
    second = await client.get("/api/v1/bets/1")

    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_the_request_id_is_unbound_once_the_request_ends(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/bets/1")

    assert "request_id" not in get_contextvars()


async def test_an_error_answer_carries_the_id_and_its_status_in_the_access_line(
    client: httpx.AsyncClient, json_logs: Lines
) -> None:
    response = await client.get("/api/v1/bets/not-a-number")

    [line] = access_lines(json_logs())
    assert response.status_code == 422
    assert line["status"] == 422
    assert line["request_id"] == response.headers["X-Request-ID"]


async def test_an_unmatched_path_is_logged_with_route_unmatched(client: httpx.AsyncClient, json_logs: Lines) -> None:
    await client.get("/nowhere/at/all")

    [line] = access_lines(json_logs())
    assert line["route"] == "unmatched"
    assert line["status"] == 404


async def test_the_query_string_stays_out_of_the_access_line(client: httpx.AsyncClient, json_logs: Lines) -> None:
    await client.get("/api/v1/bets/1?token=secret")

    [line] = access_lines(json_logs())
    assert line["path"] == "/api/v1/bets/1"
    assert "secret" not in str(line)


def test_stdlib_records_are_written_as_the_same_json_lines(json_logs: Lines) -> None:
    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 123)

    [line] = json_logs()
    assert line["event"] == "Started server process [123]"
    assert line["logger"] == "uvicorn.error"
    assert line["level"] == "warning"
    assert "timestamp" in line


def test_exceptions_are_logged_with_their_traceback(json_logs: Lines) -> None:
    try:
        raise ValueError("odds feed went quiet")
    except ValueError:
        structlog.get_logger("sportsbook.test").exception("feed_failed")

    [line] = json_logs()
    assert line["level"] == "error"
    assert "ValueError: odds feed went quiet" in line["exception"]


def test_configuring_twice_writes_each_line_once(json_logs: Lines) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger("sportsbook.test").info("once")
    logging.getLogger("sportsbook.stdlib").info("once too")

    assert [line["event"] for line in json_logs()] == ["once", "once too"]


def test_a_later_configuration_changes_the_level(json_logs: Lines) -> None:
    configure_logging("WARNING", json=True)
    structlog.get_logger("sportsbook.test").info("dropped")
    structlog.get_logger("sportsbook.test").warning("kept")
    logging.getLogger("sportsbook.stdlib").info("dropped too")

    assert [line["event"] for line in json_logs()] == ["kept"]


def test_an_unknown_level_is_refused(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("TRACE", json=True)


def test_console_output_is_human_readable_and_still_carries_the_request_id(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=False)
    client = TestClient(build_app(), raise_server_exceptions=False)

    response = client.get("/health/live", headers={"X-Request-ID": "console-1"})

    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "console-1" in line]
    assert response.status_code == 200
    assert not line.startswith("{")
    assert "request" in line
    assert "request_id=console-1" in line


def test_a_websocket_passes_through_with_its_request_id_bound() -> None:
    app = build_app()

    @app.websocket("/ws/odds")
    async def odds(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_text()
        await websocket.send_text(f"{message}:{websocket.state.request_id}:{get_contextvars()['request_id']}")
        await websocket.close()

    with TestClient(app).websocket_connect("/ws/odds", headers={"X-Request-ID": "ws-1"}) as ws:
        ws.send_text("ping")
        assert ws.receive_text() == "ping:ws-1:ws-1"


def test_request_id_from_reads_only_the_x_request_id_header() -> None:
    scope = {"type": "http", "headers": [(b"x-correlation-id", b"nope"), (b"x-request-id", b"abc-1")]}

    assert request_id_from(scope) == "abc-1"


def test_route_template_prefixes_a_mounts_path() -> None:
    class Route:
        path_format = "/markets/{market_id}"

    scope = {"root_path": "/api/catalog", "route": Route()}

    assert route_template(scope, root_path="/api") == "/catalog/markets/{market_id}"
    assert route_template({"root_path": "/static"}) == "/static/{path}"
    assert route_template({"root_path": ""}) == "unmatched"


async def test_above_info_no_access_line_is_written_but_the_id_still_is_returned(
    client: httpx.AsyncClient, json_logs: Lines
) -> None:
    configure_logging("WARNING", json=True)

    response = await client.get("/health/live")

    assert json_logs() == []
    assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])


async def test_a_closed_stdout_never_fails_the_request(
    client: httpx.AsyncClient, json_logs: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)

    response = await client.get("/api/v1/bets/1")  # its handler logs before it answers

    assert response.status_code == 200


def test_the_access_line_is_the_line_structlog_would_write(
    json_logs: Lines, capsys: pytest.CaptureFixture[str]
) -> None:
    # The middleware renders JSON access lines itself, for speed: the same bytes but the timestamp.
    from sportsbook.ops import logging as ops_logging

    fields = {"method": "POST", "path": "/api/v1/bets", "route": "/api/v1/bets", "status": 201, "duration_ms": 0.5}
    tokens = structlog.contextvars.bind_contextvars(request_id="r-1", player="p-1")
    try:
        structlog.get_logger("sportsbook.access").info("request", **fields)
        ops_logging._access_line(dict(fields))
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
    piped, direct = capsys.readouterr().out.splitlines()
    timestamp = re.compile(r'"timestamp":"[^"]+"')
    assert timestamp.sub("", direct) == timestamp.sub("", piped)
    assert timestamp.search(direct)

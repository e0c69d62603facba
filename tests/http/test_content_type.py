"""A JSON route takes a JSON body: one sent as anything else is 415 `unsupported_media_type`, with a message
that says what is expected and names what came; a JSON body that does not parse stays 400 `malformed_json`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.http.conftest import Account, Api

ADJUST = "/api/v1/admin/adjustments"


async def _adjust(
    api: Api, staff: Account, player: Account, content_type: str | None, key: str, body: bytes | None = None
) -> httpx.Response:
    headers = {**staff.headers, "Idempotency-Key": key}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if body is None:
        body = json.dumps({"player_id": str(player.id), "amount": 100, "reason": "goodwill"}).encode()
    return await api.client.post(ADJUST, content=body, headers=headers)


def _unsupported(response: httpx.Response) -> str:
    assert response.status_code == 415, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in error["message"]
    message: str = error["message"]
    return message


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "text/plain"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=xyz", "multipart/form-data"),
        ("application/xml", "application/xml"),
        ("text/json", "text/json"),
        ("TEXT/HTML", "text/html"),
    ],
)
async def test_a_json_body_sent_as_another_content_type_is_415_naming_it(
    api: Api, content_type: str, named: str
) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    message = _unsupported(await _adjust(api, staff, player, content_type, "k1"))
    assert f"got {named}" in message
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 0
    # the refusal spent no key: the same request as JSON is the first the key answers
    sent = await _adjust(api, staff, player, "application/json", "k1")
    assert sent.status_code == 201, sent.text


async def test_a_body_without_a_content_type_is_415_saying_none_came(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    assert "got no Content-Type" in _unsupported(await _adjust(api, staff, player, None, "k2"))


async def test_a_long_content_type_is_named_cut_short(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    message = _unsupported(await _adjust(api, staff, player, "text/" + "x" * 5_000, "k3"))
    assert len(message) < 300


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"])
async def test_json_content_types_are_taken(api: Api, content_type: str) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    response = await _adjust(api, staff, player, content_type, "k4")
    assert response.status_code == 201, response.text


async def test_malformed_json_is_still_400_malformed_json(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    response = await _adjust(api, staff, player, "application/json", "k5", b'{"player_id": ')
    assert (response.status_code, response.json()["error"]["code"]) == (400, "malformed_json")


async def test_an_empty_body_of_another_type_is_a_missing_body(api: Api) -> None:
    # nothing was sent as text/plain: what is wrong is that the body is missing
    player = await api.new_player()
    staff = await api.new_staff("payments")
    response = await _adjust(api, staff, player, "text/plain", "k6", b"")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


async def test_a_route_without_a_body_ignores_what_is_sent(api: Api) -> None:
    player = await api.new_player()
    headers = {**player.headers, "Content-Type": "text/plain"}
    response = await api.client.request("DELETE", "/api/v1/sessions/current", content=b"bye", headers=headers)
    assert response.status_code == 204, response.text

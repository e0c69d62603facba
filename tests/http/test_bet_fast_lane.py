"""The bet POST's fast lane: a well-formed bet skips the framework's machinery, anything else is answered by the
route itself, and both answer a request the same way."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sportsbook.core.errors import Forbidden
from sportsbook.players.auth import current_player
from tests.http.conftest import Account, Api
from tests.http.test_bets_api import BETS, _event, _funded_player, _selection, _single

LANE = {"Content-Type": "application/json"}
ROUTE = {"Content-Type": "application/json; charset=utf-8"}  # JSON all the same, but not the lane's


async def _route_only() -> None:
    raise Forbidden("answered by the route")


async def _post(api: Api, player: Account, body: bytes, key: str, **headers: str) -> Any:
    return await api.client.post(BETS, content=body, headers={**player.headers, "Idempotency-Key": key, **headers})


async def test_a_well_formed_bet_never_reaches_the_route(api: Api) -> None:
    player = await _funded_player(api)
    body = _single(_selection(await _event(api), "1x2", "home"))
    api.app.dependency_overrides[current_player] = _route_only
    try:
        placed = await api.client.post(BETS, json=body, headers={**player.headers, "Idempotency-Key": "lane-1"})
    finally:
        api.app.dependency_overrides.clear()
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "accepted"
    metrics = (await api.client.get("/metrics")).text
    assert 'sportsbook_http_requests_total{method="POST",route="/api/v1/bets",status="201"} 1.0' in metrics


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (ROUTE, None),
        ({"Content-Type": "application/json", "Authorization": "bearer {token}"}, None),  # lower-case scheme
        ({**LANE, "Idempotency-Key": "\u00e9"}, None),
        ({**LANE, "X-Twice": "1"}, None),
        (LANE, b'{"type": "single", "legs": [], "stake": 1}'),  # the model refuses it
        (LANE, b'{"type": "single",'),  # malformed
        (LANE, b""),
    ],
    ids=["charset", "lowercase-bearer", "non-ascii-key", "repeated-header", "invalid", "malformed", "empty"],
)
async def test_anything_unusual_is_answered_by_the_route(api: Api, headers: dict[str, str], body: bytes | None) -> None:
    player = await _funded_player(api)
    content = body if body is not None else b'{"type": "single", "legs": [{"selection_id": "x"}], "stake": 1}'
    send = {**player.headers, "Idempotency-Key": "odd-1"}
    send.update({k: v.format(token=player.token) for k, v in headers.items()})
    raw = [(k.encode(), v.encode("latin-1")) for k, v in send.items()]
    if "X-Twice" in headers:
        raw.append((b"x-twice", b"2"))
    api.app.dependency_overrides[current_player] = _route_only
    try:
        answer = await api.client.post(BETS, content=content, headers=raw)
    finally:
        api.app.dependency_overrides.clear()
    if headers.get("Idempotency-Key") == "\u00e9":
        assert answer.json()["error"]["code"] == "idempotency_key_required"  # the route's first check
    elif body == b'{"type": "single",':
        assert answer.json()["error"]["code"] == "malformed_json"  # the route's first check
    else:
        assert (answer.status_code, answer.json()["error"]["message"]) == (403, "answered by the route")


def _comparable(answer: Any) -> tuple[int, Any]:
    body = answer.json()
    if "id" in body:
        body = {k: v for k, v in body.items() if k not in ("id", "placed_at")}
    return answer.status_code, body


async def test_the_lane_and_the_route_answer_alike(api: Api) -> None:
    player = await _funded_player(api)
    staff = await api.new_staff("trader")
    selection = _selection(await _event(api), "1x2", "away")
    good = _single(selection, 700)
    cases: list[tuple[str, Account, dict[str, Any]]] = [
        ("placed", player, good),
        ("unknown-selection", player, _single({**selection, "id": "00000000-0000-0000-0000-000000000001"})),
        ("system-without-system", player, {**good, "type": "system"}),
        ("too-much", player, _single(selection, 10**12)),
        ("staff", staff, good),
        ("bad-token", Account(player.id, player.email, player.password, "player", "nope"), good),
        ("bad-token-and-body", Account(player.id, player.email, player.password, "player", "nope"), {"stake": 1}),
    ]

    for name, who, body in cases:
        content = orjson.dumps(body)
        lane = await _post(api, who, content, f"lane-{name}", **LANE)
        route = await _post(api, who, content, f"route-{name}", **ROUTE)
        assert _comparable(lane) == _comparable(route), name
    # A key's replay, and the same key with another body, whichever way each request came.
    replay = await _post(api, player, orjson.dumps(good), "lane-placed", **ROUTE)
    assert replay.status_code == 201
    reused = await _post(api, player, orjson.dumps(_single(selection, 800)), "route-placed", **LANE)
    assert (reused.status_code, reused.json()["error"]["code"]) == (409, "idempotency_key_reused")

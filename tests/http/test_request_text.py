"""Text no database may store: a NUL character (U+0000) anywhere in a request's JSON body, query or path is
refused with 422 `invalid_request` before any route runs, so nothing is half-written.

PostgreSQL cannot store NUL in text (it used to answer 500) and SQLite stores it silently: the tests that
write run on both."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.http.conftest import STRONG_PASSWORD, Api, open_api, unique_email
from tests.http.test_catalog_api import ADMIN_EVENTS, football_body, race_body

NUL = "\x00"
ADJUST = "/api/v1/admin/adjustments"


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    """The whole app on a fresh database, on each backend in turn."""
    async with open_api(database_url) as running:
        yield running


def _refused_fields(response: Any) -> list[str]:
    """The fields a NUL refusal names; fails unless the answer is exactly that refusal."""
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "NUL" in error["message"]
    return [d["field"] for d in error["details"]]


async def test_a_nul_in_an_adjustment_reason_is_refused_and_moves_no_money(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    headers = {**staff.headers, "Idempotency-Key": "nul-1"}
    body = {"player_id": str(player.id), "amount": 2_500, "reason": f"good{NUL}will"}
    assert _refused_fields(await api.client.post(ADJUST, json=body, headers=headers)) == ["reason"]

    wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
    assert wallet["cash"] == 0
    assert not [e for e in await api.published_events() if e.type == "wallet.adjusted"]
    # the key was not spent on the refusal: the corrected request is the first one it answers
    fixed = await api.client.post(ADJUST, json={**body, "reason": "goodwill"}, headers=headers)
    assert fixed.status_code == 201, fixed.text
    assert (await api.platform.ledger.reconcile()).sound


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Sets the field at a dotted path ("markets.0.selections.1.name") of a body."""

    def apply(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return apply


def _rename_specifier(body: dict[str, Any]) -> None:
    body["markets"][1]["specifiers"] = {f"total{NUL}": "2.5"}


EVENT_TEXT = [
    ("name", _set("name", f"Arsenal{NUL} v Chelsea"), football_body),
    ("sport", _set("sport", f"foot{NUL}ball"), football_body),
    ("competition", _set("competition", f"{NUL}"), football_body),
    ("competitors.1", _set("competitors.1", f"Chelsea{NUL}"), football_body),
    ("markets.0.type", _set("markets.0.type", f"1x2{NUL}"), football_body),
    ("markets.0.selections.0.outcome", _set("markets.0.selections.0.outcome", f"home{NUL}"), football_body),
    ("markets.0.selections.2.name", _set("markets.0.selections.2.name", f"The {NUL}Blues"), football_body),
    ("markets.0.selections.1.odds", _set("markets.0.selections.1.odds", f"3.40{NUL}"), football_body),
    ("markets.1.specifiers.total", _set("markets.1.specifiers.total", f"2.5{NUL}"), football_body),
    ("markets.1.specifiers.total\\u0000", _rename_specifier, football_body),  # a key is named, NUL escaped
    ("runners.3", _set("runners.3", f"Desert {NUL}Orchid"), race_body),
    ("markets.0.each_way.fraction", _set("markets.0.each_way.fraction", f"1/4{NUL}"), race_body),
]


async def test_a_nul_in_any_text_of_a_new_event_is_refused_and_creates_nothing(api: Api) -> None:
    trader = await api.new_staff("trader")
    for field, change, base in EVENT_TEXT:
        body = copy.deepcopy(base())
        change(body)
        response = await api.client.post(ADMIN_EVENTS, json=body, headers={**trader.headers, "Idempotency-Key": field})
        assert _refused_fields(response) == [field], field
    listed = (await api.client.get("/api/v1/events")).json()
    assert listed["items"] == []
    assert not [e for e in await api.published_events() if e.type.startswith("catalog.")]


async def test_a_nul_in_a_market_change_or_a_bet_is_refused(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await api.client.post(ADMIN_EVENTS, json=football_body(), headers=trader.headers)
    assert created.status_code == 201, created.text
    market = created.json()["markets"][0]
    selection = market["selections"][0]
    patch = {"selections": [{"id": selection["id"], "odds": f"2.{NUL}60"}]}
    response = await api.client.patch(f"/api/v1/admin/markets/{market['id']}", json=patch, headers=trader.headers)
    assert _refused_fields(response) == ["selections.0.odds"]

    player = await api.new_player()
    bet = {
        "type": "system",
        "system": f"trixie{NUL}",
        "legs": [{"selection_id": selection["id"], "odds": "2.50"}],
        "stake": 100,
    }
    response = await api.client.post("/api/v1/bets", json=bet, headers={**player.headers, "Idempotency-Key": "b1"})
    assert _refused_fields(response) == ["system"]
    assert (await api.client.get("/api/v1/bets", headers=player.headers)).json()["items"] == []


async def test_a_nul_in_registration_or_login_is_refused_and_opens_no_account(api: Api) -> None:
    email = unique_email()
    registration = {
        "email": email,
        "password": STRONG_PASSWORD,
        "date_of_birth": "1990-05-17",
        "country": "GB",
        "currency": "EUR",
    }
    for field, value in [
        ("email", f"{NUL}{email}"),
        ("password", f"{STRONG_PASSWORD}{NUL}x"),
        ("country", f"G{NUL}B"),
        ("currency", f"EUR{NUL}"),
    ]:
        response = await api.client.post("/api/v1/players", json={**registration, field: value})
        assert _refused_fields(response) == [field], field
    login = await api.client.post("/api/v1/sessions", json={"email": email, "password": f"{NUL}"})
    assert _refused_fields(login) == ["password"]
    # none of the refused registrations opened the account
    assert (await api.login(email)).json()["error"]["code"] == "invalid_credentials"
    assert (await api.register(email=email)).status_code == 201


async def test_every_field_that_holds_nul_is_named_however_deep(api: Api) -> None:
    body = {"a": [1, {"b": f"x{NUL}"}], f"k{NUL}": "v", "c": {"d": [NUL, "ok", NUL]}}
    response = await api.client.post("/api/v1/players", json=body)
    assert sorted(_refused_fields(response)) == ["a.1.b", "c.d.0", "c.d.2", "k\\u0000"]


async def test_a_nul_in_a_body_sent_as_utf_16_is_refused_too(api: Api) -> None:
    # json.loads, as the framework calls it, reads UTF-16 and UTF-32 bodies as well as UTF-8
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = json.dumps({"player_id": str(player.id), "amount": 100, "reason": f"a{NUL}b"}).encode("utf-16")
    headers = {**staff.headers, "Idempotency-Key": "utf16", "Content-Type": "application/json"}
    assert _refused_fields(await api.client.post(ADJUST, content=body, headers=headers)) == ["reason"]
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 0


async def test_an_escaped_backslash_before_u0000_is_plain_text_and_accepted(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    reason = "C:\\u0000 is not a NUL"  # a backslash, then the letters u0000: JSON sends it as "C:\\u0000"
    body = {"player_id": str(player.id), "amount": 100, "reason": reason}
    response = await api.client.post(ADJUST, json=body, headers={**staff.headers, "Idempotency-Key": "bs"})
    assert response.status_code == 201, response.text
    events = [e for e in await api.published_events() if e.type == "wallet.adjusted"]
    assert [e.payload["reason"] for e in events] == [reason]


async def test_a_nul_in_a_query_or_path_string_is_refused(api: Api) -> None:
    assert _refused_fields(await api.client.get("/api/v1/events", params={"sport": f"foot{NUL}ball"})) == [
        "query.sport"
    ]
    assert _refused_fields(await api.client.get("/api/v1/events?cursor=%00")) == ["query.cursor"]
    assert _refused_fields(await api.client.get("/api/v1/events/abc%00def")) == ["path"]
    player = await api.new_player()
    response = await api.client.get("/api/v1/wallet/transactions?cursor=1%00", headers=player.headers)
    assert _refused_fields(response) == ["query.cursor"]
    # "%2500" is the text "%00", not a NUL
    assert (await api.client.get("/api/v1/events?sport=%2500")).status_code == 200


async def test_headers_that_reach_the_database_refuse_nul_with_their_own_codes(api: Api) -> None:
    player = await api.new_player()
    staff = await api.new_staff("payments")
    body = {"player_id": str(player.id), "amount": 100, "reason": "goodwill"}
    headers = {name.encode(): value.encode() for name, value in staff.headers.items()}
    keyed = await api.client.post(ADJUST, json=body, headers={**headers, b"Idempotency-Key": b"k\x00ey"})
    assert (keyed.status_code, keyed.json()["error"]["code"]) == (400, "idempotency_key_required")
    token = await api.client.get("/api/v1/me", headers={b"Authorization": b"Bearer a\x00b"})
    assert (token.status_code, token.json()["error"]["code"]) == (401, "unauthorized")
    assert (await api.client.get("/api/v1/wallet", headers=player.headers)).json()["cash"] == 0


async def test_every_route_that_takes_a_json_body_refuses_nul_before_anything_else(sqlite_url: str) -> None:
    # Anonymous and with unknown ids: the NUL refusal comes first, as a malformed body's does, on every route
    # the schema offers, so a route added later cannot miss it.
    async with open_api(sqlite_url) as api:
        routes = [
            (method.upper(), re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path))
            for path, operations in api.app.openapi()["paths"].items()
            for method, operation in operations.items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})
        ]
        assert ("POST", ADJUST) in routes
        for method, path in routes:
            response = await api.client.request(method, path, json={"x": [f"{NUL}"]})
            assert _refused_fields(response) == ["x.0"], (method, path)

"""Staff adding a market to an existing event, and the optional Idempotency-Key on the catalogue's creates.

Every test here runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sportsbook.catalog.service import Catalog
from sportsbook.core.clock import ManualClock
from tests.http.conftest import Account, Api, open_api
from tests.http.test_catalog_api import ADMIN_EVENTS, _create, _error, football_body, race_body


@pytest.fixture
async def api(database_url: str, api_clock: ManualClock) -> AsyncIterator[Api]:
    """The whole app on a fresh database, on each backend in turn."""
    async with open_api(database_url, clock=api_clock) as running:
        yield running


def btts_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "btts",
        "in_play_delay_s": 5,
        "limits": {"max_stake": 2500},
        "selections": [{"outcome": "yes", "odds": "1.80"}, {"outcome": "no", "odds": "2.05"}],
    }
    body.update(overrides)
    return body


def markets_url(event_id: str) -> str:
    return f"{ADMIN_EVENTS}/{event_id}/markets"


async def add_market(
    api: Api, staff: Account, event_id: str, body: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**staff.headers, **({"Idempotency-Key": key} if key is not None else {})}
    return await api.client.post(markets_url(event_id), json=body, headers=headers)


async def catalog_events(api: Api) -> list[Any]:
    return [e for e in await api.published_events() if e.type.startswith("catalog.")]


# --- adding a market ---


async def test_trader_adds_a_market_and_players_see_it_ready_for_bets(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    before = await catalog_events(api)

    response = await add_market(api, trader, created["id"], btts_body())
    assert response.status_code == 201, response.text
    market = response.json()
    assert {k: market[k] for k in ("event_id", "type", "specifiers", "status", "in_play_delay_s", "each_way")} == {
        "event_id": created["id"],
        "type": "btts",
        "specifiers": {},
        "status": "active",
        "in_play_delay_s": 5,
        "each_way": None,
    }
    assert (market["version"], market["limits"]["max_stake"], market["limits"]["min_stake"]) == (1, 2500, 10)
    assert [(s["outcome"], s["name"], s["odds"], s["status"]) for s in market["selections"]] == [
        ("yes", "Yes", "1.80", "active"),
        ("no", "No", "2.05", "active"),
    ]

    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert [m["type"] for m in public["markets"]] == ["1x2", "total", "btts"]
    shown = public["markets"][-1]
    assert (shown["id"], shown["status"]) == (market["id"], "active")
    assert [(s["id"], s["odds"], s["status"]) for s in shown["selections"]] == [
        (s["id"], s["odds"], "active") for s in market["selections"]
    ]
    admin = (await api.client.get(f"{ADMIN_EVENTS}/{created['id']}", headers=trader.headers)).json()
    assert admin["markets"][-1] == market
    assert admin["version"] == created["version"]

    # What placement reads: the selection, its market and event, from this node's memory.
    event, held, selection = api.platform.catalog.selection(uuid.UUID(market["selections"][0]["id"]))
    assert (str(event.id), str(held.id), held.max_stake, held.in_play_delay_s) == (
        created["id"],
        market["id"],
        2500,
        5,
    )
    assert (selection.outcome, str(selection.odds)) == ("yes", "1.80")

    announced = (await catalog_events(api))[len(before) :]
    assert [(e.type, e.version, e.payload["market_id"], e.payload["version"]) for e in announced] == [
        ("catalog.market_changed", 2, market["id"], 1)
    ]


async def test_an_admin_adds_a_market_to_a_live_event(api: Api) -> None:
    admin = await api.new_staff("admin")
    created = await _create(api, admin)
    live = await api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json={"status": "live"}, headers=admin.headers)
    assert live.status_code == 200
    body = btts_body(type="total", specifiers={"total": "3.5"}, limits=None, in_play_delay_s=8)
    body["selections"] = [{"outcome": "over", "odds": "2.40"}, {"outcome": "under", "odds": "1.55"}]
    response = await add_market(api, admin, created["id"], body)
    assert response.status_code == 201, response.text
    assert [s["name"] for s in response.json()["selections"]] == ["Over 3.5", "Under 3.5"]
    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert (public["status"], public["markets"][-1]["status"]) == ("live", "active")


@pytest.mark.parametrize("status", ["ended", "cancelled"])
async def test_an_ended_or_cancelled_event_takes_no_new_market(api: Api, status: str) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    for step in ("live", status) if status == "ended" else (status,):
        moved = await api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json={"status": step}, headers=trader.headers)
        assert moved.status_code == 200
    assert _error(await add_market(api, trader, created["id"], btts_body())) == (409, "event_closed")


async def test_unknown_events_are_not_found(api: Api) -> None:
    trader = await api.new_staff("trader")
    for event_id in (str(uuid.uuid4()), "nope"):
        assert _error(await add_market(api, trader, event_id, btts_body())) == (404, "event_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "1x2", "selections": [{"outcome": "home", "odds": "2.00"}]},
        {"type": "total", "specifiers": {"total": "2.50"}, "selections": [{"outcome": "over", "odds": "2.00"}]},
    ],
)
async def test_a_market_the_event_has_on_that_line_is_a_duplicate(api: Api, body: dict[str, Any]) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    assert _error(await add_market(api, trader, created["id"], body)) == (409, "duplicate_market")
    race = await _create(api, trader, race_body())
    winner = race_body()["markets"][0]
    assert _error(await add_market(api, trader, race["id"], winner)) == (409, "duplicate_market")
    assert len(api.platform.catalog.event(uuid.UUID(created["id"])).markets) == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"type": "penalties"}, (422, "invalid_market")),
        ({"type": "total"}, (422, "invalid_market")),  # no line
        ({"in_play_delay_s": 31}, (422, "invalid_market")),
        ({"each_way": {"fraction": "1/5", "places": 1}}, (422, "invalid_market")),
        ({"limits": {"min_stake": 0}}, (422, "invalid_market")),
        ({"limits": {"max_stake": "lots"}}, (422, "invalid_request")),
        ({"selections": [{"outcome": "maybe", "odds": "2.00"}]}, (422, "invalid_market")),
        ({"selections": [{"outcome": "yes", "odds": "1.00"}]}, (422, "invalid_odds")),
        ({"selections": [{"outcome": "yes", "odds": 2.5}]}, (422, "invalid_request")),
        ({"selections": []}, (422, "invalid_market")),
        ({"colour": "red"}, (422, "invalid_request")),
    ],
)
async def test_bad_markets_are_refused_as_at_event_creation(
    api: Api, change: dict[str, Any], expected: tuple[int, str]
) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    assert _error(await add_market(api, trader, created["id"], btts_body(**change))) == expected
    refused_at_creation = await api.client.post(
        ADMIN_EVENTS, json=football_body(markets=[btts_body(**change)]), headers=trader.headers
    )
    assert _error(refused_at_creation) == expected


async def test_a_winner_market_needs_a_race_and_malformed_json_is_a_400(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    winner = race_body()["markets"][0]
    assert _error(await add_market(api, trader, created["id"], winner)) == (422, "invalid_market")
    headers = {**trader.headers, "Content-Type": "application/json"}
    response = await api.client.post(markets_url(created["id"]), content=b"{not json", headers=headers)
    assert _error(response) == (400, "malformed_json")


@pytest.mark.parametrize("role", ["player", "support", "risk", "payments"])
async def test_adding_a_market_is_for_traders_and_admins(api: Api, role: str) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    account = await api.new_player() if role == "player" else await api.new_staff(role)
    assert _error(await add_market(api, account, created["id"], btts_body())) == (403, "forbidden")
    anonymous = await api.client.post(markets_url(created["id"]), json=btts_body())
    assert _error(anonymous) == (401, "unauthorized")


# --- Idempotency-Key ---


async def test_the_same_key_and_event_replay_the_first_answer_and_create_one_event(api: Api) -> None:
    trader = await api.new_staff("trader")
    headers = {**trader.headers, "Idempotency-Key": "create-arsenal-chelsea"}
    first = await api.client.post(ADMIN_EVENTS, json=football_body(), headers=headers)
    assert first.status_code == 201, first.text
    again = await api.client.post(ADMIN_EVENTS, json=football_body(), headers=headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert [e["id"] for e in (await api.client.get("/api/v1/events")).json()["items"]] == [first.json()["id"]]
    assert [e.type for e in await catalog_events(api)].count("catalog.event_changed") == 1

    other = await api.client.post(ADMIN_EVENTS, json=football_body(name="Arsenal v Spurs"), headers=headers)
    assert _error(other) == (409, "idempotency_key_reused")
    # Without a key, nothing is deduplicated (as before).
    for _ in range(2):
        await _create(api, trader)
    assert len((await api.client.get("/api/v1/events")).json()["items"]) == 3


async def test_the_same_key_and_market_replay_the_first_answer_and_add_one_market(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    first = await add_market(api, trader, created["id"], btts_body(), key="add-btts")
    assert first.status_code == 201, first.text
    again = await add_market(api, trader, created["id"], btts_body(), key="add-btts")
    assert (again.status_code, again.json()) == (201, first.json())
    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert [m["id"] for m in public["markets"]][-1] == first.json()["id"]
    assert len(public["markets"]) == 3
    added = [e for e in await catalog_events(api) if e.payload.get("market_id") == first.json()["id"]]
    assert len(added) == 1

    other = await add_market(api, trader, created["id"], btts_body(in_play_delay_s=0), key="add-btts")
    assert _error(other) == (409, "idempotency_key_reused")
    # A key is one request: not the same body on another event, nor another route.
    race = await _create(api, trader, race_body())
    assert _error(await add_market(api, trader, race["id"], btts_body(), key="add-btts")) == (
        409,
        "idempotency_key_reused",
    )
    on_events = await api.client.post(
        ADMIN_EVENTS, json=football_body(), headers={**trader.headers, "Idempotency-Key": "add-btts"}
    )
    assert _error(on_events) == (409, "idempotency_key_reused")
    # Each member of staff has their own keys.
    colleague = await api.new_staff("trader")
    duplicate = await add_market(api, colleague, created["id"], btts_body(), key="add-btts")
    assert _error(duplicate) == (409, "duplicate_market")


async def test_a_refusal_is_the_first_answer_too(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    await api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json={"status": "cancelled"}, headers=trader.headers)
    first = await add_market(api, trader, created["id"], btts_body(), key="late")
    again = await add_market(api, trader, created["id"], btts_body(), key="late")
    assert _error(first) == (409, "event_closed")
    assert (again.status_code, again.json()) == (409, first.json())


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_a_key_must_be_1_to_255_characters(api: Api, key: str) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    assert _error(await add_market(api, trader, created["id"], btts_body(), key=key)) == (
        400,
        "idempotency_key_required",
    )
    on_events = await api.client.post(
        ADMIN_EVENTS, json=football_body(), headers={**trader.headers, "Idempotency-Key": key}
    )
    assert _error(on_events) == (400, "idempotency_key_required")
    assert len(api.platform.catalog.event(uuid.UUID(created["id"])).markets) == 2
    assert len(api.platform.catalog.events()) == 1


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"in_play_delay_s": 10**30}, (422, "invalid_request")),
        ({"limits": {"max_stake": -(10**40)}}, (422, "invalid_request")),
        ({"each_way": {"fraction": "1/5", "places": 2**64}}, (422, "invalid_request")),
        ({"type": "total", "specifiers": {"total": 10**30}}, (422, "invalid_market")),
    ],
)
async def test_numbers_too_wide_for_a_key_fingerprint_are_refused_not_a_server_error(
    api: Api, change: dict[str, Any], expected: tuple[int, str]
) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    assert _error(await add_market(api, trader, created["id"], btts_body(**change), key="wide")) == expected
    headers = {**trader.headers, "Idempotency-Key": "wide-event"}
    response = await api.client.post(ADMIN_EVENTS, json=football_body(markets=[btts_body(**change)]), headers=headers)
    assert _error(response) == expected


@pytest.mark.parametrize("start_time", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
async def test_a_start_time_beyond_the_calendar_in_utc_is_an_invalid_event(api: Api, start_time: str) -> None:
    trader = await api.new_staff("trader")
    response = await api.client.post(ADMIN_EVENTS, json=football_body(start_time=start_time), headers=trader.headers)
    assert _error(response) == (422, "invalid_event")


async def test_concurrent_repeats_of_one_key_create_one_event_and_add_one_market(api: Api) -> None:
    trader = await api.new_staff("trader")
    headers = {**trader.headers, "Idempotency-Key": "storm"}
    created = await asyncio.gather(
        *(api.client.post(ADMIN_EVENTS, json=football_body(), headers=headers) for _ in range(4))
    )
    assert {a.status_code for a in created} == {201}
    assert len({a.json()["id"] for a in created}) == 1
    event_id = created[0].json()["id"]
    added = await asyncio.gather(*(add_market(api, trader, event_id, btts_body(), key="race") for _ in range(4)))
    assert {a.status_code for a in added} == {201}
    assert len({a.json()["id"] for a in added}) == 1

    # What the database holds (a losing attempt's writes rolled back with its key record), and memory.
    stored = Catalog(api.platform.db, api.clock, None)
    await stored.start()
    assert [str(e.id) for e in stored.events()] == [event_id]
    assert stored.event(uuid.UUID(event_id)) == api.platform.catalog.event(uuid.UUID(event_id))
    assert [m.type for m in stored.event(uuid.UUID(event_id)).markets] == ["1x2", "total", "btts"]

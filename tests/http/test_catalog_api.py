"""The catalogue over HTTP: public listings and events, and the staff API that creates and trades them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.http.conftest import Account, Api

ADMIN_EVENTS = "/api/v1/admin/events"


def football_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sport": "football",
        "name": "Arsenal v Chelsea",
        "competition": "Premier League",
        "start_time": "2026-01-02T15:00:00Z",
        "competitors": ["Arsenal", "Chelsea"],
        "markets": [
            {
                "type": "1x2",
                "selections": [
                    {"outcome": "home", "odds": "2.50"},
                    {"outcome": "draw", "odds": "3.40"},
                    {"outcome": "away", "odds": "1.50"},
                ],
            },
            {
                "type": "total",
                "specifiers": {"total": "2.5"},
                "in_play_delay_s": 6,
                "limits": {"max_stake": 5000},
                "selections": [{"outcome": "over", "odds": "1.90"}, {"outcome": "under", "odds": "1.90"}],
            },
        ],
    }
    body.update(overrides)
    return body


def race_body() -> dict[str, Any]:
    runners = ["Red Rum", "Arkle", "Kauto Star", "Desert Orchid"]
    return {
        "sport": "horse_racing",
        "name": "3:15 Cheltenham",
        "start_time": "2026-01-01T15:15:00Z",
        "runners": runners,
        "markets": [
            {
                "type": "winner",
                "each_way": {"fraction": "1/4", "places": 2},
                "selections": [{"outcome": r, "odds": f"{3 + i}.00"} for i, r in enumerate(runners)],
            }
        ],
    }


async def _create(api: Api, trader: Account, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.client.post(ADMIN_EVENTS, json=body or football_body(), headers=trader.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


# --- creating and reading ---


async def test_trader_creates_an_event_and_anyone_reads_it_with_all_three_odds_formats(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    assert created["status"] == "upcoming"
    assert created["version"] == 1
    assert created["markets"][1]["limits"]["max_stake"] == 5000
    assert created["markets"][0]["limits"]["min_stake"] == 10  # the default

    response = await api.client.get(f"/api/v1/events/{created['id']}")
    assert response.status_code == 200
    event = response.json()
    assert {k: event[k] for k in ("name", "sport", "competition", "start_time", "status", "competitors")} == {
        "name": "Arsenal v Chelsea",
        "sport": "football",
        "competition": "Premier League",
        "start_time": "2026-01-02T15:00:00Z",
        "status": "upcoming",
        "competitors": ["Arsenal", "Chelsea"],
    }
    assert event["runners"] is None
    assert event["score"] is None
    one_x_two, total = event["markets"]
    assert set(one_x_two) == {"id", "type", "specifiers", "status", "in_play_delay_s", "each_way", "selections"}
    assert (one_x_two["type"], one_x_two["specifiers"], one_x_two["status"]) == ("1x2", {}, "active")
    assert [
        (s["outcome"], s["name"], s["odds"], s["odds_fractional"], s["odds_american"]) for s in one_x_two["selections"]
    ] == [
        ("home", "Arsenal", "2.50", "3/2", "+150"),
        ("draw", "Draw", "3.40", "12/5", "+240"),
        ("away", "Chelsea", "1.50", "1/2", "-200"),
    ]
    assert {s["status"] for s in one_x_two["selections"]} == {"active"}
    assert (total["specifiers"], total["in_play_delay_s"], total["each_way"]) == ({"total": "2.5"}, 6, None)
    assert [s["name"] for s in total["selections"]] == ["Over 2.5", "Under 2.5"]

    events = await api.published_events()
    types = [e.type for e in events if e.type.startswith("catalog.")]
    assert types == ["catalog.event_changed", "catalog.market_changed", "catalog.market_changed"]


async def test_a_race_has_runners_and_each_way_terms(api: Api) -> None:
    admin = await api.new_staff("admin")
    created = await _create(api, admin, race_body())
    event = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert event["competitors"] is None
    assert event["runners"] == ["Red Rum", "Arkle", "Kauto Star", "Desert Orchid"]
    assert event["markets"][0]["each_way"] == {"fraction": "1/4", "places": 2}
    assert [s["outcome"] for s in event["markets"][0]["selections"]] == event["runners"]


async def test_listing_filters_by_sport_and_status_and_pages_with_a_cursor(api: Api) -> None:
    trader = await api.new_staff("trader")
    times = ["2026-01-03T15:00:00Z", "2026-01-02T15:00:00Z", "2026-01-04T15:00:00Z"]
    made = [await _create(api, trader, football_body(start_time=t)) for t in times]
    race = await _create(api, trader, race_body())
    live = await _create(api, trader, football_body(name="Spurs v Everton", competitors=["Spurs", "Everton"]))
    patched = await api.client.patch(f"{ADMIN_EVENTS}/{live['id']}", json={"status": "live"}, headers=trader.headers)
    assert patched.status_code == 200

    page = (
        await api.client.get("/api/v1/events", params={"sport": "football", "status": "upcoming", "limit": 2})
    ).json()
    assert [e["id"] for e in page["items"]] == [made[1]["id"], made[0]["id"]]
    assert page["next_cursor"]
    rest = await api.client.get(
        "/api/v1/events", params={"sport": "football", "status": "upcoming", "limit": 2, "cursor": page["next_cursor"]}
    )
    assert [e["id"] for e in rest.json()["items"]] == [made[2]["id"]]
    assert rest.json()["next_cursor"] is None

    live_only = (await api.client.get("/api/v1/events", params={"status": "live"})).json()
    assert [e["id"] for e in live_only["items"]] == [live["id"]]
    everything = (await api.client.get("/api/v1/events")).json()  # upcoming and live
    assert len(everything["items"]) == 5
    assert everything["items"][0]["id"] == race["id"]  # the soonest
    ended = (await api.client.get("/api/v1/events", params={"status": "ended"})).json()
    assert ended == {"items": [], "next_cursor": None}

    sports = (await api.client.get("/api/v1/sports")).json()
    assert sports == {
        "items": [
            {"key": "football", "name": "Football", "upcoming": 3, "live": 1},
            {"key": "horse_racing", "name": "Horse racing", "upcoming": 1, "live": 0},
        ],
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"cursor": "nonsense"}, (422, "invalid_cursor")),
        ({"cursor": "99999999999999999999_abc"}, (422, "invalid_cursor")),
        ({"status": "finished"}, (422, "invalid_request")),
        ({"limit": 0}, (422, "invalid_request")),
        ({"limit": 201}, (422, "invalid_request")),
    ],
)
async def test_bad_listing_queries_are_refused(api: Api, params: dict[str, Any], expected: tuple[int, str]) -> None:
    assert _error(await api.client.get("/api/v1/events", params=params)) == expected


async def test_unknown_event_is_event_not_found(api: Api) -> None:
    for event_id in (str(uuid.uuid4()), "not-an-id"):
        assert _error(await api.client.get(f"/api/v1/events/{event_id}")) == (404, "event_not_found")


# --- roles ---


@pytest.mark.parametrize("role", ["player", "support", "risk", "payments"])
async def test_staff_endpoints_are_forbidden_to_other_roles(api: Api, role: str) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    market_id = created["markets"][0]["id"]
    account = await api.new_player() if role == "player" else await api.new_staff(role)
    calls = [
        api.client.post(ADMIN_EVENTS, json=football_body(), headers=account.headers),
        api.client.get(f"{ADMIN_EVENTS}/{created['id']}", headers=account.headers),
        api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json={"status": "live"}, headers=account.headers),
        api.client.patch(f"/api/v1/admin/markets/{market_id}", json={"status": "suspended"}, headers=account.headers),
    ]
    for call in calls:
        assert _error(await call) == (403, "forbidden")


async def test_staff_endpoints_need_a_login(api: Api) -> None:
    assert _error(await api.client.post(ADMIN_EVENTS, json=football_body())) == (401, "unauthorized")
    assert _error(await api.client.patch(f"/api/v1/admin/markets/{uuid.uuid4()}", json={})) == (401, "unauthorized")


async def test_admin_view_shows_limits_and_versions(api: Api) -> None:
    admin = await api.new_staff("admin")
    created = await _create(api, admin)
    response = await api.client.get(f"{ADMIN_EVENTS}/{created['id']}", headers=admin.headers)
    assert response.status_code == 200
    assert response.json() == created
    missing = await api.client.get(f"{ADMIN_EVENTS}/{uuid.uuid4()}", headers=admin.headers)
    assert _error(missing) == (404, "event_not_found")


# --- bad creations ---


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"competitors": ["Arsenal"]}, (422, "invalid_event")),
        ({"competitors": None}, (422, "invalid_event")),
        ({"runners": ["A", "B"]}, (422, "invalid_event")),
        ({"sport": "Foot Ball"}, (422, "invalid_event")),
        ({"name": " "}, (422, "invalid_event")),
        ({"start_time": "2026-01-02T15:00:00"}, (422, "invalid_request")),  # no time zone
        ({"start_time": "tomorrow"}, (422, "invalid_request")),
        ({"markets": []}, (422, "invalid_market")),
        (
            {"markets": [{"type": "penalties", "selections": [{"outcome": "home", "odds": "2"}]}]},
            (422, "invalid_market"),
        ),
        ({"markets": [{"type": "total", "selections": [{"outcome": "over", "odds": "2"}]}]}, (422, "invalid_market")),
        (
            {
                "markets": [
                    {"type": "total", "specifiers": {"total": 2.3}, "selections": [{"outcome": "over", "odds": "2"}]}
                ]
            },
            (422, "invalid_market"),
        ),
        (
            {"markets": [{"type": "1x2", "in_play_delay_s": 31, "selections": [{"outcome": "home", "odds": "2"}]}]},
            (422, "invalid_market"),
        ),
        (
            {
                "markets": [
                    {
                        "type": "1x2",
                        "each_way": {"fraction": "1/5", "places": 2},
                        "selections": [{"outcome": "home", "odds": "2"}],
                    }
                ]
            },
            (422, "invalid_market"),
        ),
        (
            {
                "markets": [
                    {"type": "1x2", "limits": {"min_stake": 0}, "selections": [{"outcome": "home", "odds": "2"}]}
                ]
            },
            (422, "invalid_market"),
        ),
        (
            {
                "markets": [
                    {"type": "1x2", "limits": {"max_stake": "lots"}, "selections": [{"outcome": "home", "odds": "2"}]}
                ]
            },
            (422, "invalid_request"),
        ),
        (
            {"markets": [{"type": "winner", "selections": [{"outcome": "Arsenal", "odds": "2"}]}]},
            (422, "invalid_market"),
        ),
        ({"markets": [{"type": "1x2", "selections": [{"outcome": "home", "odds": "1.00"}]}]}, (422, "invalid_odds")),
        ({"markets": [{"type": "1x2", "selections": [{"outcome": "home", "odds": "two"}]}]}, (422, "invalid_odds")),
        ({"markets": [{"type": "1x2", "selections": [{"outcome": "home", "odds": 2.5}]}]}, (422, "invalid_request")),
        ({"markets": [{"type": "1x2", "selections": [{"outcome": "home", "odds": "NaN"}]}]}, (422, "invalid_odds")),
        ({"markets": [{"type": "1x2", "selections": [{"outcome": "home", "odds": "1e30"}]}]}, (422, "invalid_odds")),
        (
            {
                "markets": [
                    {
                        "type": "total",
                        "specifiers": {"total": "1e999999999"},
                        "selections": [{"outcome": "over", "odds": "2"}],
                    }
                ]
            },
            (422, "invalid_market"),
        ),
        ({"colour": "red"}, (422, "invalid_request")),
    ],
)
async def test_bad_events_are_refused_with_a_stable_code(
    api: Api, change: dict[str, Any], expected: tuple[int, str]
) -> None:
    trader = await api.new_staff("trader")
    response = await api.client.post(ADMIN_EVENTS, json=football_body(**change), headers=trader.headers)
    assert _error(response) == expected


async def test_malformed_json_is_a_400(api: Api) -> None:
    trader = await api.new_staff("trader")
    headers = {**trader.headers, "Content-Type": "application/json"}
    response = await api.client.post(ADMIN_EVENTS, content=b"{not json", headers=headers)
    assert _error(response) == (400, "malformed_json")


# --- trading an event ---


async def test_event_goes_live_with_a_score_then_ends_and_its_markets_suspend(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    url = f"{ADMIN_EVENTS}/{created['id']}"
    live = await api.client.patch(url, json={"status": "live", "score": {"home": 1, "away": 0}}, headers=trader.headers)
    assert live.status_code == 200, live.text
    assert (live.json()["status"], live.json()["score"], live.json()["version"]) == ("live", {"home": 1, "away": 0}, 2)
    ended = await api.client.patch(
        url, json={"status": "ended", "score": {"home": 2, "away": 1}}, headers=trader.headers
    )
    assert {m["status"] for m in ended.json()["markets"]} == {"suspended"}
    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert (public["status"], public["score"]) == ("ended", {"home": 2, "away": 1})
    changes = [e for e in await api.published_events() if e.type == "catalog.event_changed"]
    assert [e.payload["status"] for e in changes] == ["upcoming", "live", "ended"]
    assert [e.payload["version"] for e in changes] == [1, 2, 3]


async def test_cancelling_an_event_cancels_its_markets(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    response = await api.client.patch(
        f"{ADMIN_EVENTS}/{created['id']}", json={"status": "cancelled"}, headers=trader.headers
    )
    assert response.status_code == 200
    assert {m["status"] for m in response.json()["markets"]} == {"cancelled"}
    assert {s["status"] for m in response.json()["markets"] for s in m["selections"]} == {"void"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "ended"}, (409, "invalid_status_transition")),
        ({"status": "upcoming", "score": None}, (200, None)),  # no change at all
        ({"score": {"home": 1, "away": 0}}, (422, "invalid_score")),  # not live yet
        ({"status": "live", "score": {"home": -1, "away": 0}}, (422, "invalid_score")),
        ({"status": "live", "score": {"home": "one", "away": 0}}, (422, "invalid_request")),
        ({"status": "finished"}, (422, "invalid_request")),
        ({}, (422, "invalid_request")),
        ({"status": "live", "name": "renamed"}, (422, "invalid_request")),
    ],
)
async def test_bad_event_changes_are_refused(api: Api, body: dict[str, Any], expected: tuple[int, str | None]) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    response = await api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json=body, headers=trader.headers)
    if expected[1] is None:
        assert response.status_code == expected[0]
        assert response.json()["version"] == 1
    else:
        assert _error(response) == expected


async def test_a_race_has_no_score_and_unknown_events_are_not_found(api: Api) -> None:
    trader = await api.new_staff("trader")
    race = await _create(api, trader, race_body())
    response = await api.client.patch(
        f"{ADMIN_EVENTS}/{race['id']}", json={"status": "live", "score": {"home": 1, "away": 0}}, headers=trader.headers
    )
    assert _error(response) == (422, "invalid_score")
    for event_id in (str(uuid.uuid4()), "nope"):
        missing = await api.client.patch(f"{ADMIN_EVENTS}/{event_id}", json={"status": "live"}, headers=trader.headers)
        assert _error(missing) == (404, "event_not_found")


# --- trading a market ---


async def test_trader_moves_prices_suspends_and_reopens_a_market_and_sets_limits(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    market = created["markets"][0]
    home, draw, _away = (s["id"] for s in market["selections"])
    url = f"/api/v1/admin/markets/{market['id']}"
    body = {
        "status": "suspended",
        "selections": [{"id": home, "odds": "2.60"}, {"id": draw, "status": "suspended"}],
        "limits": {"max_payout": 500_000},
    }
    response = await api.client.patch(url, json=body, headers=trader.headers)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["status"], changed["version"], changed["limits"]["max_payout"]) == ("suspended", 2, 500_000)
    assert [s["odds"] for s in changed["selections"]] == ["2.60", "3.40", "1.50"]
    assert [s["status"] for s in changed["selections"]] == ["active", "suspended", "active"]

    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()["markets"][0]
    assert public["status"] == "suspended"
    assert public["selections"][0]["odds_fractional"] == "8/5"
    assert "limits" not in public

    reopened = await api.client.patch(url, json={"status": "active"}, headers=trader.headers)
    assert reopened.json()["status"] == "active"
    market_events = [e for e in await api.published_events() if e.type == "catalog.market_changed"]
    mine = [e.payload for e in market_events if e.payload["market_id"] == market["id"]]
    assert [(p["status"], p["version"]) for p in mine] == [("active", 1), ("suspended", 2), ("active", 3)]
    assert mine[1]["selections"][0]["odds"] == "2.60"


async def test_bad_market_changes_are_refused_with_a_stable_code(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    market = created["markets"][0]
    selection = market["selections"][0]["id"]
    url = f"/api/v1/admin/markets/{market['id']}"

    async def patch(body: dict[str, Any], target: str = url) -> tuple[int, str]:
        return _error(await api.client.patch(target, json=body, headers=trader.headers))

    assert await patch({"selections": [{"id": selection, "odds": "0.99"}]}) == (422, "invalid_odds")
    assert await patch({"selections": [{"id": selection, "odds": "2.555"}]}) == (422, "invalid_odds")
    assert await patch({"selections": [{"id": str(uuid.uuid4()), "odds": "2.00"}]}) == (404, "selection_not_found")
    assert await patch({"selections": [{"id": "x", "odds": "2.00"}]}) == (422, "invalid_request")
    assert await patch({"status": "settled"}) == (422, "invalid_request")
    assert await patch({"limits": {"min_stake": 200_000}}) == (422, "invalid_market")
    assert await patch({}) == (422, "invalid_request")
    assert await patch({"status": "suspended"}, f"/api/v1/admin/markets/{uuid.uuid4()}") == (404, "market_not_found")
    assert await patch({"status": "suspended"}, "/api/v1/admin/markets/nope") == (404, "market_not_found")

    cancelled = await api.client.patch(url, json={"status": "cancelled"}, headers=trader.headers)
    assert cancelled.json()["status"] == "cancelled"
    assert await patch({"status": "active"}) == (409, "market_closed")
    assert await patch({"selections": [{"id": selection, "odds": "2.00"}]}) == (409, "market_closed")

    other = created["markets"][1]
    ended_event = await api.client.patch(
        f"{ADMIN_EVENTS}/{created['id']}", json={"status": "cancelled"}, headers=trader.headers
    )
    assert ended_event.status_code == 200
    assert await patch({"status": "active"}, f"/api/v1/admin/markets/{other['id']}") == (409, "market_closed")


async def test_a_market_of_an_ended_event_cannot_reopen(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    for status in ("live", "ended"):
        await api.client.patch(f"{ADMIN_EVENTS}/{created['id']}", json={"status": status}, headers=trader.headers)
    url = f"/api/v1/admin/markets/{created['markets'][0]['id']}"
    response = await api.client.patch(url, json={"status": "active"}, headers=trader.headers)
    assert _error(response) == (409, "invalid_status_transition")


async def test_a_non_runner_can_no_longer_be_priced(api: Api) -> None:
    trader = await api.new_staff("trader")
    race = await _create(api, trader, race_body())
    market = race["markets"][0]
    runner = market["selections"][0]["id"]
    catalog = api.platform.catalog
    await catalog.run(lambda uow: catalog.mark_non_runner(uow, uuid.UUID(runner)))
    response = await api.client.patch(
        f"/api/v1/admin/markets/{market['id']}",
        json={"selections": [{"id": runner, "odds": "5.00"}]},
        headers=trader.headers,
    )
    assert _error(response) == (409, "selection_closed")
    public = (await api.client.get(f"/api/v1/events/{race['id']}")).json()
    assert public["markets"][0]["selections"][0]["status"] == "non_runner"


async def test_the_read_model_answers_selection_lookups_for_betting(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader)
    selection_id = uuid.UUID(created["markets"][1]["selections"][0]["id"])
    event, market, selection = api.platform.catalog.selection(selection_id)
    assert str(event.id) == created["id"]
    assert (market.type.value, market.max_stake, market.in_play_delay_s) == ("total", 5000, 6)
    assert (selection.outcome, str(selection.odds)) == ("over", "1.90")


# --- feed ids ---


async def test_an_event_carries_its_feed_ids_and_a_feed_finds_it_by_them(api: Api) -> None:
    trader = await api.new_staff("trader")
    created = await _create(api, trader, football_body(external_ids={"uof": "sr:match:10927088"}))
    assert created["external_ids"] == {"uof": "sr:match:10927088"}
    public = (await api.client.get(f"/api/v1/events/{created['id']}")).json()
    assert public["external_ids"] == {"uof": "sr:match:10927088"}
    found = api.platform.catalog.event_by_external_id("uof", "sr:match:10927088")
    assert found is not None
    assert str(found.id) == created["id"]
    assert api.platform.catalog.event_by_external_id("uof", "sr:match:1") is None
    plain = await _create(api, trader)
    assert plain["external_ids"] == {}


async def test_a_feed_id_names_one_event_and_nothing_is_half_written(api: Api) -> None:
    trader = await api.new_staff("trader")
    await _create(api, trader, football_body(external_ids={"uof": "sr:match:7"}))
    again = football_body(name="Spurs v Fulham", competitors=["Spurs", "Fulham"], external_ids={"uof": "sr:match:7"})
    response = await api.client.post(ADMIN_EVENTS, json=again, headers=trader.headers)
    assert _error(response) == (409, "external_id_taken")
    async with api.platform.db.read() as conn:  # the event and its markets were not written either
        query = text("SELECT count(*) FROM catalog_events WHERE name = 'Spurs v Fulham'")
        stored = (await conn.execute(query)).scalar()
    assert stored == 0


@pytest.mark.parametrize(
    "ids",
    [{"UOF": "sr:match:1"}, {"uof": ""}, {"uof": "has space"}, {"uof": "x" * 101}, {f"p{i}": "1" for i in range(9)}],
)
async def test_bad_feed_ids_are_refused(api: Api, ids: dict[str, str]) -> None:
    trader = await api.new_staff("trader")
    response = await api.client.post(ADMIN_EVENTS, json=football_body(external_ids=ids), headers=trader.headers)
    assert _error(response) == (422, "invalid_event")

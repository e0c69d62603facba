"""Players and sessions over HTTP: every documented answer of the endpoints, error codes included."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import pytest
from argon2 import PasswordHasher
from fastapi import APIRouter, Depends

from sportsbook.core.errors import DomainError
from sportsbook.players import store
from sportsbook.players.auth import current_player, require_role
from sportsbook.players.model import Principal, Status
from tests.http.conftest import SESSION_TTL_S, START, STRONG_PASSWORD, Api, open_api, unique_email


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert response.json()["error"]["message"]


# --- registration -------------------------------------------------------------------------------


async def test_registration_creates_a_player_with_normalised_email(api: Api) -> None:
    response = await api.register(email="  Ann.Smith@Example.COM ", currency="SEK", country="SE")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "email", "currency"}
    assert body["email"] == "ann.smith@example.com"
    assert body["currency"] == "SEK"
    UUID(body["id"])


async def test_registration_opens_the_wallet_and_announces_the_player(api: Api) -> None:
    response = await api.register(email="wallet@example.com", currency="EUR", country="MT")
    player_id = UUID(response.json()["id"])

    assert await api.platform.ledger.wallet(player_id, "EUR") is not None
    registered = [e for e in await api.published_events() if e.type == "player.registered"]
    assert len(registered) == 1
    assert registered[0].version == 1
    assert registered[0].key == str(player_id)
    assert registered[0].payload == {
        "player_id": str(player_id),
        "email": "wallet@example.com",
        "country": "MT",
        "currency": "EUR",
    }


async def test_same_email_in_other_case_is_email_taken(api: Api) -> None:
    assert (await api.register(email="dup@example.com")).status_code == 201

    assert_error(await api.register(email="DUP@example.com"), 409, "email_taken")


async def test_concurrent_registrations_of_one_email_make_one_account(api: Api) -> None:
    responses = await asyncio.gather(*(api.register(email="race@example.com") for _ in range(4)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    for r in responses:
        if r.status_code == 409:
            assert_error(r, 409, "email_taken")


async def test_player_eighteen_today_may_register(api: Api) -> None:
    # The clock says 2026-01-01.
    assert (await api.register(date_of_birth="2008-01-01")).status_code == 201


@pytest.mark.parametrize("date_of_birth", ["2008-01-02", "2020-06-30", "2030-01-01"])
async def test_player_under_eighteen_is_underage(api: Api, date_of_birth: str) -> None:
    assert_error(await api.register(date_of_birth=date_of_birth), 403, "underage")


@pytest.mark.parametrize("password", ["Short1!x", "password123", "qwertyuiop12", "1234567890"])
async def test_weak_password_is_refused(api: Api, password: str) -> None:
    assert_error(await api.register(password=password), 422, "weak_password")


async def test_password_built_from_the_email_is_weak(api: Api) -> None:
    response = await api.register(email="kowalczykowa@example.com", password="kowalczykowa2001")

    assert_error(response, 422, "weak_password")


@pytest.mark.parametrize("country", ["XX", "gb", "GBR", "UK", "1"])
async def test_unknown_country_is_invalid_country(api: Api, country: str) -> None:
    assert_error(await api.register(country=country), 422, "invalid_country")


@pytest.mark.parametrize("currency", ["XYZ", "eur", "EURO", "E"])
async def test_unsupported_currency_is_invalid_currency(api: Api, currency: str) -> None:
    assert_error(await api.register(currency=currency), 422, "invalid_currency")


@pytest.mark.parametrize("email", ["not-an-email", "ann@", "ann@localhost", "a b@example.com"])
async def test_malformed_email_is_invalid_email(api: Api, email: str) -> None:
    assert_error(await api.register(email=email), 422, "invalid_email")


_GOOD_REGISTRATION: dict[str, Any] = {
    "email": "typed@example.com",
    "password": STRONG_PASSWORD,
    "date_of_birth": "1990-05-17",
    "country": "GB",
    "currency": "EUR",
}


@pytest.mark.parametrize(
    "change",
    [
        {"email": None},
        {"email": 12345},
        {"password": ["x"]},
        {"password": "Vq8#zL2!mW9p" * 30},  # over the 256-character cap
        {"date_of_birth": 631152000},  # a Unix timestamp is not a date
        {"date_of_birth": "17/05/1990"},
        {"date_of_birth": "1990-02-30"},
        {"date_of_birth": "1990-05-17T00:00:00"},
        {"date_of_birth": "1899-12-31"},
        {"country": 44},
        {"currency": True},
        {"nickname": "ann"},  # unknown fields are refused
    ],
)
async def test_registration_with_bad_fields_is_invalid_request(api: Api, change: dict[str, Any]) -> None:
    body = {**_GOOD_REGISTRATION, **change}

    assert_error(await api.client.post("/api/v1/players", json=body), 422, "invalid_request")


@pytest.mark.parametrize("missing", ["email", "password", "date_of_birth", "country", "currency"])
async def test_registration_missing_a_field_is_invalid_request(api: Api, missing: str) -> None:
    body = {k: v for k, v in _GOOD_REGISTRATION.items() if k != missing}

    response = await api.client.post("/api/v1/players", json=body)

    assert_error(response, 422, "invalid_request")
    assert missing in str(response.json()["error"]["details"])


@pytest.mark.parametrize("path", ["/api/v1/players", "/api/v1/sessions"])
async def test_body_that_is_not_json_is_malformed_json(api: Api, path: str) -> None:
    response = await api.client.post(
        path, content=b'{"email": "a@example.com", ', headers={"Content-Type": "application/json"}
    )

    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize("body", [[], "text", 5, None])
async def test_json_that_is_not_an_object_is_invalid_request(api: Api, body: Any) -> None:
    assert_error(await api.client.post("/api/v1/players", json=body), 422, "invalid_request")


# --- login ----------------------------------------------------------------------------------------


async def test_login_returns_a_token_that_expires_after_the_session_ttl(api: Api) -> None:
    await api.register(email="login@example.com")

    response = await api.login("LOGIN@example.com")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    assert len(body["token"]) >= 43  # 32 random bytes, URL-safe base64
    assert datetime.fromisoformat(body["expires_at"]) == START + timedelta(seconds=SESSION_TTL_S)


async def test_each_login_gets_its_own_token(api: Api) -> None:
    await api.register(email="twice@example.com")

    first = (await api.login("twice@example.com")).json()["token"]
    second = (await api.login("twice@example.com")).json()["token"]

    assert first != second
    for token in (first, second):
        me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200


async def test_login_announces_the_session(api: Api) -> None:
    player = await api.new_player()

    started = [e for e in await api.published_events() if e.type == "player.session_started"]

    assert len(started) == 1
    assert started[0].payload["player_id"] == str(player.id)
    UUID(started[0].payload["session_id"])


async def test_staff_login_does_not_announce_a_player_session(api: Api) -> None:
    await api.new_staff("trader")

    assert not [e for e in await api.published_events() if e.type == "player.session_started"]


async def test_the_token_is_not_stored_only_its_hash(api: Api) -> None:
    player = await api.new_player()

    async with api.platform.db.read() as conn:
        rows = (await conn.execute(store.sessions.select())).mappings().all()

    assert len(rows) == 1
    assert player.token not in {str(v) for v in rows[0].values()}
    assert rows[0]["token_hash"] != player.token
    assert len(rows[0]["token_hash"]) == 64


async def test_wrong_password_is_invalid_credentials(api: Api) -> None:
    await api.register(email="wrong@example.com")

    assert_error(await api.login("wrong@example.com", "Not-the-password-1"), 401, "invalid_credentials")


@pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email", "   "])
async def test_unknown_email_is_invalid_credentials(api: Api, email: str) -> None:
    assert_error(await api.login(email), 401, "invalid_credentials")


async def test_unknown_email_costs_the_same_password_check_as_a_real_one(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So response times do not reveal which emails have accounts."""
    await api.register(email="known@example.com")
    checked: list[str] = []
    verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str | bytes, password: str | bytes) -> Literal[True]:
        checked.append(str(password))
        return verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)

    await api.login("known@example.com", "Guess-number-1")
    await api.login("unknown@example.com", "Guess-number-2")
    await api.login("not-an-email", "Guess-number-3")

    assert checked == ["Guess-number-1", "Guess-number-2", "Guess-number-3"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"password": STRONG_PASSWORD},
        {"email": "a@example.com", "password": ""},
        {"email": 1, "password": STRONG_PASSWORD},
        {"email": "a@example.com", "password": STRONG_PASSWORD, "remember_me": True},
    ],
)
async def test_login_with_bad_fields_is_invalid_request(api: Api, body: dict[str, Any]) -> None:
    assert_error(await api.client.post("/api/v1/sessions", json=body), 422, "invalid_request")


async def test_login_accepts_an_otp_field_before_two_factor_exists(api: Api) -> None:
    await api.register(email="otp@example.com")

    response = await api.client.post(
        "/api/v1/sessions", json={"email": "otp@example.com", "password": STRONG_PASSWORD, "otp": "123456"}
    )

    assert response.status_code == 201, response.text


async def test_fifth_consecutive_failure_locks_the_account(api: Api) -> None:
    await api.register(email="lock@example.com")

    for _ in range(4):
        assert_error(await api.login("lock@example.com", "Not-the-password-1"), 401, "invalid_credentials")
    assert_error(await api.login("lock@example.com", "Not-the-password-1"), 423, "account_locked")

    # Even the right password waits for the lock to end.
    assert_error(await api.login("lock@example.com"), 423, "account_locked")


async def test_locked_account_opens_again_when_the_lock_ends(api: Api) -> None:
    await api.register(email="unlock@example.com")
    for _ in range(5):
        await api.login("unlock@example.com", "Not-the-password-1")

    api.clock.advance(api.platform.settings.login_lock_s - 1)
    assert_error(await api.login("unlock@example.com"), 423, "account_locked")
    api.clock.advance(1)

    assert (await api.login("unlock@example.com")).status_code == 201


async def test_successful_login_resets_the_failure_count(api: Api) -> None:
    await api.register(email="reset@example.com")
    for _ in range(4):
        await api.login("reset@example.com", "Not-the-password-1")
    assert (await api.login("reset@example.com")).status_code == 201

    for _ in range(4):
        assert_error(await api.login("reset@example.com", "Not-the-password-1"), 401, "invalid_credentials")


async def test_eleventh_attempt_on_one_email_in_a_minute_is_rate_limited(api: Api) -> None:
    await api.register(email="busy@example.com")
    assert (await api.login("busy@example.com")).status_code == 201  # successes count as attempts too
    for _ in range(9):
        await api.login("busy@example.com", "Not-the-password-1")

    # The right password, in another case: the limit is on the account, not the spelling.
    response = await api.login("Busy@Example.com")

    assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60


async def test_login_attempts_from_one_ip_are_rate_limited_across_emails(api: Api) -> None:
    for i in range(30):
        assert_error(await api.login(f"spray{i}@example.com"), 401, "invalid_credentials")

    response = await api.login("spray-last@example.com")

    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) >= 1
    other_ip = await api.client_from("203.0.113.9")
    elsewhere = await other_ip.post("/api/v1/sessions", json={"email": "x@example.com", "password": "p"})
    assert_error(elsewhere, 401, "invalid_credentials")


async def test_disabled_account_cannot_log_in_and_its_sessions_stop_working(api: Api) -> None:
    player = await api.new_player()
    async with api.platform.db.transaction() as conn:
        await store.PlayerStore(conn).set_status(player.id, Status.DISABLED)

    assert_error(await api.login(player.email), 403, "account_disabled")
    assert_error(await api.client.get("/api/v1/me", headers=player.headers), 401, "unauthorized")


# --- me, logout and the bearer token --------------------------------------------------------------


async def test_me_shows_the_player(api: Api) -> None:
    registered = await api.register(email="me@example.com", date_of_birth="1985-11-03", country="DE")
    token = (await api.login("me@example.com")).json()["token"]

    response = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {
        "id": registered.json()["id"],
        "email": "me@example.com",
        "role": "player",
        "country": "DE",
        "currency": "EUR",
        "date_of_birth": "1985-11-03",
        "created_at": body["created_at"],
        "kyc_status": "unverified",
    }
    assert datetime.fromisoformat(body["created_at"]) == START


async def test_me_shows_staff_with_their_role_and_no_wallet(api: Api) -> None:
    trader = await api.new_staff("trader")

    body = (await api.client.get("/api/v1/me", headers=trader.headers)).json()

    assert body["role"] == "trader"
    assert body["id"] == str(trader.id)
    assert body["currency"] is None
    assert body["date_of_birth"] is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-real-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token abc"},
    ],
)
async def test_me_without_a_valid_token_is_unauthorized(api: Api, headers: dict[str, str]) -> None:
    assert_error(await api.client.get("/api/v1/me", headers=headers), 401, "unauthorized")


async def test_token_stops_working_when_the_session_expires(api: Api) -> None:
    player = await api.new_player()
    api.clock.advance(SESSION_TTL_S - 1)
    assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 200

    api.clock.advance(1)

    assert_error(await api.client.get("/api/v1/me", headers=player.headers), 401, "unauthorized")
    logout = await api.client.delete("/api/v1/sessions/current", headers=player.headers)
    assert_error(logout, 401, "unauthorized")


async def test_logout_ends_only_that_session(api: Api) -> None:
    player = await api.new_player()
    other = (await api.login(player.email)).json()["token"]

    response = await api.client.delete("/api/v1/sessions/current", headers=player.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert_error(await api.client.get("/api/v1/me", headers=player.headers), 401, "unauthorized")
    still = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"})
    assert still.status_code == 200


async def test_logging_out_twice_is_unauthorized(api: Api) -> None:
    player = await api.new_player()
    assert (await api.client.delete("/api/v1/sessions/current", headers=player.headers)).status_code == 204

    response = await api.client.delete("/api/v1/sessions/current", headers=player.headers)

    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
async def test_logout_without_a_valid_token_is_unauthorized(api: Api, headers: dict[str, str]) -> None:
    assert_error(await api.client.delete("/api/v1/sessions/current", headers=headers), 401, "unauthorized")


# --- roles ----------------------------------------------------------------------------------------


def _mount_probes(api: Api) -> None:
    """Routes guarded like other features guard theirs, to prove the guards themselves."""
    probes = APIRouter()

    @probes.get("/test/players-only")
    async def players_only(user: Principal = Depends(current_player)) -> dict[str, str]:
        return {"id": str(user.id)}

    @probes.get("/test/trading")
    async def trading(user: Principal = Depends(require_role("trader"))) -> dict[str, str]:
        return {"role": user.role.value}

    api.app.include_router(probes)


async def test_staff_are_forbidden_player_routes(api: Api) -> None:
    _mount_probes(api)
    player = await api.new_player()
    support = await api.new_staff("support")

    own = await api.client.get("/test/players-only", headers=player.headers)
    assert own.json() == {"id": str(player.id)}
    assert_error(await api.client.get("/test/players-only", headers=support.headers), 403, "forbidden")


@pytest.mark.parametrize(("role", "allowed"), [("trader", True), ("admin", True), ("risk", False)])
async def test_staff_routes_admit_their_role_and_admins(api: Api, role: str, allowed: bool) -> None:
    _mount_probes(api)
    staff = await api.new_staff(role)

    response = await api.client.get("/test/trading", headers=staff.headers)

    if allowed:
        assert response.json() == {"role": role}
    else:
        assert_error(response, 403, "forbidden")


async def test_players_are_forbidden_staff_routes(api: Api) -> None:
    _mount_probes(api)
    player = await api.new_player()

    assert_error(await api.client.get("/test/trading", headers=player.headers), 403, "forbidden")
    assert_error(await api.client.get("/test/trading"), 401, "unauthorized")


# --- staff accounts (the logic behind `sportsbook admin create`) ------------------------------------


async def test_staff_account_gets_its_role(api: Api) -> None:
    staff_id = await api.platform.players.create_staff("Boss@Example.com", STRONG_PASSWORD, "admin")

    token = (await api.login("boss@example.com")).json()["token"]
    me = (await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()

    assert me["id"] == str(staff_id)
    assert me["role"] == "admin"


@pytest.mark.parametrize(
    ("email", "password", "role", "code"),
    [
        ("taken@example.com", STRONG_PASSWORD, "risk", "email_taken"),
        (unique_email("staff"), STRONG_PASSWORD, "player", "invalid_role"),
        (unique_email("staff"), STRONG_PASSWORD, "superuser", "invalid_role"),
        (unique_email("staff"), "password123", "risk", "weak_password"),
        ("not-an-email", STRONG_PASSWORD, "risk", "invalid_email"),
    ],
)
async def test_staff_account_refusals(api: Api, email: str, password: str, role: str, code: str) -> None:
    await api.register(email="taken@example.com")

    with pytest.raises(DomainError) as info:
        await api.platform.players.create_staff(email, password, role)

    assert info.value.code == code


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_register_login_me_logout_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        email = unique_email()
        registered = await api.register(email=email)
        assert registered.status_code == 201, registered.text
        assert_error(await api.register(email=email), 409, "email_taken")
        token = (await api.login(email)).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}

        me = await api.client.get("/api/v1/me", headers=headers)
        assert me.json()["id"] == registered.json()["id"]
        assert (await api.client.delete("/api/v1/sessions/current", headers=headers)).status_code == 204
        assert_error(await api.client.get("/api/v1/me", headers=headers), 401, "unauthorized")
        kinds = [e.type for e in await api.published_events()]
        assert kinds.count("player.registered") == 1
        assert kinds.count("player.session_started") == 1


@pytest.mark.postgres
async def test_concurrent_registrations_make_one_account_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        email = unique_email("race")
        responses = await asyncio.gather(*(api.register(email=email) for _ in range(4)))

        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"email_taken"}


@pytest.mark.postgres
async def test_concurrent_wrong_passwords_all_count_towards_the_lock_on_postgresql(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        player = await api.new_player()
        limit = api.platform.settings.login_max_failures

        wrong = [api.login(player.email, "Not-the-password-1") for _ in range(limit)]
        responses = await asyncio.gather(*wrong)

        assert sorted(r.status_code for r in responses) == [401] * (limit - 1) + [423]
        assert_error(await api.login(player.email), 423, "account_locked")


async def test_cached_sessions_expire_spread_over_the_second_half_of_the_cache_ttl(api: Api) -> None:
    # Sessions cached in the same instant must not all be read again in the same instant (a spike every TTL).
    ttl = api.platform.settings.session_cache_s
    players = [await api.new_player() for _ in range(20)]
    for player in players:  # cached now, for between half and all of the cache's time
        assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 200
    async with api.platform.db.transaction() as conn:
        for player in players:
            await store.PlayerStore(conn).set_status(player.id, Status.DISABLED)

    async def still_trusted() -> int:
        answers = [await api.client.get("/api/v1/me", headers=p.headers) for p in players]
        return sum(1 for a in answers if a.status_code == 200)

    api.clock.advance(ttl * 0.48)
    assert await still_trusted() == 20
    api.clock.advance(ttl * 0.27)  # three quarters of the time: about half were read again and refused
    assert 0 < await still_trusted() < 20
    api.clock.advance(ttl * 0.26)
    assert await still_trusted() == 0

"""No request, however malformed, gets a 500: every write endpoint fed random JSON, headers and tokens."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from sportsbook.app import create_app
from tests.http.conftest import STRONG_PASSWORD, test_settings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["email", "password", "date_of_birth", "country", "currency", "otp", "player_id", "amount", "reason", "x"]
)
bodies = json_values | st.dictionaries(field_names, json_values, max_size=6)
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def test_random_bodies_never_get_a_server_error(database_url: str) -> None:
    # on both backends: PostgreSQL refuses some text that SQLite stores (NUL)
    app = create_app(test_settings(database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        platform = app.state.platform
        assert client.portal is not None
        client.portal.call(platform.players.create_staff, "fuzz-admin@example.com", STRONG_PASSWORD, "admin")
        registered = client.post(
            "/api/v1/players",
            json={"email": "fuzz-player@example.com", "password": STRONG_PASSWORD, "date_of_birth": "1990-01-01",
                  "country": "GB", "currency": "EUR"},
        )  # fmt: skip
        assert registered.status_code == 201
        tokens = {
            who: client.post(
                "/api/v1/sessions", json={"email": f"fuzz-{who}@example.com", "password": STRONG_PASSWORD}
            ).json()["token"]
            for who in ("admin", "player")
        }
        # every write operation the public contract (the OpenAPI schema) offers, path ids filled with a zero id
        routes = sorted(
            (method.upper(), re.sub(r"\{[^}]+\}", ZERO_ID, path))
            for path, operations in app.openapi()["paths"].items()
            for method in operations
            if method in {"post", "put", "patch", "delete"}
        )
        assert ("POST", "/api/v1/players") in routes

        @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(
            route=st.sampled_from(routes),
            body=bodies,
            who=st.sampled_from(["admin", "player", "anonymous", "garbage"]),
            key=st.none() | st.text(max_size=300),
        )
        def check(route: tuple[str, str], body: Any, who: str, key: str | None) -> None:
            headers = {"Authorization": f"Bearer {tokens.get(who, 'garbage-token')}"} if who != "anonymous" else {}
            if key is not None and key.isprintable() and key.isascii():
                headers["Idempotency-Key"] = key
            method, path = route
            # NaN and Infinity go out as the non-standard literals: the server must still answer 4xx
            content = json.dumps(body, allow_nan=True).encode()
            headers["Content-Type"] = "application/json"
            response = client.request(method, path, content=content, headers=headers)
            assert response.status_code < 500, (route, body, response.text)
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"code", "message"}

        check()

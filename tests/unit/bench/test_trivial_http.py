"""The HTTP bench's baseline endpoint parses what the bet route parses and answers at once; its load report becomes
the `baseline_*` figures."""

from __future__ import annotations

import uuid

from bench.placement_http import baseline_load_figures
from bench.trivial_http import create_app
from fastapi.testclient import TestClient

SELECTION = str(uuid.UUID(int=7))
BODY = {"type": "single", "legs": [{"selection_id": SELECTION, "odds": "2.50"}], "stake": 1_000}
HEADERS = {"Authorization": "Bearer some-token", "Idempotency-Key": "bench-1-1"}


def test_a_bet_body_with_both_headers_is_answered_201_with_what_was_parsed() -> None:
    response = TestClient(create_app()).post("/api/v1/bets", json=BODY, headers=HEADERS)
    assert response.status_code == 201
    assert response.json() == {
        "id": "bench-1-1",
        "status": "accepted",
        "lines": 1,
        "stake": 1_000,
        "total_stake": 1_000,
        "legs": [{"selection_id": SELECTION, "odds": "2.50"}],
    }


def test_a_multiple_as_the_bench_sends_it_is_parsed() -> None:
    legs = [{"selection_id": str(uuid.UUID(int=i)), "odds": "1.90"} for i in range(1, 4)]
    response = TestClient(create_app()).post(
        "/api/v1/bets", json={"type": "multiple", "legs": legs, "stake": 100}, headers=HEADERS
    )
    assert response.status_code == 201
    assert len(response.json()["legs"]) == 3


def test_the_body_is_validated_as_the_bet_route_validates_it() -> None:
    client = TestClient(create_app())
    for body in (
        {**BODY, "stake": 0},
        {**BODY, "legs": []},
        {**BODY, "type": "accumulator"},
        {**BODY, "surprise": 1},
        {**BODY, "legs": [{"selection_id": "not-a-uuid", "odds": "2.50"}]},
    ):
        assert client.post("/api/v1/bets", json=body, headers=HEADERS).status_code == 422, body


def test_both_headers_are_required() -> None:
    client = TestClient(create_app())
    assert client.post("/api/v1/bets", json=BODY, headers={"Authorization": "Bearer t"}).status_code == 422
    assert client.post("/api/v1/bets", json=BODY, headers={"Idempotency-Key": "k"}).status_code == 422
    response = client.post("/api/v1/bets", json=BODY, headers={**HEADERS, "Authorization": "Basic dTpw"})
    assert response.status_code == 401


def test_ready_answers_for_the_bench_to_wait_on() -> None:
    assert TestClient(create_app()).get("/health/ready").status_code == 200


def test_baseline_load_figures_rename_the_generator_report() -> None:
    load = {
        "generator": "wrk -t2 -c64",
        "throughput_per_s": 9_000,
        "p50_ms": 6.5,
        "p99_ms": 20.1,
        "max_ms": 40.0,
        "mean_ms": 7.0,
        "requests": 90_000,
        "ok": 89_990,
        "non_2xx": {"422": 10},
        "socket_errors": 0,
    }
    assert baseline_load_figures(load) == {
        "baseline_requests_per_s": 9_000,
        "baseline_p50_ms": 6.5,
        "baseline_p99_ms": 20.1,
        "baseline_max_ms": 40.0,
        "baseline_requests": 90_000,
        "baseline_non_2xx": {"422": 10},
        "baseline_socket_errors": 0,
    }

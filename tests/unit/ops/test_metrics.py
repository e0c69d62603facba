"""Prometheus metrics: requests and latency labelled by route template, and a parseable /metrics."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, Counter
from prometheus_client.parser import text_string_to_metric_families

from sportsbook.ops import metrics

BET_ROUTE = "/api/v1/bets/{bet_id}"


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    @app.get("/api/v1/bets/{bet_id}")
    async def get_bet(bet_id: int) -> dict[str, Any]:
        return {"id": bet_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    sub = FastAPI()

    @sub.get("/markets/{market_id}")
    async def market(market_id: str) -> dict[str, str]:
        return {"id": market_id}

    app.mount("/catalog", sub)
    return app


def requests_total(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("sportsbook_http_requests_total", labels) or 0.0


def duration_count(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("sportsbook_http_request_duration_seconds_count", labels) or 0.0


async def scrape(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(response.text)}


async def test_requests_are_counted_by_method_route_template_and_status(client: httpx.AsyncClient) -> None:
    ok_before = requests_total("GET", BET_ROUTE, 200)
    invalid_before = requests_total("GET", BET_ROUTE, 422)

    await client.get("/api/v1/bets/1")
    await client.get("/api/v1/bets/2")
    await client.get("/api/v1/bets/not-a-number")

    assert requests_total("GET", BET_ROUTE, 200) == ok_before + 2
    assert requests_total("GET", BET_ROUTE, 422) == invalid_before + 1


async def test_latency_is_observed_per_route_template(client: httpx.AsyncClient) -> None:
    before = duration_count("GET", BET_ROUTE)

    await client.get("/api/v1/bets/3")

    assert duration_count("GET", BET_ROUTE) == before + 1


async def test_an_unmatched_path_is_labelled_unmatched_never_with_the_raw_path(
    client: httpx.AsyncClient,
) -> None:
    before = requests_total("GET", "unmatched", 404)

    await client.get("/wp-admin/install.php")

    assert requests_total("GET", "unmatched", 404) == before + 1
    families = await scrape(client)
    routes = {s.labels.get("route") for s in families["sportsbook_http_requests"].samples}
    assert "/wp-admin/install.php" not in routes
    assert "/api/v1/bets/3" not in routes


async def test_a_wrong_method_is_counted_under_the_routes_template(client: httpx.AsyncClient) -> None:
    before = requests_total("DELETE", BET_ROUTE, 405)

    await client.delete("/api/v1/bets/1")

    assert requests_total("DELETE", BET_ROUTE, 405) == before + 1


async def test_an_unknown_method_is_labelled_other(client: httpx.AsyncClient) -> None:
    before = requests_total("other", "unmatched", 404)

    await client.request("BREW", "/coffee")

    assert requests_total("other", "unmatched", 404) == before + 1


async def test_an_unhandled_exception_is_counted_as_a_500(client: httpx.AsyncClient) -> None:
    before = requests_total("GET", "/boom", 500)

    response = await client.get("/boom")

    assert response.status_code == 500
    assert requests_total("GET", "/boom", 500) == before + 1


async def test_a_mounted_apps_route_is_labelled_with_the_mount_prefix(client: httpx.AsyncClient) -> None:
    before = requests_total("GET", "/catalog/markets/{market_id}", 200)

    await client.get("/catalog/markets/m-1")

    assert requests_total("GET", "/catalog/markets/{market_id}", 200) == before + 1


async def test_metrics_endpoint_serves_the_prometheus_text_format(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/bets/1")

    response = await client.get("/metrics")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    assert response.headers["content-type"].startswith("text/plain")
    assert "version=" in response.headers["content-type"]
    assert families["sportsbook_http_requests"].type == "counter"
    histogram = families["sportsbook_http_request_duration_seconds"]
    assert histogram.type == "histogram"
    bounds = {s.labels["le"] for s in histogram.samples if s.name.endswith("_bucket")}
    assert {"0.0005", "10.0", "+Inf"} <= bounds


async def test_metrics_carry_no_created_series(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/bets/1")

    response = await client.get("/metrics")

    assert "sportsbook_http_requests_created" not in response.text
    assert "_created" not in response.text


async def test_metrics_endpoint_counts_itself_like_any_route(client: httpx.AsyncClient) -> None:
    before = requests_total("GET", "/metrics", 200)

    await client.get("/metrics")

    assert requests_total("GET", "/metrics", 200) == before + 1


async def test_a_features_own_metric_in_the_default_registry_is_scraped(client: httpx.AsyncClient) -> None:
    transfers = Counter("sportsbook_test_transfers_total", "A feature's metric.", ("result",))
    try:
        transfers.labels("posted").inc(3)

        families = await scrape(client)

        [sample] = [s for s in families["sportsbook_test_transfers"].samples if s.name.endswith("_total")]
        assert sample.labels == {"result": "posted"}
        assert sample.value == 3
    finally:
        REGISTRY.unregister(transfers)


def test_websockets_are_not_counted_as_requests(app: FastAPI) -> None:
    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.receive_text()

    before = duration_count("GET", "/ws")
    with TestClient(app).websocket_connect("/ws") as client:
        assert client.receive_text() == "hello"

    assert duration_count("GET", "/ws") == before
    assert requests_total("GET", "/ws", 101) == 0


def test_installing_twice_counts_each_request_once() -> None:
    app = FastAPI()
    metrics.install(app)
    metrics.install(app)
    before = requests_total("GET", "/metrics", 200)
    TestClient(app).get("/metrics")

    assert requests_total("GET", "/metrics", 200) == before + 1

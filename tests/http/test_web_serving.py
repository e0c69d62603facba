"""The web app's build served at `/` by the API: hashed assets cached for good, the app's own routes answered
with index.html, the API's unknown paths still JSON 404s, and no app at all when nothing is built."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sportsbook.app import create_app
from tests.http.conftest import test_settings


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "robots.txt").write_text("User-agent: *")
    return tmp_path


async def _client(sqlite_url: str, web_dir: Path) -> httpx.AsyncClient:
    app = create_app(test_settings(sqlite_url, web_dir=web_dir))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_build_is_served_with_the_apps_routes_falling_back_to_index(sqlite_url: str, dist: Path) -> None:
    async with await _client(sqlite_url, dist) as client:
        for path in ("/", "/wallet", "/events/123", "/admin", "/admin/trading"):
            answer = await client.get(path)
            assert answer.status_code == 200, path
            assert "<title>app</title>" in answer.text
            assert answer.headers["cache-control"] == "no-cache"
        asset = await client.get("/assets/index-abc123.js")
        assert asset.status_code == 200
        assert "immutable" in asset.headers["cache-control"]
        assert (await client.get("/robots.txt")).text == "User-agent: *"
        assert (await client.get("/assets/none.js")).status_code == 404


async def test_the_apis_unknown_paths_stay_json_404s(sqlite_url: str, dist: Path) -> None:
    async with await _client(sqlite_url, dist) as client:
        for path in ("/api/v1/nothing", "/api/nothing", "/ws/nothing", "/health/nothing", "/metricsx"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"]["code"] == "not_found"
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Sportsbook"
        # a wrong method on an API path is still 405, an unknown path of any method 404
        assert (await client.post("/api/v1/wallet")).status_code == 405
        assert (await client.post("/nothing")).status_code == 404


async def test_without_a_build_there_is_no_app(sqlite_url: str, tmp_path: Path) -> None:
    async with await _client(sqlite_url, tmp_path / "none") as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/wallet")).status_code == 404

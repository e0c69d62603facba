"""Health probes: live while serving; ready only when started and every configured dependency answers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sportsbook.db.engine import Database
from sportsbook.ops import health

from .conftest import StubBus, StubDatabase, StubPlatform, StubSettings, build_app


def closed_port() -> int:
    """A local port nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def get(platform: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_app(platform), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sportsbook.test") as client:
        return await client.get(path)


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'health.sqlite3'}")
    yield database
    await database.dispose()


@pytest.fixture
async def unreachable_database() -> AsyncIterator[Database]:
    database = Database(f"postgresql://sportsbook@127.0.0.1:{closed_port()}/sportsbook")
    yield database
    await database.dispose()


async def test_live_answers_ok_while_the_process_serves(platform: StubPlatform) -> None:
    response = await get(platform, "/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_live_answers_ok_even_when_the_database_is_down() -> None:
    response = await get(StubPlatform(db=StubDatabase(OSError("down"))), "/health/live")

    assert response.status_code == 200


async def test_ready_on_a_working_database(sqlite_database: Database) -> None:
    response = await get(StubPlatform(db=sqlite_database), "/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


async def test_not_ready_when_the_database_is_unreachable(unreachable_database: Database) -> None:
    response = await get(StubPlatform(db=unreachable_database), "/health/ready")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"].startswith("error: ")


async def test_not_ready_when_the_database_ping_raises() -> None:
    response = await get(StubPlatform(db=StubDatabase(ConnectionRefusedError("refused"))), "/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "error: ConnectionRefusedError"},
    }


async def test_the_failure_message_stays_in_the_log_not_the_answer() -> None:
    error = OSError("could not connect to postgresql://sportsbook:hunter2@db:5432")

    response = await get(StubPlatform(db=StubDatabase(error)), "/health/ready")

    assert "hunter2" not in response.text


async def test_a_database_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_TIMEOUT_S", 0.01)

    response = await get(StubPlatform(db=StubDatabase(hang=True)), "/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "timeout"}


async def test_not_ready_before_the_platform_has_started() -> None:
    response = await get(StubPlatform(started=False), "/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"platform": "not_started"}}


async def test_not_ready_when_no_platform_is_attached() -> None:
    response = await get(None, "/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"platform": "not_started"}


async def test_the_bus_is_checked_when_a_broker_is_configured() -> None:
    settings = StubSettings(broker_url="amqp://guest:guest@127.0.0.1:5672/")

    healthy = await get(StubPlatform(settings=settings, bus=StubBus(healthy=True)), "/health/ready")
    unhealthy = await get(StubPlatform(settings=settings, bus=StubBus(healthy=False)), "/health/ready")

    assert healthy.status_code == 200
    assert healthy.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert unhealthy.status_code == 503
    assert unhealthy.json()["checks"] == {"database": "ok", "broker": "down"}


async def test_the_in_process_bus_is_not_a_readiness_check() -> None:
    response = await get(StubPlatform(bus=StubBus(healthy=False)), "/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_not_ready_when_the_configured_redis_is_unreachable() -> None:
    settings = StubSettings(redis_url=f"redis://127.0.0.1:{closed_port()}/0")

    response = await get(StubPlatform(settings=settings), "/health/ready")

    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


@pytest.mark.redis
async def test_ready_with_a_reachable_redis(redis_url: str) -> None:
    response = await get(StubPlatform(settings=StubSettings(redis_url=redis_url)), "/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_every_failing_check_is_named() -> None:
    platform = StubPlatform(
        settings=StubSettings(broker_url="amqp://x", redis_url=f"redis://127.0.0.1:{closed_port()}/0"),
        db=StubDatabase(OSError("down")),
        bus=StubBus(healthy=False),
    )

    response = await get(platform, "/health/ready")

    checks = response.json()["checks"]
    assert response.status_code == 503
    assert set(checks) == {"database", "broker", "redis"}
    assert "ok" not in checks.values()


async def test_a_broken_platform_object_gives_503_never_500() -> None:
    class Broken:
        started = True

        @property
        def settings(self) -> Any:
            raise RuntimeError("half-built platform")

    response = await get(Broken(), "/health/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"readiness": "error"}}

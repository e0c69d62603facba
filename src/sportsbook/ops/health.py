"""Health probes: `/health/live` (the process serves) and `/health/ready` (it can do useful work).

Readiness checks what a request needs: the database always, the broker and Redis when configured. A load
balancer or Kubernetes takes a node out of rotation on 503 and keeps it alive as long as it is live."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = structlog.get_logger("sportsbook.health")

# Below a typical probe timeout (Kubernetes' default is 1 s): a check that hangs answers "timeout" itself
# rather than the probe giving up on us without saying which dependency was slow.
CHECK_TIMEOUT_S = 0.8

_NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter(tags=["operations"])


class _Settings(Protocol):
    @property
    def broker_url(self) -> str | None: ...
    @property
    def redis_url(self) -> str | None: ...


class _Database(Protocol):
    async def ping(self) -> None: ...


class _Bus(Protocol):
    def is_healthy(self) -> bool: ...


class _Platform(Protocol):
    """What readiness reads from the platform, and nothing more."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def db(self) -> _Database: ...
    @property
    def bus(self) -> _Bus: ...
    @property
    def started(self) -> bool: ...


@router.get("/health/live", summary="The process is up and serving")
async def live() -> JSONResponse:
    """200 while the event loop answers. No dependency is consulted: a database outage must not restart us."""
    return JSONResponse({"status": "ok"}, headers=_NO_STORE)


@router.get("/health/ready", summary="The node can serve traffic", responses={503: {"description": "Not ready"}})
async def ready(request: Request) -> JSONResponse:
    """200 when the platform has started and every configured dependency answers; 503 naming what failed."""
    platform: _Platform | None = getattr(request.app.state, "platform", None)
    try:
        checks = await readiness_checks(platform)
    except Exception as exc:  # a probe must answer, never 500; the cause goes to the log
        log.error("readiness_failed", exc_info=exc)
        checks = {"readiness": "error"}
    if all(result == "ok" for result in checks.values()):
        return JSONResponse({"status": "ready", "checks": checks}, headers=_NO_STORE)
    return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503, headers=_NO_STORE)


async def readiness_checks(platform: _Platform | None) -> dict[str, str]:
    """Each check's result, "ok" or why not; the checks run concurrently, each bounded by CHECK_TIMEOUT_S."""
    if platform is None or not platform.started:
        return {"platform": "not_started"}
    settings = platform.settings
    probes: dict[str, Callable[[], Awaitable[Any]]] = {"database": platform.db.ping}
    if settings.broker_url:
        probes["broker"] = _bus_probe(platform.bus)
    if settings.redis_url:
        probes["redis"] = _redis_probe(settings.redis_url)
    results = await asyncio.gather(*(_run(name, probe) for name, probe in probes.items()))
    return dict(zip(probes, results, strict=True))


async def _run(name: str, probe: Callable[[], Awaitable[Any]]) -> str:
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        log.warning("readiness_check_failed", check=name, reason="timeout", timeout_s=CHECK_TIMEOUT_S)
        return "timeout"
    except DependencyDown as exc:
        log.warning("readiness_check_failed", check=name, reason=str(exc))
        return "down"
    except Exception as exc:
        # The client sees only the exception's type: messages can carry hosts or credentials from a URL.
        log.warning("readiness_check_failed", check=name, reason=type(exc).__name__, error=str(exc))
        return f"error: {type(exc).__name__}"
    return "ok"


class DependencyDown(Exception):
    """A dependency reported itself unhealthy without raising."""


def _bus_probe(bus: _Bus) -> Callable[[], Awaitable[None]]:
    async def probe() -> None:
        if not bus.is_healthy():
            raise DependencyDown("the event bus reports itself unhealthy")

    return probe


def _redis_probe(url: str) -> Callable[[], Awaitable[None]]:
    async def probe() -> None:
        # A fresh connection each time proves a new connection can be made, and leaves nothing open
        # between probes. No retries: the probe's answer should be about now.
        client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=CHECK_TIMEOUT_S,
            socket_timeout=CHECK_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            await client.ping()
        finally:
            await client.aclose()

    return probe

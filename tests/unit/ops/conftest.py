"""An app made of the ops pieces alone, a stand-in platform, and captured JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI

from sportsbook.ops import health, metrics
from sportsbook.ops import logging as ops_logging
from sportsbook.ops.http import install_error_handlers
from sportsbook.ops.logging import configure_logging, install_request_context


@dataclass
class StubSettings:
    broker_url: str | None = None
    redis_url: str | None = None


class StubDatabase:
    """A database whose ping succeeds, raises `error`, or never answers."""

    def __init__(self, error: Exception | None = None, *, hang: bool = False) -> None:
        self.error = error
        self.hang = hang

    async def ping(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error


@dataclass
class StubBus:
    healthy: bool = True

    def is_healthy(self) -> bool:
        return self.healthy


@dataclass
class StubPlatform:
    """Just what the ops code reads from the platform."""

    settings: Any = field(default_factory=StubSettings)
    db: Any = field(default_factory=StubDatabase)
    bus: Any = field(default_factory=StubBus)
    started: bool = True


def build_app(platform: Any = None) -> FastAPI:
    """The ops pieces wired the way app.py wires them, without any feature package."""
    app = FastAPI()
    app.state.platform = platform
    install_error_handlers(app)
    install_request_context(app)
    metrics.install(app)
    app.include_router(health.router)
    return app


@pytest.fixture
def platform() -> StubPlatform:
    return StubPlatform()


@pytest.fixture
def app(platform: StubPlatform) -> FastAPI:
    return build_app(platform)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the client sees the 500 the server would send, as a real client does.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sportsbook.test") as c:
        yield c


def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, access_enabled = list(root.handlers), root.level, ops_logging._access_enabled
    access_json = ops_logging._access_json
    yield
    structlog.reset_defaults()
    ops_logging._access_enabled = access_enabled
    ops_logging._access_json = access_json
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """JSON logging on; call the fixture's value to get the lines written since the last call."""
    restore = _restore_logging()
    next(restore)
    configure_logging("INFO", json=True)

    def lines() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    yield lines
    next(restore, None)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo whatever configure_logging a test does."""
    yield from _restore_logging()

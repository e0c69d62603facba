"""Shared fixtures: a freshly migrated database per test, on SQLite and, where asked, PostgreSQL.

PostgreSQL, Redis and RabbitMQ tests skip when the service is missing, unless
SPORTSBOOK_TEST_REQUIRE_SERVICES=1 (as CI sets it), where a missing service fails the test."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade

REQUIRE_SERVICES = os.environ.get("SPORTSBOOK_TEST_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("SPORTSBOOK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SPORTSBOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("SPORTSBOOK_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip the test when the service is missing, or fail it when services are mandatory (CI)."""
    if _reachable(url, default_port):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} at {url} is not reachable and SPORTSBOOK_TEST_REQUIRE_SERVICES=1")
    pytest.skip(f"{name} at {url} is not reachable")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return parts._replace(path="/" + name).geturl()


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database, cloned for each test with CREATE DATABASE ... TEMPLATE."""
    require_service("PostgreSQL", POSTGRES_URL, 5432)
    name = f"sbtpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    upgrade(_with_database(POSTGRES_URL, name))
    yield name
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """The URL of a fresh, migrated SQLite database for this test."""
    path = tmp_path / "sportsbook.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database for this test."""
    template: str = request.getfixturevalue("postgres_template")
    name = f"sbt_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY'))
    yield _with_database(POSTGRES_URL, name)
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend in turn: the same test runs on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An open Database on each backend in turn."""
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    """An open Database on SQLite only (for tests that are about logic, not the backend)."""
    database = Database(sqlite_url)
    yield database
    await database.dispose()


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def rabbitmq_url() -> str:
    require_service("RabbitMQ", RABBITMQ_URL, 5672)
    return RABBITMQ_URL

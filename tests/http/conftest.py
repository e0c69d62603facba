"""HTTP test fixtures: the whole app on a fresh database, driven in-process through httpx.

Reusable by every HTTP test file: `api` (an `Api` on SQLite with a `ManualClock`), `api_clock`, and
`open_api(url)` for a test that wants another database (e.g. `postgres_url`). `Api` has helpers to
register and log in players (`new_player`) and to create and log in staff of a role (`new_staff`)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI

from sportsbook.app import create_app
from sportsbook.betting.jobs import SettlementJob
from sportsbook.config import Settings
from sportsbook.core.clock import ManualClock
from sportsbook.db.unit_of_work import UnitOfWork, unit_of_work
from sportsbook.events.model import Event
from sportsbook.platform import Platform

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
STRONG_PASSWORD = "Vq8#zL2!mW9pTr"
SESSION_TTL_S = 3600

_emails = itertools.count(1)


def unique_email(prefix: str = "player") -> str:
    """An email no other account in this test run has."""
    return f"{prefix}{next(_emails)}@example.com"


def test_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: tiny Argon2 costs (fast on two cores), plain logs, a quick outbox relay."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "log_json": False,
        "log_level": "WARNING",
        "session_ttl_s": SESSION_TTL_S,
        "outbox_poll_s": 0.05,
        "gc_freeze": False,  # frozen garbage is never collected: a test run starts hundreds of apps
        "ledger_shards": 4,  # every test of the app runs on a sharded ledger: a batch spans shards, a bet does not
        "payments_sim_latency_scale": 0.0,  # the simulated PSPs answer at once
        "web_dir": Path("/nonexistent/web/dist"),  # the API alone, whether or not the web app is built
    }
    values.update(overrides)
    return Settings(**values)


def registration(email: str, **fields: str) -> dict[str, str]:
    """A `POST /api/v1/players` body: an adult in GB playing in EUR with a strong password; `fields` override."""
    body = {
        "email": email,
        "password": STRONG_PASSWORD,
        "date_of_birth": "1990-05-17",
        "country": "GB",
        "currency": "EUR",
    }
    return {**body, **fields}


test_settings.__test__ = False  # type: ignore[attr-defined]  # a factory, not a test


@dataclass(frozen=True)
class Account:
    """A logged-in account: its id, credentials and bearer token."""

    id: UUID
    email: str
    password: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def run_jobs(platform: Platform, queue: Callable[[UnitOfWork], Awaitable[Any]]) -> list[SettlementJob]:
    """Queue settlement jobs as a request would (`queue` takes the unit of work: e.g. `lambda uow:
    platform.jobs.settle_market(uow, market_id, outcomes)`), then run every queued job as a worker would; the
    jobs `queue` queued, as they ended."""
    async with unit_of_work(platform.db) as uow:
        queued = await queue(uow)
    ids = {job.id for job in (queued if isinstance(queued, list) else [queued])}
    return [job for job in await platform.jobs.run_pending() if job.id in ids]


@dataclass(frozen=True)
class JobsAnswer:
    """A staff write's answer (202 with its jobs, or a refusal) and those jobs once the worker ran them."""

    response: httpx.Response
    jobs: list[dict[str, Any]]

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    def json(self) -> Any:
        return self.response.json()

    @property
    def reports(self) -> list[dict[str, Any]]:
        """Each job's report (each job must have succeeded)."""
        assert all(j["status"] == "succeeded" for j in self.jobs), self.jobs
        return [j["report"] for j in self.jobs]

    @property
    def report(self) -> dict[str, Any]:
        """The one job's report."""
        (report,) = self.reports
        return report


_keys = itertools.count(1)


class Api:
    """The running app and an httpx client on it, with helpers for the common set-up steps."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: ManualClock, stack: AsyncExitStack):
        self.app = app
        self.client = client
        self.clock = clock
        self.events: list[Event] = []  # every event the bus delivered (see `published_events`)
        self._stack = stack

    @property
    def platform(self) -> Platform:
        platform: Platform = self.app.state.platform
        return platform

    async def client_from(self, ip: str) -> httpx.AsyncClient:
        """Another client on the same app whose requests come from `ip` (closed with the Api)."""
        transport = httpx.ASGITransport(app=self.app, client=(ip, 4321))
        return await self._stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://test"))

    async def register(
        self,
        *,
        email: str | None = None,
        password: str = STRONG_PASSWORD,
        date_of_birth: str = "1990-05-17",
        country: str = "GB",
        currency: str = "EUR",
    ) -> httpx.Response:
        """POST /api/v1/players; the raw response."""
        body = registration(
            email or unique_email(), password=password, date_of_birth=date_of_birth, country=country, currency=currency
        )
        return await self.client.post("/api/v1/players", json=body)

    async def login(self, email: str, password: str = STRONG_PASSWORD) -> httpx.Response:
        """POST /api/v1/sessions; the raw response."""
        return await self.client.post("/api/v1/sessions", json={"email": email, "password": password})

    async def new_player(self, *, email: str | None = None, currency: str = "EUR", country: str = "GB") -> Account:
        """A registered, logged-in player."""
        email, player_id = await self.registered_player(email=email, currency=currency, country=country)
        return await self._logged_in(player_id, email, "player")

    async def registered_player(
        self, *, email: str | None = None, currency: str = "EUR", country: str = "GB"
    ) -> tuple[str, UUID]:
        """A registered player, not logged in (logins are rate-limited per address): their email and id."""
        email = email or unique_email()
        registered = await self.register(email=email, currency=currency, country=country)
        assert registered.status_code == 201, registered.text
        return email, UUID(registered.json()["id"])

    async def log_in_player(self, email: str, player_id: UUID) -> Account:
        return await self._logged_in(player_id, email, "player")

    async def new_staff(self, role: str, *, email: str | None = None) -> Account:
        """A member of staff with `role` (as `sportsbook admin create` makes one), logged in."""
        email = email or unique_email(role)
        staff_id = await self.platform.players.create_staff(email, STRONG_PASSWORD, role)
        return await self._logged_in(staff_id, email, role)

    async def published_events(self) -> list[Event]:
        """Every event committed so far, after pushing the outbox through the bus."""
        await self.platform.relay.relay_once()
        drain = getattr(self.platform.bus, "drain", None)
        if drain is not None:
            await drain()
        return list(self.events)

    async def staff(self, account: Account, method: str, path: str, body: Any = None) -> JobsAnswer:
        """A staff write that queues settlement jobs (settle, result, roll back, cancel bets), sent with a fresh
        Idempotency-Key; then the worker's part: every queued job runs to its end. The answer, and the jobs it
        queued as they ended (read back over HTTP)."""
        headers = {**account.headers, "Idempotency-Key": f"test-{next(_keys)}"}
        response = await self.client.request(method, path, json=body, headers=headers)
        await self.platform.jobs.run_pending()
        jobs: list[dict[str, Any]] = []
        if response.status_code == 202:
            answered = response.json()
            for queued in answered.get("items", [answered]):
                job = await self.client.get(f"/api/v1/admin/settlement-jobs/{queued['id']}", headers=account.headers)
                assert job.status_code == 200, job.text
                jobs.append(job.json())
        return JobsAnswer(response, jobs)

    async def job(self, account: Account, job_id: str) -> dict[str, Any]:
        """A settlement job as `GET /api/v1/admin/settlement-jobs/{id}` shows it to `account`."""
        answer = await self.client.get(f"/api/v1/admin/settlement-jobs/{job_id}", headers=account.headers)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        return job

    async def job_when(
        self, account: Account, job_id: str, done: Callable[[dict[str, Any]], bool], timeout_s: float = 60.0
    ) -> dict[str, Any]:
        """The job once `done(job)` holds, read every few milliseconds (for a job another thread or process runs:
        nothing here runs it); fails after `timeout_s`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not done(job := await self.job(account, job_id)):
            assert asyncio.get_running_loop().time() < deadline, job
            await asyncio.sleep(0.005)
        return job

    async def _logged_in(self, account_id: UUID, email: str, role: str) -> Account:
        session = await self.login(email)
        assert session.status_code == 201, session.text
        return Account(account_id, email, STRONG_PASSWORD, role, session.json()["token"])


@asynccontextmanager
async def open_api(database_url: str, *, clock: ManualClock | None = None, **settings: Any) -> AsyncIterator[Api]:
    """The app on a migrated database at `database_url`, started (lifespan) and ready for requests."""
    clock = clock or ManualClock(START)
    app = create_app(test_settings(database_url, **settings), clock=clock)
    async with AsyncExitStack() as stack:
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://test"))
        api = Api(app, client, clock, stack)

        async def record(event: Event) -> None:
            api.events.append(event)

        # Subscribed before the lifespan starts the bus, as the bus requires.
        api.platform.bus.subscribe("tests-recorder", ["*"], record)
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield api


@pytest.fixture
def api_clock() -> ManualClock:
    """The clock of the `api` app: move it with `advance(seconds)`."""
    return ManualClock(START)


@pytest.fixture
async def api(sqlite_url: str, api_clock: ManualClock) -> AsyncIterator[Api]:
    """The whole app on a fresh SQLite database."""
    async with open_api(sqlite_url, clock=api_clock) as running:
        yield running


@pytest.fixture
def api_factory() -> Callable[..., AbstractAsyncContextManager[Api]]:
    """`open_api`, for tests that need the app on another database or with other settings."""
    return open_api

"""Browser tests: the built web app (web/dist) served by a real `sportsbook demo` process, driven by Playwright
in Debian's Chromium (/usr/bin/chromium, installed by scripts/browser.sh; no browser is ever downloaded).

One demo server runs for the whole session on a fresh SQLite file: the simulated feed moves its seeded events'
prices, the worker settles, the simulated PSPs answer deposits. Each test gets a fresh browser context (its own
storage), and the `Staff` and `Player` helpers act through the HTTP API where a test needs a fact arranged."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.web_live import CHROMIUM as WEB_LIVE_CHROMIUM
from bench.web_live import CHROMIUM_ARGS
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from sportsbook.cli import DEMO_ADMIN, DEMO_PLAYER

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
CHROMIUM = Path(os.environ.get("SPORTSBOOK_TEST_CHROMIUM", WEB_LIVE_CHROMIUM))
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "Vq8#zL2!mW9pTr-e2e"

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`sportsbook demo` on a free port and a fresh database, until the session ends."""
    if not (DIST / "index.html").is_file():
        pytest.fail("the web app is not built: run `make web` (the README's test command does)")
    folder = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    log = folder / "server.log"
    env = {
        **os.environ,
        "SPORTSBOOK_DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite3'}",
        "SPORTSBOOK_ARGON2_TIME_COST": "1",
        "SPORTSBOOK_ARGON2_MEMORY_KIB": "8",
        "SPORTSBOOK_LOG_LEVEL": "WARNING",
        "SPORTSBOOK_PAYMENTS_SIM_LATENCY_SCALE": "0.05",
    }
    script = Path(sys.executable).with_name("sportsbook")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sportsbook.cli"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "demo", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder
        )
    running = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_ready(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=server.url, timeout=5) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(f"the demo exited with {server.process.returncode}:\n{server.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.TransportError):
                if client.get("/health/ready").status_code == 200 and client.get("/").status_code == 200:
                    return
            time.sleep(0.25)
    pytest.fail(f"the demo was not ready within 120 s:\n{server.log.read_text()[-3000:]}")


# Per module, not per session: Playwright's sync API holds an event loop of its own while it runs, and the
# suite's asyncio tests (in other modules) need the thread's loop free.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/browser.sh (the README's test command does)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, server: Server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# ---- acting through the API where a test only needs a fact arranged ----------------------------------------------


def login(server: Server, email: str, password: str) -> str:
    with server.client() as client:
        answer = client.post("/api/v1/sessions", json={"email": email, "password": password})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
        return token


@dataclass
class Staff:
    """The demo's admin, acting through the staff API."""

    server: Server
    token: str

    def call(self, method: str, path: str, body: Any = None, *, key: bool = False) -> Any:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if key else {}
        with self.server.client(self.token) as client:
            answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def new_event(self, name: str, *, markets: list[dict[str, Any]] | None = None, live: bool = False) -> Any:
        """A football match of the test's own (the simulated feed leaves it alone), starting in an hour."""
        home, away = name.split(" v ")
        body = {
            "sport": "football",
            "name": name,
            "competition": "Browser League",
            "start_time": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "competitors": [home, away],
            "markets": markets
            or [
                {
                    "type": "1x2",
                    "selections": [
                        {"outcome": "home", "odds": "2.50"},
                        {"outcome": "draw", "odds": "3.40"},
                        {"outcome": "away", "odds": "2.80"},
                    ],
                },
                {
                    "type": "total",
                    "specifiers": {"total": "2.5"},
                    "selections": [{"outcome": "over", "odds": "1.90"}, {"outcome": "under", "odds": "1.90"}],
                },
            ],
        }
        event = self.call("POST", "/api/v1/admin/events", body)
        if live:
            live_now = {"status": "live", "score": {"home": 0, "away": 0}}
            self.call("PATCH", f"/api/v1/admin/events/{event['id']}", live_now)
        return event


@pytest.fixture(scope="session")
def staff(server: Server) -> Staff:
    return Staff(server, login(server, *DEMO_ADMIN))


@pytest.fixture(scope="session")
def demo_player() -> tuple[str, str]:
    return DEMO_PLAYER


def unique_email(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


# ---- what every page is checked for ---------------------------------------------------------------------------------


def assert_accessible(page: Page, *, exclude: list[str] | None = None) -> None:
    """axe-core's WCAG 2 A and AA rules on the page as it stands: no violation (labels, contrast, names...)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (exclude) => {
            const context = exclude.length ? { exclude: exclude.map((s) => [s]) } : document;
            const r = await axe.run(context, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } });
            return r.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }));
        }""",
        exclude or [],
    )
    assert result == [], "\n".join(f"{v['id']} ({v['impact']}): {v['help']}\n  {v['nodes']}" for v in result)


def screenshot(page: Page, name: str) -> None:
    """A picture of the page for the README (docs/screenshots/NAME.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)

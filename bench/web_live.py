"""The player app's live event page under a price storm, in a real browser: one event with 1,000 markets whose
prices change 100 times a second, watched in Debian's Chromium (/usr/bin/chromium, driven by Playwright).

Set-up: an admin is made through the platform; the server (`sportsbook serve`, which serves the built web app)
runs as a subprocess on a free 127.0.0.1 port; the event is created through `POST /api/v1/admin/events` with
1,000 `total` markets (lines 0.5 to 999.5). The browser opens `/events/{id}` with a PerformanceObserver for long
tasks (the browser's own measure: any task over 50 ms on the main thread) installed before the page's scripts.

Phases, each `seconds` long, on the same open page:
- `idle`: no change: the page's own long tasks at rest (the baseline of this run);
- `storm`: 100 market changes a second through `PATCH /api/v1/admin/markets/{id}` (each moves both prices of a
  random market), which the server fans out over `/ws/odds` to the page.

Figures: long tasks (count and the longest, ms) in each phase, changes sent per second, odds frames the page
received per second, and `storm_longest_task_ms` against the target of at most 50 ms (no long task at all).
Needs `make web` (the build) and Chromium (scripts/browser.sh)."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.placement import PASSWORD
from bench.placement_http import _free_port, _start_server, _stop_server, _wait_ready
from sportsbook.app import build_platform
from sportsbook.config import Settings
from sportsbook.db.migrate import upgrade

MARKETS = 1_000
CHANGES_PER_S = 100
DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# installed before the app's scripts: every long task the page has, from its first moment
_OBSERVE = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, ms: e.duration });
}).observe({ type: "longtask", buffered: true });
"""


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    if not (DIST / "index.html").is_file():
        raise SystemExit("web-live needs the built web app: run `make web` first")
    with tempfile.TemporaryDirectory() as folder:
        if settings.is_sqlite:  # a database of its own unless one is given
            settings = settings.model_copy(update={"database_url": f"sqlite:///{Path(folder) / 'web.sqlite3'}"})
        upgrade(settings.database_url)
        admin_email = f"bench-web-{uuid.uuid4().hex[:8]}@example.com"
        platform = build_platform(settings)
        try:
            await platform.players.create_staff(admin_email, PASSWORD, "admin")
        finally:
            await platform.db.dispose()
        port = _free_port()
        server = _start_server(settings, port, {"SPORTSBOOK_WEB_DIR": str(DIST)})
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                await _wait_ready(client, server)
                login = await client.post("/api/v1/sessions", json={"email": admin_email, "password": PASSWORD})
                client.headers["Authorization"] = f"Bearer {login.json()['token']}"
                event = await _event(client)
                echo(f"event {event['id']}: {len(event['markets'])} markets")
                async with async_playwright() as p:
                    browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                    page = await browser.new_page(viewport={"width": 1280, "height": 900})
                    await page.add_init_script(_OBSERVE)
                    frames = [0]
                    page.on("websocket", lambda ws: ws.on("framereceived", lambda _f: _count(frames)))
                    await page.goto(f"{base}/events/{event['id']}")
                    await page.get_by_role("button", name="Over 2.05").first.wait_for(timeout=30_000)
                    await asyncio.sleep(1.0)  # the first render and the snapshot settle
                    idle = await _phase(page, frames, seconds, None)
                    echo(f"idle: {idle}")
                    storm = await _phase(page, frames, seconds, lambda: _storm(client, event, seconds))
                    echo(f"storm: {storm}")
                    await browser.close()
        finally:
            _stop_server(server)
    return {
        "scenario": "web_live",
        "markets": MARKETS,
        "target_changes_per_s": CHANGES_PER_S,
        **{f"idle_{k}": v for k, v in idle.items()},
        **{f"storm_{k}": v for k, v in storm.items()},
        "target_longest_task_ms": 50,
    }


def _count(frames: list[int]) -> None:
    frames[0] += 1


async def _phase(page: Any, frames: list[int], seconds: float, load: Callable[[], Any] | None) -> dict[str, Any]:
    """One phase: the long tasks that began in it, and what was sent and received."""
    start_ms = await page.evaluate("performance.now()")
    received = frames[0]
    started = time.perf_counter()
    sent = 0
    if load is None:
        await asyncio.sleep(seconds)
    else:
        sent = await load()
    await asyncio.sleep(0.5)  # the last frames arrive and render
    elapsed = time.perf_counter() - started
    tasks = [t for t in await page.evaluate("window.__longTasks") if t["start"] >= start_ms]
    return {
        "changes_per_s": round(sent / elapsed, 1),
        "frames_per_s": round((frames[0] - received) / elapsed, 1),
        "long_tasks": len(tasks),
        "longest_task_ms": round(max((t["ms"] for t in tasks), default=0.0), 1),
    }


async def _storm(client: httpx.AsyncClient, event: dict[str, Any], seconds: float) -> int:
    """CHANGES_PER_S market changes a second, each through the staff API, for `seconds`: how many were made."""
    rng = random.Random(7)
    markets = event["markets"]
    sent = 0
    started = time.perf_counter()
    semaphore = asyncio.Semaphore(16)
    tasks: set[asyncio.Task[None]] = set()

    async def change(market: dict[str, Any]) -> None:
        nonlocal sent
        async with semaphore:
            over = rng.choice(["1.80", "1.85", "1.90", "1.95", "2.00", "2.05"])
            under = rng.choice(["1.80", "1.85", "1.90", "1.95", "2.00"])
            body = {
                "selections": [
                    {"id": market["selections"][0]["id"], "odds": over},
                    {"id": market["selections"][1]["id"], "odds": under},
                ]
            }
            answer = await client.patch(f"/api/v1/admin/markets/{market['id']}", json=body)
            if answer.status_code == 200:
                sent += 1

    n = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * CHANGES_PER_S)
        while n < due:
            task = asyncio.create_task(change(rng.choice(markets)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.sleep(0.005)
    if tasks:
        await asyncio.gather(*tasks)
    return sent


async def _event(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "sport": "football",
        "name": "Storm United v Price City",
        "competition": "Bench League",
        "start_time": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "competitors": ["Storm United", "Price City"],
        "markets": [
            {
                "type": "total",
                "specifiers": {"total": f"{i}.5"},
                "selections": [{"outcome": "over", "odds": "2.05"}, {"outcome": "under", "odds": "1.80"}],
            }
            for i in range(MARKETS)
        ],
    }
    answer = await client.post("/api/v1/admin/events", json=body)
    if answer.status_code != 201:
        raise RuntimeError(f"the event was refused: {answer.status_code} {answer.text[:500]}")
    event: dict[str, Any] = answer.json()
    return event

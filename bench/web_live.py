"""The player app's live event page under a price storm, in a real browser: one event with 1,000 markets whose
prices change 100 times a second, watched in Debian's Chromium (/usr/bin/chromium, driven by Playwright).

Set-up: an admin is made through the platform; the API (the app `sportsbook serve` runs, serving the built web
app) runs in this process under uvicorn on a free 127.0.0.1 port; the event is created through
`POST /api/v1/admin/events` with 1,000 markets (every total line from 0 to 100 by quarters, then Asian handicap
lines). The browser opens `/events/{id}` with a PerformanceObserver for long tasks (the browser's own measure:
any task over 50 ms on the main thread) installed before the page's scripts.

Phases, each `seconds` long, on the same open page:
- `idle`: no change: the page's own long tasks at rest (the baseline of this run);
- `scroll`: the player scrolls down the page and back, 600 px every 250 ms, with no change;
- `storm`: scrolling as before, and 100 market changes a second (each moves both prices of a random market),
  written the way the odds feed writes them (`Catalog.apply_feed_in`, one unit of work per 50 ms tick, as the
  feed's flusher does) and fanned out by the server over `/ws/odds` to the page. (A trader's `PATCH` per change
  would bound the rate at what one event's change costs through the staff API: about 20 a second for an event
  of 1,000 markets.)

Figures: long tasks (count and the longest, ms) in each phase, changes sent per second, odds frames the page
received per second (a batched message counts each frame), and `storm_longest_task_ms` against the target of at
most 50 ms (no long task at all). Needs `make web` (the build) and Chromium (scripts/browser.sh)."""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import uvicorn

from bench.placement import PASSWORD
from bench.placement_http import _free_port
from sportsbook.app import build_platform, create_app
from sportsbook.catalog.model import FeedPrices, MarketStatus, SelectionStatus
from sportsbook.config import Settings
from sportsbook.db.migrate import upgrade
from sportsbook.db.unit_of_work import unit_of_work
from sportsbook.platform import Platform

MARKETS = 1_000
CHANGES_PER_S = 100
TICK_S = 0.05  # the odds feed's flush interval
DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
CHROMIUM = "/usr/bin/chromium"  # Debian's (scripts/browser.sh); the browser tests launch it the same way
# as root in a container without a sandbox, and with nothing reaching for Google's hosts (the network is closed)
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
        setup = build_platform(settings)
        try:
            await setup.players.create_staff(admin_email, PASSWORD, "admin")
        finally:
            await setup.db.dispose()
        port = _free_port()
        app = create_app(settings.model_copy(update={"web_dir": DIST, "log_level": "WARNING"}))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        serving = asyncio.create_task(server.serve())
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=60) as client:
                while not server.started:
                    if serving.done():
                        raise RuntimeError("the server stopped before it started")
                    await asyncio.sleep(0.05)
                login = await client.post("/api/v1/sessions", json={"email": admin_email, "password": PASSWORD})
                client.headers["Authorization"] = f"Bearer {login.json()['token']}"
                event = await _event(client)
                echo(f"event {event['id']}: {len(event['markets'])} markets")
                platform: Platform = app.state.platform
                async with async_playwright() as p:
                    browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                    page = await browser.new_page(viewport={"width": 1280, "height": 900})
                    await page.add_init_script(_OBSERVE)
                    frames = [0]
                    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: _count(frames, f)))
                    await page.goto(f"{base}/events/{event['id']}")
                    await page.locator("button.price").first.wait_for(timeout=30_000)
                    await asyncio.sleep(1.0)  # the first render and the snapshot settle
                    idle = await _phase(page, frames, seconds, None)
                    echo(f"idle: {idle}")
                    scroll = await _phase(page, frames, seconds, lambda: _scroll(page, seconds))
                    echo(f"scroll: {scroll}")
                    storm = await _phase(
                        page,
                        frames,
                        seconds,
                        lambda: _with(_storm(platform, event, seconds), _scroll(page, seconds)),
                    )
                    echo(f"storm: {storm}")
                    await browser.close()
        finally:
            server.should_exit = True
            await serving
    return {
        "scenario": "web_live",
        "markets": MARKETS,
        "target_changes_per_s": CHANGES_PER_S,
        **{f"idle_{k}": v for k, v in idle.items()},
        **{f"scroll_{k}": v for k, v in scroll.items()},
        **{f"storm_{k}": v for k, v in storm.items()},
        "target_longest_task_ms": 50,
    }


def _count(frames: list[int], payload: str | bytes) -> None:
    """Odds frames in one WebSocket message, counted (a batched connection gets a JSON array of frames)."""
    message = orjson.loads(payload)
    for frame in message if isinstance(message, list) else [message]:
        frames[0] += frame.get("type") == "odds"


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
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # the last frames arrive and render
    tasks = [t for t in await page.evaluate("window.__longTasks") if t["start"] >= start_ms]
    return {
        "changes_per_s": round(sent / elapsed, 1),
        "odds_frames_per_s": round((frames[0] - received) / elapsed, 1),  # the late ones included
        "long_tasks": len(tasks),
        "longest_task_ms": round(max((t["ms"] for t in tasks), default=0.0), 1),
    }


async def _storm(platform: Platform, event: dict[str, Any], seconds: float) -> int:
    """CHANGES_PER_S market changes a second for `seconds`, written as the odds feed's flusher writes them: the
    changes due are applied in one unit of work every TICK_S. Returns how many were applied."""
    rng = random.Random(7)
    markets = event["markets"]
    catalog = platform.catalog
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * CHANGES_PER_S) - sent
        if due > 0:
            changes: dict[UUID, FeedPrices] = {}
            for market in rng.sample(markets, due):
                first, second = (UUID(s["id"]) for s in market["selections"])
                changes[UUID(market["id"])] = FeedPrices(
                    MarketStatus.ACTIVE,
                    {
                        first: (Decimal(rng.choice(_PRICES)), SelectionStatus.ACTIVE),
                        second: (Decimal(rng.choice(_PRICES)), SelectionStatus.ACTIVE),
                    },
                )
            async with unit_of_work(platform.db) as uow:
                await catalog.apply_feed_in(uow, changes)
            sent += due
        await asyncio.sleep(TICK_S)
    return sent


async def _scroll(page: Any, seconds: float) -> int:
    """The player reads down the page and back up: 600 px every 250 ms, turning at either end. No changes."""
    started = time.perf_counter()
    step = 600
    while time.perf_counter() - started < seconds:
        at, end = await page.evaluate("[window.scrollY, document.body.scrollHeight - window.innerHeight]")
        if (step > 0 and at >= end) or (step < 0 and at <= 0):
            step = -step
        await page.mouse.wheel(0, step)
        await asyncio.sleep(0.25)
    return 0


async def _with(main: Awaitable[int], *beside: Awaitable[int]) -> int:
    """`main`'s result, with `beside` running at the same time."""
    results = await asyncio.gather(main, *beside)
    return results[0]


_PRICES = ("1.80", "1.85", "1.90", "1.95", "2.00", "2.05", "2.10")


def _markets(n: int) -> list[dict[str, Any]]:
    """n distinct markets: every total line from 0 to 100 by quarters, then handicap lines from -100 up."""
    totals = [
        {
            "type": "total",
            "specifiers": {"total": str(i / 4)},
            "selections": [{"outcome": "over", "odds": "2.05"}, {"outcome": "under", "odds": "1.80"}],
        }
        for i in range(min(n, 401))
    ]
    handicaps = [
        {
            "type": "asian_handicap",
            "specifiers": {"hcp": str(i / 4 - 100)},
            "selections": [{"outcome": "home", "odds": "1.95"}, {"outcome": "away", "odds": "1.90"}],
        }
        for i in range(n - len(totals))
    ]
    return totals + handicaps


async def _event(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "sport": "football",
        "name": "Storm United v Price City",
        "competition": "Bench League",
        "start_time": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        "competitors": ["Storm United", "Price City"],
        "markets": _markets(MARKETS),
    }
    answer = await client.post("/api/v1/admin/events", json=body)
    if answer.status_code != 201:
        raise RuntimeError(f"the event was refused: {answer.status_code} {answer.text[:500]}")
    event: dict[str, Any] = answer.json()
    return event

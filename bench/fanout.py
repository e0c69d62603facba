"""Live odds fan-out over `GET /ws/odds`: 1,000 WebSocket clients, each watching 20 live events.

Set-up: the platform on `settings.database_url` (create_app, lifespan and all) served by uvicorn in this process
(httptools, websockets-sansio, uvloop: as `sportsbook serve` runs), EVENTS live football events with 5 markets each,
created through the catalogue service; CLIENTS connections from a process of their own (bench/fanout_clients.py: a
minimal RFC 6455 client, so the clients' core is not what bounds the figures), client i watching events i*20 ..
i*20+19 (mod EVENTS): every event has CLIENTS*20/EVENTS subscribers. One price update is one market repriced (every
selection), one odds frame; delivered means received by a client (counted at the clients).

Phases, each for `seconds`:
- `committed`: prices moved through `Catalog.update_market`, a transaction each on the configured database, by
  WRITERS concurrent traders on events of their own: the real path of a staff or feed price change. The commit rate
  bounds it far below what fan-out can carry, so the phases below drive the fan-out directly:
- `feed`: an open-loop feed of price updates at an offered rate, each taken by the catalogue's read model as a market
  another node committed arrives through the market channel (`Catalog.take_markets`), up to MAX_PER_TURN per turn of
  the event loop. Capacity: a ramp of steps of `seconds`/2, the offered rate doubling from RAMP_FROM until less
  than 80% of what was offered is delivered (`<mode>_ramp`: [offered, delivered/s, share] per step); the step that
  delivered most is `<mode>_sat` (past it the node spends its time on updates conflated away before they are sent,
  and delivers less). `<mode>_lat` then offers half the updates/s of `<mode>_sat`: its p99 is the latency at a
  high but sustainable rate. Each update is stamped with the time it was due
  (`time.monotonic_ns()`, one clock for every process of the machine), so time spent waiting for the loop counts;
  the clients note when one odds frame in SAMPLE_EVERY arrived.
- Modes: `single`, the contract's default (one frame per WebSocket message), then `batch`, the same clients
  reconnected offering the `sportsbook.odds.batch` subprotocol (each message a JSON array of the frames waiting).

Memory: the server process's RSS before and after the CLIENTS connections open and subscribe (their snapshots
received), divided by CLIENTS (`memory_per_connection_kb`).

Baseline, in the same run once the platform's server has stopped: the websockets library's own server (asyncio,
uvloop, in this process) broadcasting frames as long as the single mode's average odds frame to the same CLIENTS
connections from the same client process, closed loop (`broadcast`, a turn of the loop, again; waiting while the
sockets' write buffers hold more than a few frames each, since broadcast itself never waits). `throughput_ratio` is
price updates delivered per second at capacity (batch mode) over the baseline's frames delivered per second, both
counted at the clients; `single_throughput_ratio` the same for the default mode."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import random
import resource
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import uvicorn
from prometheus_client import REGISTRY
from websockets.asyncio.server import ServerConnection, broadcast, serve

from bench.baseline import describe_ratio, ratio_figures
from bench.fanout_clients import ClientPool
from bench.stats import latency_figures, process_cpu_s
from sportsbook.app import create_app
from sportsbook.catalog.model import EventDraft, EventStatus, Market, MarketDraft, SelectionDraft
from sportsbook.config import Settings
from sportsbook.db.migrate import upgrade
from sportsbook.odds.model import BATCH_SUBPROTOCOL
from sportsbook.platform import Platform

CLIENTS = int(os.environ.get("SPORTSBOOK_BENCH_CLIENTS", "1000"))
SUBSCRIPTIONS = 20  # events per client
EVENTS = 100
# the offered rates (updates/s) the capacity ramp starts from, per mode, and the highest it tries
RAMP_FROM = {"single": 200, "batch": 800}
RAMP_TO = 12_800
MAX_PER_TURN = 500  # updates the feed hands over per turn of the event loop, at most
WRITERS = 8  # concurrent traders in the committed phase
SAMPLE_EVERY = 50
# the ladder the driven prices walk over
PRICES = [str(Decimal("1.50") + Decimal(i) / 100) for i in range(0, 300, 7)]


def _server_counts() -> dict[str, float]:
    """The hub's own counters so far (this process's Prometheus registry)."""
    out: dict[str, float] = {}
    for name in (
        "sportsbook_odds_conflated_total",
        "sportsbook_odds_frames_sent_total",
        "sportsbook_odds_updates_total",
    ):
        out[name.removeprefix("sportsbook_odds_").removesuffix("_total")] = REGISTRY.get_sample_value(name) or 0.0
    for reason in ("max_pending", "stalled"):
        out[f"dropped_{reason}"] = REGISTRY.get_sample_value("sportsbook_odds_dropped_total", {"reason": reason}) or 0.0
    return out


def _renamed(key: str, prefix: str) -> str:
    """`batch_at_1600_p99_ms` -> `batch_sat_p99_ms`."""
    _mode, _at, rest = key.split("_", 2)
    return f"{prefix}_{rest.split('_', 1)[1]}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def _draft(run_id: str, i: int) -> EventDraft:
    def market(kind: str, outcomes: Sequence[str], **specifiers: str) -> MarketDraft:
        return MarketDraft(
            type=kind,
            specifiers=specifiers,
            selections=[SelectionDraft(o, PRICES[(i + k) % len(PRICES)]) for k, o in enumerate(outcomes)],
        )

    return EventDraft(
        sport="football",
        name=f"Fan-out {run_id} Home {i} v Away {i}",
        competition="Bench League",
        start_time=datetime.now(UTC) - timedelta(minutes=30),
        competitors=[f"Home {i}", f"Away {i}"],
        markets=[
            market("1x2", ["home", "draw", "away"]),
            market("total", ["over", "under"], total="2.5"),
            market("btts", ["yes", "no"]),
            market("double_chance", ["home_draw", "home_away", "draw_away"]),
            market("draw_no_bet", ["home", "away"]),
        ],
    )


async def _live_events(platform: Platform, run_id: str) -> list[UUID]:
    ids: list[UUID] = []
    for i in range(EVENTS):
        event = await platform.catalog.create_event(_draft(run_id, i))
        await platform.catalog.update_event(event.id, status=EventStatus.LIVE)
        ids.append(event.id)
    return ids


def _hellos(events: Sequence[UUID], clients: int) -> list[bytes | None]:
    hellos: list[bytes | None] = []
    for i in range(clients):
        watched = [str(events[(i * SUBSCRIPTIONS + k) % len(events)]) for k in range(SUBSCRIPTIONS)]
        hellos.append(orjson.dumps({"op": "subscribe", "events": watched}))
    return hellos


def _repriced(market: Market, rng: random.Random) -> Market:
    """The market one version on, every selection on a new price (another node's commit, as the channel brings
    it)."""
    selections = tuple(replace(s, odds=Decimal(rng.choice(PRICES))) for s in market.selections)
    return replace(market, selections=selections, version=market.version + 1)


class GcPauses:
    """The collector's pauses in this process (gc.callbacks): the longest and their sum since the last reset."""

    def __init__(self) -> None:
        self._started = 0.0
        self.longest = 0.0
        self.total = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            self.longest = max(self.longest, pause)
            self.total += pause

    def reset(self) -> None:
        self.longest = self.total = 0.0

    def close(self) -> None:
        gc.callbacks.remove(self._on)


GC = GcPauses()


class Stamps:
    """When each update was made, by (event, seq): what the clients' samples are matched against."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], int] = {}

    def latencies(self, samples: Sequence[tuple[int, Any, Any]]) -> list[float]:
        out: list[float] = []
        for received, event_id, seq_or_t in samples:
            if event_id is None:
                out.append((received - seq_or_t) / 1e9)
            else:
                sent = self.at.get((event_id, seq_or_t))
                if sent is not None:
                    out.append((received - sent) / 1e9)
        return out


async def _drive_feed(
    platform: Platform, markets: list[Market], seconds: float, rate: float, stamps: Stamps, seed: int
) -> int:
    """An open-loop feed: update i is due at start + i/rate; each turn of the event loop takes what is due (at
    most MAX_PER_TURN) into the read model, stamped with when it was due."""
    rng = random.Random(seed)
    catalog = platform.catalog
    odds = platform.odds
    made = 0
    started = time.monotonic()
    started_ns = time.monotonic_ns()
    deadline = started + seconds
    while (now := time.monotonic()) < deadline:
        due = min(int((now - started) * rate) - made, MAX_PER_TURN)
        if due <= 0:
            await asyncio.sleep(0.001)
            continue
        for _ in range(due):
            market = catalog.market(rng.choice(markets).id)
            catalog.take_markets([_repriced(market, rng)])
            stamps.at[(str(market.event_id), odds.seq(market.event_id))] = started_ns + int(made * 1e9 / rate)
            made += 1
        await asyncio.sleep(0)
    return made


async def _drive_committed(platform: Platform, markets: list[Market], seconds: float, stamps: Stamps) -> int:
    """WRITERS traders, each moving prices on events of its own (so the seq an update got is the event's seq
    once the update returns), one transaction per update."""
    by_event: dict[UUID, list[Market]] = {}
    for market in markets:
        by_event.setdefault(market.event_id, []).append(market)
    events = sorted(by_event)
    deadline = time.monotonic() + seconds
    made = 0

    async def trader(k: int) -> None:
        nonlocal made
        rng = random.Random(k)
        mine = [m for e in events[k::WRITERS] for m in by_event[e]]
        while time.monotonic() < deadline:
            market = platform.catalog.market(rng.choice(mine).id)
            prices = {s.id: rng.choice(PRICES) for s in market.selections}
            stamp = time.monotonic_ns()
            await platform.catalog.update_market(market.id, odds=prices)
            stamps.at[(str(market.event_id), platform.odds.seq(market.event_id))] = stamp
            made += 1

    await asyncio.gather(*(trader(k) for k in range(WRITERS)))
    return made


async def _phase(
    name: str,
    pool: ClientPool,
    drive: Callable[[], Any],
    stamps: Stamps,
    seconds: float,
    server_pid: int,
) -> dict[str, Any]:
    await pool.reset(SAMPLE_EVERY)
    before = await pool.report()
    cpu_before = process_cpu_s(server_pid)
    GC.reset()
    started = time.perf_counter()
    made = await drive()
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)  # what is in flight arrives (the rate counts the driving time only)
    cpu_after = process_cpu_s(server_pid)
    report = await pool.report()
    latency = latency_figures(stamps.latencies(report["samples"]))
    figures: dict[str, Any] = {
        f"{name}_updates": made,
        f"{name}_updates_per_s": round(made / elapsed),
        f"{name}_delivered": report["odds"],
        f"{name}_delivered_per_s": round(report["odds"] / elapsed),
        f"{name}_delivered_share": round(report["odds"] / (made * CLIENTS * SUBSCRIPTIONS / EVENTS), 3) if made else 0,
        f"{name}_p50_ms": latency["p50_ms"],
        f"{name}_p99_ms": latency["p99_ms"],
        f"{name}_max_ms": latency["max_ms"],
        f"{name}_latency_samples": len(report["samples"]),
        f"{name}_frame_bytes": round(report["bytes"] / report["frames"]) if report["frames"] else 0,
        f"{name}_other_frames": {k: report[k] - before[k] for k in ("snapshots", "heartbeats", "other", "closed")},
        f"{name}_server": _server_counts(),
        f"{name}_client_cpu_share": round((report["cpu_s"] - before["cpu_s"]) / elapsed, 2),
        f"{name}_gc_longest_pause_ms": round(GC.longest * 1000, 1),
        f"{name}_gc_share": round(GC.total / elapsed, 3),
    }
    if cpu_before is not None and cpu_after is not None:
        figures[f"{name}_server_cpu_share"] = round((cpu_after - cpu_before) / elapsed, 2)
    return figures


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    _raise_fd_limit(4 * CLIENTS + 256)
    settings = settings.model_copy(update={"log_level": "WARNING", "database_pool_size": 10})
    upgrade(settings.database_url)
    run_id = uuid.uuid4().hex[:8]
    figures: dict[str, Any] = {
        "scenario": "fanout",
        "backend": "sqlite" if settings.is_sqlite else "postgresql",
        "clients": CLIENTS,
        "subscriptions_per_client": SUBSCRIPTIONS,
        "events": EVENTS,
        "subscribers_per_event": CLIENTS * SUBSCRIPTIONS // EVENTS,
        "cores": os.cpu_count(),
        "loadavg_1m_before": round(os.getloadavg()[0], 2),
    }
    pool = ClientPool()
    try:
        figures.update(await _platform_phases(settings, run_id, pool, seconds, echo))
        figures.update(await _baseline(pool, seconds, figures.get("single_sat_frame_bytes") or 300, echo))
    finally:
        pool.stop()
    baseline = figures.get("baseline_delivered_per_s")
    figures.update(
        ratio_figures(
            {
                "throughput_ratio": (figures.get("batch_sat_delivered_per_s"), baseline),
                "single_throughput_ratio": (figures.get("single_sat_delivered_per_s"), baseline),
            }
        )
    )
    # the headline figures, named as the other benches name theirs: price updates delivered per second at capacity
    # (batch subprotocol), and the latency at half of it
    figures["throughput_per_s"] = figures.get("batch_sat_delivered_per_s")
    figures["p50_ms"] = figures.get("batch_lat_p50_ms")
    figures["p99_ms"] = figures.get("batch_lat_p99_ms")
    echo(describe_ratio("price updates delivered/s, batch subprotocol", figures.get("throughput_ratio")))
    echo(describe_ratio("price updates delivered/s, one frame a message", figures.get("single_throughput_ratio")))
    return figures


async def _platform_phases(
    settings: Settings, run_id: str, pool: ClientPool, seconds: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    app = create_app(settings)
    platform: Platform = app.state.platform
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        http="httptools",
        ws="websockets-sansio",
        backlog=4096,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    figures: dict[str, Any] = {}
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        events = await _live_events(platform, run_id)
        markets = [m for e in events for m in platform.catalog.event(e).markets]
        hellos = _hellos(events, CLIENTS)
        # warm-up: first connections load and compile what every later one uses
        await pool.connect(port, "/ws/odds", hellos[:20], snapshots=20 * SUBSCRIPTIONS)
        await pool.close_all()
        await asyncio.sleep(0.5)
        gc.collect()
        rss_before = _rss_bytes()
        opened = await pool.connect(port, "/ws/odds", hellos, snapshots=CLIENTS * SUBSCRIPTIONS)
        await asyncio.sleep(1.0)
        gc.collect()
        figures["connections_open"] = platform.odds.connections
        figures["memory_per_connection_kb"] = round((_rss_bytes() - rss_before) / CLIENTS / 1024, 1)
        echo(
            f"fan-out on {figures.get('backend', settings.database_url.split(':', 1)[0])}: {opened['open']} clients "
            f"open, {opened['snapshots']} snapshots, {figures['memory_per_connection_kb']} KB RSS per connection"
        )
        pid = os.getpid()
        stamps = Stamps()

        async def phase(name: str, drive: Callable[[], Any], record: bool = True) -> dict[str, Any]:
            found = await _phase(name, pool, drive, stamps, seconds, pid)
            if record:
                figures.update(found)
            echo(
                f"{name}: {found[f'{name}_updates_per_s']} updates/s, {found[f'{name}_delivered_per_s']} delivered/s "
                f"(share {found[f'{name}_delivered_share']}), p50 {found[f'{name}_p50_ms']} ms, "
                f"p99 {found[f'{name}_p99_ms']} ms, longest GC pause {found[f'{name}_gc_longest_pause_ms']} ms"
            )
            return found

        # committed first: the feed phases move versions in memory past the database's, whose commits the read
        # model would then take for older states (as it must)
        await phase("committed", lambda: _drive_committed(platform, markets, seconds, stamps))
        for mode, offer in (("single", None), ("batch", BATCH_SUBPROTOCOL)):
            if offer is not None:
                await pool.close_all()
                await pool.connect(port, "/ws/odds", hellos, snapshots=CLIENTS * SUBSCRIPTIONS, subprotocol=offer)
            # capacity: the offered rate doubles until the node falls behind (past that, it spends its time on
            # updates conflated away before they are sent, and delivers less): the best step is `<mode>_sat`
            ramp: list[dict[str, Any]] = []
            rate = RAMP_FROM[mode]
            while rate <= RAMP_TO:
                step = f"{mode}_at_{rate}"
                ramp.append(
                    await phase(
                        step,
                        functools.partial(_drive_feed, platform, markets, seconds / 2, rate, stamps, seed=1),
                        record=False,
                    )
                )
                if ramp[-1][f"{step}_delivered_share"] < 0.8:
                    break
                rate *= 2
            best = max(ramp, key=lambda found: next(v for k, v in found.items() if k.endswith("_delivered_per_s")))
            figures.update({_renamed(k, f"{mode}_sat"): v for k, v in best.items()})
            figures[f"{mode}_ramp"] = [
                [int(k.split("_")[2]), v, found[k.replace("_per_s", "_share")]]
                for found in ramp
                for k, v in found.items()
                if k.endswith("_delivered_per_s")
            ]
            half = figures[f"{mode}_sat_delivered_per_s"] / (CLIENTS * SUBSCRIPTIONS / EVENTS) / 2
            figures[f"{mode}_lat_offered_per_s"] = round(half)
            await phase(f"{mode}_lat", lambda: _drive_feed(platform, markets, seconds, half, stamps, seed=2))  # noqa: B023
        await pool.close_all()
    finally:
        server.should_exit = True
        await serving
    return figures


async def _baseline(pool: ClientPool, seconds: float, frame_bytes: int, echo: Callable[[str], None]) -> dict[str, Any]:
    """The websockets library's broadcast to the same clients: frames of `frame_bytes`, closed loop."""
    port = _free_port()
    connections: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            await connection.wait_closed()
        finally:
            connections.discard(connection)

    stub = orjson.dumps({"type": "odds", "t": time.monotonic_ns(), "pad": ""})
    pad = "x" * max(0, frame_bytes - len(stub))
    out: dict[str, Any] = {"baseline": "websockets.asyncio.server.broadcast, uvloop, one process"}
    async with serve(handler, "127.0.0.1", port, ping_interval=None, max_queue=4, backlog=4096, compression=None):
        # (no memory figure here: the platform's freed memory is reused, so this process's RSS does not move)
        await pool.connect(port, "/", [None] * CLIENTS)
        await asyncio.sleep(1.0)
        await pool.reset(SAMPLE_EVERY)
        before = await pool.report()
        cpu_before = process_cpu_s(os.getpid())
        started = time.perf_counter()
        deadline = time.monotonic() + seconds
        sent = 0
        limit = 8 * frame_bytes  # per socket: a few frames in flight, as our writers would hold
        while time.monotonic() < deadline:
            frame = orjson.dumps({"type": "odds", "t": time.monotonic_ns(), "pad": pad})
            broadcast(connections, frame, text=True)
            sent += 1
            await asyncio.sleep(0)
            while any(c.transport.get_write_buffer_size() > limit for c in connections):
                await asyncio.sleep(0.0005)
                if time.monotonic() > deadline:
                    break
        elapsed = time.perf_counter() - started
        await asyncio.sleep(0.5)
        cpu_after = process_cpu_s(os.getpid())
        report = await pool.report()
        await pool.close_all()
    latency = latency_figures([(r - t) / 1e9 for r, _e, t in report["samples"]])
    out.update(
        {
            "baseline_frame_bytes": frame_bytes,
            "baseline_broadcasts_per_s": round(sent / elapsed),
            "baseline_delivered_per_s": round(report["odds"] / elapsed),
            "baseline_p50_ms": latency["p50_ms"],
            "baseline_p99_ms": latency["p99_ms"],
            "baseline_client_cpu_share": round((report["cpu_s"] - before["cpu_s"]) / elapsed, 2),
        }
    )
    if cpu_before is not None and cpu_after is not None:
        out["baseline_server_cpu_share"] = round((cpu_after - cpu_before) / elapsed, 2)
    echo(
        f"baseline broadcast: {out['baseline_delivered_per_s']} frames delivered/s "
        f"({out['baseline_broadcasts_per_s']} broadcasts/s), p99 {out['baseline_p99_ms']} ms"
    )
    return out

"""Bet placement over HTTP: the real server (`sportsbook serve`) under load from the same machine.

Set-up: the staff user and the players are made through the platform before the server starts (the login
rate limit allows 30 logins a minute per address, so the players' sessions are opened there, each from its own
address); then the server runs as a subprocess on a free 127.0.0.1 port, the events are created through
`POST /api/v1/admin/events` and every player is funded through `POST /api/v1/admin/adjustments`.

Load: `wrk` (installed with apt-get when missing and we are root) with 64 connections on 2 threads and a Lua
script that picks a player's token and a slip (90% singles, 7% doubles, 3% trebles) and sends a unique
Idempotency-Key with every request, for `seconds`. Without wrk, an asyncio httpx generator in a separate
process with the same connections and mix. Bets/s counts 2xx answers; refusals by code come from the server's
`sportsbook_bets_placed` counter. The server is stopped with SIGINT (a clean shutdown) at the end.

Baseline, in the same run once the server has stopped: bench/trivial_http.py (a FastAPI endpoint that parses the
same bet body and the two headers and answers 201 at once), served the same way (uvicorn, uvloop, httptools, one
process, 127.0.0.1), under the same load generator, threads, connections, duration and script. Its requests/s and
latencies are the `baseline_*` figures, and `throughput_ratio` is the platform's bets/s over its requests/s."""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.baseline import describe_ratio, ratio_figures
from bench.placement import LIMITS, PASSWORD, bench_settings
from bench.stats import latency_figures, machine_cpu, machine_figures, process_cpu_s, wal_figures, wal_position
from sportsbook.app import build_platform
from sportsbook.config import Settings
from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade
from sportsbook.players.service import Registration

EVENTS = 50
PLAYERS = 500
CONNECTIONS = 64
WRK_THREADS = 2
WARM_UP = 100  # bets sent to the baseline's endpoint before its load
# (legs, weight): singles mostly, some doubles and trebles on different events
MIX: tuple[tuple[int, int], ...] = ((1, 90), (2, 7), (3, 3))
_PLACED = re.compile(r'^sportsbook_bets_placed_total\{outcome="([^"]+)"\} ([0-9.e+]+)$', re.M)


async def _wal(settings: Settings) -> tuple[int, int] | None:
    """The database server's WAL position, read on a connection of the bench's own (the server has its pool)."""
    db = Database(settings.database_url)
    try:
        return await wal_position(db)
    finally:
        await db.dispose()


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    settings = bench_settings(settings)
    upgrade(settings.database_url)
    run_id = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    admin_email = f"bench-admin-{run_id}@example.com"
    tokens = await _players_and_staff(settings, run_id, admin_email)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(settings, port)
    figures: dict[str, Any] = {"scenario": "placement_http", "backend": _backend(settings)}
    bearer: list[str] = []
    picks: list[tuple[str, str, str]] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            await _wait_ready(client, server)
            admin = await _login(client, admin_email)
            picks = await _events(client, admin, run_id)
            await _fund(client, admin, list(tokens), run_id)
            figures["setup_s"] = round(time.perf_counter() - started, 1)
            bearer = _player_tokens(tokens)
            echo(
                f"placement over HTTP on {figures['backend']}: server pid {server.pid} on {base}, {EVENTS} events, "
                f"{len(bearer)} players, {CONNECTIONS} connections, {seconds:.0f}s"
            )
            figures["loadavg_1m_before"] = round(os.getloadavg()[0], 2)  # other work on the machine skews figures
            before = _placed_counts(await _metrics(client))
            cpu_before = process_cpu_s(server.pid)
            wal = await _wal(settings)
            machine = machine_cpu()
            wrk = _wrk_binary()
            if wrk is None:
                echo("wrk unavailable: using the httpx load generator")
            load = _load(wrk, base, bearer, picks, seconds, run_id)
            cpu_after = process_cpu_s(server.pid)
            figures.update(machine_figures(machine, machine_cpu()))
            wal_after = await _wal(settings)
            after = _placed_counts(await _metrics(client))
        outcomes = {k: round(after.get(k, 0) - before.get(k, 0)) for k in after}
        figures.update(load)
        figures["server_outcomes"] = {k: v for k, v in sorted(outcomes.items()) if v}
        answered = sum(outcomes.values())
        figures.update(wal_figures(wal, wal_after, answered))
        if cpu_before is not None and cpu_after is not None and answered:
            # the server's CPU per bet: its capacity on a core of its own, however busy the machine is
            figures["server_cpu_ms_per_bet"] = round((cpu_after - cpu_before) * 1000 / answered, 3)
            figures["server_cpu_share"] = round((cpu_after - cpu_before) / seconds, 2)
            figures["database_cpu_ms_per_bet"] = round(figures.get("database_cpu_s", 0.0) * 1000 / answered, 3)
        figures["server_refused"] = {
            k: v for k, v in figures["server_outcomes"].items() if k not in ("open", "pending")
        }
        echo(
            f"{figures['generator']}: {figures['throughput_per_s']} bets/s (2xx), p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, non-2xx {figures['non_2xx']}"
        )
    finally:
        figures["server_exit"] = _stop_server(server)
    figures.update(await baseline_and_ratios(figures, bearer, picks, seconds=seconds, run_id=run_id, echo=echo))
    return figures


# ---- the baseline: a trivial FastAPI endpoint under the same load, in the same run ----


async def baseline_and_ratios(
    figures: dict[str, Any],
    tokens: Sequence[str],
    picks: Sequence[tuple[str, str, str]],
    *,
    seconds: float,
    run_id: str,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Once the platform's server has stopped: bench/trivial_http.py served the same way on another free port, the
    same load against it (generator, threads, connections, duration, script, tokens and selections), its
    requests/s and latencies as `baseline_*`, and the platform's bets/s as a ratio to its requests/s."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_trivial_server(port)
    out: dict[str, Any] = {"baseline": "trivial FastAPI endpoint (bench/trivial_http.py), uvicorn, uvloop, httptools"}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            await _wait_ready(client, server)
            await _warm_up(client, tokens, picks)
        cpu_before = process_cpu_s(server.pid)
        load = _load(_wrk_binary(), base, tokens, picks, seconds, f"{run_id}-baseline")
        cpu_after = process_cpu_s(server.pid)
    finally:
        out["baseline_server_exit"] = _stop_server(server)
    out.update(baseline_load_figures(load))
    if cpu_before is not None and cpu_after is not None and load["requests"]:
        out["baseline_server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / load["requests"], 3)
    out.update(ratio_figures({"throughput_ratio": (figures.get("throughput_per_s"), out["baseline_requests_per_s"])}))
    echo(
        f"baseline, trivial endpoint: {out['baseline_requests_per_s']} requests/s (2xx), p50 {out['baseline_p50_ms']} "
        f"ms, p99 {out['baseline_p99_ms']} ms, non-2xx {out['baseline_non_2xx']}"
    )
    echo(describe_ratio("bets/s", out.get("throughput_ratio")))
    return out


async def _warm_up(client: httpx.AsyncClient, tokens: Sequence[str], picks: Sequence[tuple[str, str, str]]) -> None:
    """A few bets first, as the platform's server had its set-up requests before its load: first calls are slow."""
    for i, (selection_id, odds, _event) in enumerate(picks[:WARM_UP]):
        body = {"type": "single", "legs": [{"selection_id": selection_id, "odds": odds}], "stake": 100}
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}", "Idempotency-Key": f"warm-up-{i}"}
        response = await client.post("/api/v1/bets", json=body, headers=headers)
        assert response.status_code == 201, response.text


def baseline_load_figures(load: dict[str, Any]) -> dict[str, Any]:
    """The load generator's report on the trivial endpoint, as `baseline_*` figures."""
    return {
        "baseline_requests_per_s": load["throughput_per_s"],
        "baseline_p50_ms": load["p50_ms"],
        "baseline_p99_ms": load["p99_ms"],
        "baseline_max_ms": load["max_ms"],
        "baseline_requests": load["requests"],
        "baseline_non_2xx": load["non_2xx"],
        "baseline_socket_errors": load["socket_errors"],
    }


def _start_trivial_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "bench.trivial_http", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _backend(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


# ---- set-up ----


async def _players_and_staff(settings: Settings, run_id: str, admin_email: str) -> dict[str, str]:
    """An admin, and PLAYERS registered players with an open session each: {player id: bearer token}."""
    platform = build_platform(settings)
    try:
        await platform.players.create_staff(admin_email, PASSWORD, "admin")
        semaphore = asyncio.Semaphore(16)

        async def player(i: int) -> tuple[str, str]:
            async with semaphore:
                email = f"bench-http-{run_id}-{i}@example.com"
                registration = Registration(
                    email=email, password=PASSWORD, date_of_birth=date(1990, 5, 17), country="GB", currency="EUR"
                )
                principal = await platform.players.register(registration)
                # one address per player: the per-address login limit is for attackers, not for set-up
                token, _expires = await platform.players.login(email, PASSWORD, f"10.77.{i // 250}.{i % 250 + 1}")
                return str(principal.id), token

        return dict(await asyncio.gather(*(player(i) for i in range(PLAYERS))))
    finally:
        await platform.db.dispose()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _sportsbook_command() -> list[str]:
    """The `sportsbook` command of this environment, or SPORTSBOOK_BENCH_COMMAND (e.g. a patched build to compare)."""
    override = os.environ.get("SPORTSBOOK_BENCH_COMMAND")
    if override:
        return shlex.split(override)
    script = Path(sys.executable).with_name("sportsbook")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sportsbook.cli"]


def _start_server(settings: Settings, port: int, extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPORTSBOOK_DATABASE_URL": settings.database_url,
        "SPORTSBOOK_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "SPORTSBOOK_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "SPORTSBOOK_ARGON2_PARALLELISM": str(settings.argon2_parallelism),
        "SPORTSBOOK_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    command = [*_sportsbook_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def _wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise RuntimeError(f"the server exited with {server.returncode}: {err[-2000:]}")
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server was not ready within 60 s")


def _stop_server(server: subprocess.Popen[bytes]) -> int | None:
    """SIGINT (uvicorn's graceful shutdown: the platform stops, the writers commit what is queued)."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    if server.stderr is not None:
        server.stderr.close()
    return server.returncode


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    response = await client.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _event_body(run_id: str, i: int, start: datetime) -> dict[str, Any]:
    return {
        "sport": "football",
        "name": f"HTTP bench {run_id} Home {i} v Away {i}",
        "competition": "Bench League",
        "start_time": start.isoformat(),
        "competitors": [f"Home {i}", f"Away {i}"],
        "markets": [
            {
                "type": "1x2",
                "limits": LIMITS,
                "selections": [
                    {"outcome": "home", "odds": "2.50"},
                    {"outcome": "draw", "odds": "3.40"},
                    {"outcome": "away", "odds": "2.80"},
                ],
            },
            {
                "type": "total",
                "specifiers": {"total": "2.5"},
                "limits": LIMITS,
                "selections": [{"outcome": "over", "odds": "1.90"}, {"outcome": "under", "odds": "1.90"}],
            },
        ],
    }


async def _events(client: httpx.AsyncClient, admin: dict[str, str], run_id: str) -> list[tuple[str, str, str]]:
    """EVENTS upcoming events a week ahead; every selection as (selection id, odds, event id)."""
    start = datetime.now(UTC) + timedelta(days=7)
    picks: list[tuple[str, str, str]] = []
    for i in range(EVENTS):
        response = await client.post("/api/v1/admin/events", json=_event_body(run_id, i, start), headers=admin)
        assert response.status_code == 201, response.text
        event = response.json()
        picks.extend((s["id"], s["odds"], event["id"]) for m in event["markets"] for s in m["selections"])
    return picks


async def _fund(client: httpx.AsyncClient, admin: dict[str, str], players: list[str], run_id: str) -> None:
    semaphore = asyncio.Semaphore(16)

    async def fund(player_id: str) -> None:
        async with semaphore:
            response = await client.post(
                "/api/v1/admin/adjustments",
                json={"player_id": player_id, "amount": 10**12, "reason": "bench funds"},
                headers={**admin, "Idempotency-Key": f"bench-fund-{run_id}-{player_id}"},
            )
            assert response.status_code == 201, response.text

    await asyncio.gather(*(fund(p) for p in players))


def _player_tokens(tokens: dict[str, str]) -> list[str]:
    return list(tokens.values())


async def _metrics(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


def _placed_counts(metrics: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for m in _PLACED.finditer(metrics)}


# ---- load: wrk ----


def _load(
    wrk: str | None,
    base: str,
    tokens: Sequence[str],
    picks: Sequence[tuple[str, str, str]],
    seconds: float,
    run_id: str,
) -> dict[str, Any]:
    """wrk when there is one, else the httpx generator: the platform and its baseline get the same."""
    if wrk is not None:
        return _wrk_load(wrk, base, tokens, picks, seconds, run_id)
    return _httpx_load(base, tokens, picks, seconds, run_id)


def _wrk_binary() -> str | None:
    found = shutil.which("wrk")
    if found is not None or os.environ.get("SPORTSBOOK_BENCH_NO_WRK"):
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, capture_output=True, check=False)
        return shutil.which("wrk")
    return None


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of ASCII ids and odds is a valid Lua string literal


_WRK_SCRIPT = """
local tokens = {%(tokens)s}
local picks = {%(picks)s}
local mix = {%(mix)s}
local run_id = %(run_id)s
local counter = 0
local prefix = ""
statuses = {}  -- global: done() reads every thread's table with thread:get
local threads = {}
local next_thread = 1

function setup(thread)
  thread:set("tid", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = run_id .. "-" .. tid .. "-"
  math.randomseed(os.time() * 1000 + tid)
end

local function legs_for(n)
  local chosen, events = {}, {}
  while #chosen < n do
    local p = picks[math.random(#picks)]
    if not events[p[3]] then
      events[p[3]] = true
      chosen[#chosen + 1] = '{"selection_id":"' .. p[1] .. '","odds":"' .. p[2] .. '"}'
    end
  end
  return table.concat(chosen, ",")
end

function request()
  counter = counter + 1
  local roll, n = math.random(100), 1
  for _, m in ipairs(mix) do
    if roll <= m[2] then n = m[1]; break end
    roll = roll - m[2]
  end
  local kind = (n == 1) and "single" or "multiple"
  local body = '{"type":"' .. kind .. '","legs":[' .. legs_for(n) .. '],"stake":' .. math.random(100, 5000) .. '}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    ["Idempotency-Key"] = prefix .. counter,
  }
  return wrk.format("POST", "/api/v1/bets", headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do merged[tostring(k)] = (merged[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = '"' .. k .. '":' .. v end
  io.write(string.format(
    'WRK_RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f,' ..
    '"socket_errors":%%d,"statuses":{%%s}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
"""


def _wrk_load(
    wrk: str, base: str, tokens: Sequence[str], picks: Sequence[tuple[str, str, str]], seconds: float, run_id: str
) -> dict[str, Any]:
    script = _WRK_SCRIPT % {
        "tokens": ",".join(_lua_string(t) for t in tokens),
        "picks": ",".join("{" + ",".join(_lua_string(x) for x in p) + "}" for p in picks),
        "mix": ",".join(f"{{{n},{w}}}" for n, w in MIX),
        "run_id": _lua_string(run_id),
    }
    return run_wrk(wrk, script, f"{base}/api/v1/bets", seconds)


def run_wrk(wrk: str, script: str, url: str, seconds: float) -> dict[str, Any]:
    """wrk with WRK_THREADS threads and CONNECTIONS connections for `seconds`, driven by a Lua `script` whose
    `done` prints a `WRK_RESULT {json}` line (requests, duration, percentiles, socket errors, statuses), and
    its figures. The script may add a `"bodies":{...}` object of its own counts; it is returned as `bodies`."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.lua"
        path.write_text(script)
        command = [wrk, "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", str(path), url]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60)
    line = next((x for x in result.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    raw = json.loads(line.removeprefix("WRK_RESULT "))
    statuses: dict[str, int] = {k: int(v) for k, v in sorted(raw["statuses"].items())}
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    elapsed = raw["duration_us"] / 1e6
    return {
        "generator": f"wrk -t{WRK_THREADS} -c{CONNECTIONS}",
        "throughput_per_s": round(ok / elapsed) if elapsed else 0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "requests": raw["requests"],
        "ok": ok,
        "non_2xx": {k: v for k, v in statuses.items() if not k.startswith("2")},
        "socket_errors": raw["socket_errors"],
        **({"bodies": raw["bodies"]} if "bodies" in raw else {}),
    }


# ---- load: httpx, in a process of its own ----


def _httpx_load(
    base: str, tokens: Sequence[str], picks: Sequence[tuple[str, str, str]], seconds: float, run_id: str
) -> dict[str, Any]:
    config = {"base": base, "tokens": list(tokens), "picks": [list(p) for p in picks], "seconds": seconds}
    config["run_id"] = run_id
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.json"
        path.write_text(json.dumps(config))
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, "-m", "bench.placement_http", str(path)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"the load generator failed: {result.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


async def _generate(config: dict[str, Any]) -> dict[str, Any]:
    """CONNECTIONS clients posting bets one at a time until the deadline: what a browser crowd does."""
    tokens: list[str] = config["tokens"]
    picks: list[list[str]] = config["picks"]
    deadline = time.perf_counter() + float(config["seconds"])
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    sizes = [n for n, _ in MIX]
    weights = [w for _, w in MIX]

    async def worker(client: httpx.AsyncClient, w: int) -> None:
        rng = random.Random(f"{config['run_id']}:{w}")
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            size = rng.choices(sizes, weights)[0]
            legs: list[dict[str, str]] = []
            events: set[str] = set()
            while len(legs) < size:
                sel, odds, event = rng.choice(picks)
                if event not in events:
                    events.add(event)
                    legs.append({"selection_id": sel, "odds": odds})
            body = {"type": "single" if size == 1 else "multiple", "legs": legs, "stake": rng.randint(100, 5_000)}
            headers = {
                "Authorization": f"Bearer {rng.choice(tokens)}",
                "Idempotency-Key": f"{config['run_id']}-{w}-{n}",
            }
            started = time.perf_counter()
            response = await client.post("/api/v1/bets", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1

    begun = time.perf_counter()
    async with httpx.AsyncClient(base_url=config["base"], limits=limits, timeout=30.0) as client:
        await asyncio.gather(*(worker(client, w) for w in range(CONNECTIONS)))
    elapsed = time.perf_counter() - begun
    ok = sum(v for k, v in statuses.items() if 200 <= k < 300)
    return {
        "generator": f"httpx x{CONNECTIONS}",
        "throughput_per_s": round(ok / elapsed),
        **latency_figures(latencies),
        "requests": sum(statuses.values()),
        "ok": ok,
        "non_2xx": {str(k): v for k, v in sorted(statuses.items()) if not 200 <= k < 300},
        "socket_errors": 0,
    }


if __name__ == "__main__":
    loaded: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(_generate(loaded))))

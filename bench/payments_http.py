"""Card deposits over HTTP: the real server (`sportsbook serve`) with the simulated PSPs answering at once, under
the HTTP bench's load generator, and its trivial endpoint under the same load as the baseline.

Set-up: PLAYERS players registered through the platform with an open session each (as bench/placement_http.py
does, each from its own address); then the server runs as a subprocess on a free 127.0.0.1 port on the database
of SPORTSBOOK_DATABASE_URL with `SPORTSBOOK_PAYMENTS_SIM_LATENCY_SCALE=0`: the three simulated connectors add no
latency, and their webhooks come back to the node at once (5% of them twice), as the platform is configured.

Load: `wrk -t2 -c64` (the placement HTTP bench's generator; an httpx generator in a process of its own without
wrk) with a Lua script that picks a player's token, a card from CARDS and an amount, and sends a unique
Idempotency-Key with every `POST /api/v1/deposits`, for `seconds`. The default card is the contract's test card
4242 4242 4242 4242, which every simulated issuer approves; SPORTSBOOK_BENCH_CARDS (comma-separated numbers) puts
other cards in the draw, and those follow the simulators' approval model (declines, 3-D Secure challenges,
cascades). Deposits/s counts 2xx answers; `deposit_statuses` counts the payments' statuses in those answers
(`approval_share` is the succeeded share), and `server_payments` and `server_webhooks` the server's counters.

Baseline, in the same run once the server has stopped: bench/trivial_http.py's `POST /api/v1/deposits` (the
deposit route's body model and the same two headers parsed, a succeeded payment's shape answered at once), served
the same way, warmed up as the platform was, under the same generator, script, tokens, cards and duration.
`throughput_ratio` is the platform's deposits/s over its requests/s; the target is >= 0.4."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.baseline import describe_ratio, ratio_figures
from bench.placement import bench_settings
from bench.placement_http import (
    CONNECTIONS,
    _backend,
    _free_port,
    _lua_string,
    _players_and_staff,
    _start_server,
    _start_trivial_server,
    _stop_server,
    _wait_ready,
    _wrk_binary,
    baseline_load_figures,
    run_wrk,
)
from bench.stats import latency_figures, machine_cpu, machine_figures, process_cpu_s, wal_position
from sportsbook.config import Settings
from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade

SCENARIO = "payments"
APPROVED_CARD = "4242424242424242"
WARM_UP = 100  # deposits sent to each server before its load: first calls are slow
AMOUNTS = (1_000, 50_000)  # minor units, drawn uniformly
_SERVER_ENV = {"SPORTSBOOK_PAYMENTS_SIM_LATENCY_SCALE": "0"}


def cards() -> list[str]:
    """The cards the load draws from: 4242... alone, or SPORTSBOOK_BENCH_CARDS (spaces dropped)."""
    raw = os.environ.get("SPORTSBOOK_BENCH_CARDS", "")
    found = [c.replace(" ", "") for c in raw.split(",") if c.strip()]
    return found or [APPROVED_CARD]


def deposit_body(card: str, amount: int) -> dict[str, Any]:
    """The body the load sends (the Lua script builds the same text)."""
    return {
        "amount": amount,
        "currency": "EUR",
        "card": {"number": card, "expiry_month": 12, "expiry_year": 2030, "cvc": "123", "holder": "Bench Player"},
    }


async def _wal(settings: Settings) -> tuple[int, int] | None:
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
    tokens = list((await _players_and_staff(settings, run_id, f"bench-admin-{run_id}@example.com")).values())
    card_list = cards()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_server(settings, port, _SERVER_ENV)
    figures: dict[str, Any] = {"scenario": SCENARIO, "backend": _backend(settings), "cards": card_list}
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            await _wait_ready(client, server)
            await _warm_up(client, tokens, card_list, f"{run_id}-warm")
            figures["setup_s"] = round(time.perf_counter() - started, 1)
            echo(
                f"deposits over HTTP on {figures['backend']}: server pid {server.pid} on {base}, {len(tokens)} "
                f"players, {len(card_list)} card(s), {CONNECTIONS} connections, {seconds:.0f}s"
            )
            figures["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
            before = counters(await _metrics(client))
            cpu_before = process_cpu_s(server.pid)
            wal = await _wal(settings)
            machine = machine_cpu()
            wrk = _wrk_binary()
            if wrk is None:
                echo("wrk unavailable: using the httpx load generator")
            load = _load(wrk, base, tokens, card_list, seconds, run_id)
            cpu_after = process_cpu_s(server.pid)
            figures.update(machine_figures(machine, machine_cpu()))
            wal_after = await _wal(settings)
            await asyncio.sleep(0.5)  # the last webhooks come back to the server
            after = counters(await _metrics(client))
        figures.update(load_figures(load))
        figures.update(server_figures(before, after))
        ok = figures["ok"]
        if wal is not None and wal_after is not None and ok:
            figures["wal_records_per_deposit"] = round((wal_after[0] - wal[0]) / ok, 1)
            figures["wal_bytes_per_deposit"] = round((wal_after[1] - wal[1]) / ok)
        if cpu_before is not None and cpu_after is not None and ok:
            figures["server_cpu_ms_per_deposit"] = round((cpu_after - cpu_before) * 1000 / ok, 3)
            figures["server_cpu_share"] = round((cpu_after - cpu_before) / seconds, 2)
            if not settings.is_sqlite:  # a local PostgreSQL's CPU; on SQLite it would be other work's
                figures["database_cpu_ms_per_deposit"] = round(figures.get("database_cpu_s", 0.0) * 1000 / ok, 3)
        echo(
            f"{figures['generator']}: {figures['throughput_per_s']} deposits/s (2xx), p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, statuses {figures['deposit_statuses']}, non-2xx {figures['non_2xx']}"
        )
    finally:
        figures["server_exit"] = _stop_server(server)
    figures.update(await baseline_and_ratio(figures, tokens, card_list, seconds=seconds, run_id=run_id, echo=echo))
    return figures


async def baseline_and_ratio(
    figures: dict[str, Any],
    tokens: Sequence[str],
    card_list: Sequence[str],
    *,
    seconds: float,
    run_id: str,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """Once the platform's server has stopped: the trivial deposit endpoint under the same load, its figures as
    `baseline_*`, and the platform's deposits/s as a ratio to its requests/s."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _start_trivial_server(port)
    out: dict[str, Any] = {
        "baseline": "trivial FastAPI deposit endpoint (bench/trivial_http.py), uvicorn, uvloop, httptools"
    }
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30.0) as client:
            await _wait_ready(client, server)
            await _warm_up(client, tokens, card_list, f"{run_id}-baseline-warm")
        cpu_before = process_cpu_s(server.pid)
        load = _load(_wrk_binary(), base, tokens, card_list, seconds, f"{run_id}-baseline")
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
    echo(describe_ratio("deposits/s", out.get("throughput_ratio")))
    return out


async def _warm_up(client: httpx.AsyncClient, tokens: Sequence[str], card_list: Sequence[str], prefix: str) -> None:
    for i in range(WARM_UP):
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}", "Idempotency-Key": f"{prefix}-{i}"}
        body = deposit_body(card_list[i % len(card_list)], AMOUNTS[0])
        response = await client.post("/api/v1/deposits", json=body, headers=headers)
        assert response.status_code == 201, response.text


async def _metrics(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


def counters(metrics: str) -> dict[str, float]:
    """The payments' counters of a /metrics page, summed by the labels the report shows: `payments:STATUS` (deposits
    that reached a final state) and `webhooks:RESULT`."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == "sportsbook_payments_total" and sample.labels.get("direction") == "deposit":
                key = f"payments:{sample.labels['status']}"
            elif sample.name == "sportsbook_payment_webhooks_total":
                key = f"webhooks:{sample.labels['result']}"
            else:
                continue
            out[key] = out.get(key, 0.0) + sample.value
    return out


def server_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, dict[str, int]]:
    """What the server's counters moved by over the load."""
    moved = {k: round(v - before.get(k, 0.0)) for k, v in sorted(after.items())}
    return {
        "server_payments": {k.split(":", 1)[1]: v for k, v in moved.items() if k.startswith("payments:") and v},
        "server_webhooks": {k.split(":", 1)[1]: v for k, v in moved.items() if k.startswith("webhooks:") and v},
    }


def load_figures(load: dict[str, Any]) -> dict[str, Any]:
    """The generator's report, with the payments' statuses in the 2xx answers and the approved share of them."""
    out = {k: v for k, v in load.items() if k != "bodies"}
    statuses = {str(k): int(v) for k, v in sorted(load.get("bodies", {}).items())}
    out["deposit_statuses"] = statuses
    answered = sum(statuses.values())
    out["approval_share"] = round(statuses.get("succeeded", 0) / answered, 4) if answered else None
    return out


# ---- load: wrk ----


def _load(
    wrk: str | None, base: str, tokens: Sequence[str], card_list: Sequence[str], seconds: float, run_id: str
) -> dict[str, Any]:
    """wrk when there is one, else the httpx generator: the platform and its baseline get the same."""
    if wrk is not None:
        return run_wrk(wrk, wrk_script(tokens, card_list, run_id), f"{base}/api/v1/deposits", seconds)
    return _httpx_load(base, tokens, card_list, seconds, run_id)


_WRK_SCRIPT = """
local tokens = {%(tokens)s}
local cards = {%(cards)s}
local run_id = %(run_id)s
local low, high = %(low)d, %(high)d
local counter = 0
local prefix = ""
statuses = {}  -- global: done() reads every thread's tables with thread:get
bodies = {}
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

function request()
  counter = counter + 1
  local body = '{"amount":' .. math.random(low, high) .. ',"currency":"EUR","card":{"number":"' ..
    cards[math.random(#cards)] .. '","expiry_month":12,"expiry_year":2030,"cvc":"123","holder":"Bench Player"}}'
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    ["Idempotency-Key"] = prefix .. counter,
  }
  return wrk.format("POST", "/api/v1/deposits", headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    local state = string.match(body, '"status":"([%%a_]+)"') or "unreadable"
    bodies[state] = (bodies[state] or 0) + 1
  end
end

local function merged(name)
  local out = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get(name)) do out[tostring(k)] = (out[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(out) do parts[#parts + 1] = '"' .. k .. '":' .. v end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRK_RESULT {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d,"mean_us":%%.1f,' ..
    '"socket_errors":%%d,"statuses":%%s,"bodies":%%s}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    merged("statuses"), merged("bodies")))
end
"""


def wrk_script(tokens: Sequence[str], card_list: Sequence[str], run_id: str) -> str:
    return _WRK_SCRIPT % {
        "tokens": ",".join(_lua_string(t) for t in tokens),
        "cards": ",".join(_lua_string(c) for c in card_list),
        "run_id": _lua_string(run_id),
        "low": AMOUNTS[0],
        "high": AMOUNTS[1],
    }


# ---- load: httpx, in a process of its own ----


def _httpx_load(
    base: str, tokens: Sequence[str], card_list: Sequence[str], seconds: float, run_id: str
) -> dict[str, Any]:
    config = {"base": base, "tokens": list(tokens), "cards": list(card_list), "seconds": seconds, "run_id": run_id}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.json"
        path.write_text(json.dumps(config))
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        command = [sys.executable, "-m", "bench.payments_http", str(path)]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"the load generator failed: {result.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


async def _generate(config: dict[str, Any]) -> dict[str, Any]:
    """CONNECTIONS clients posting deposits one at a time until the deadline."""
    tokens: list[str] = config["tokens"]
    card_list: list[str] = config["cards"]
    deadline = time.perf_counter() + float(config["seconds"])
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    bodies: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)

    async def worker(client: httpx.AsyncClient, w: int) -> None:
        rng = random.Random(f"{config['run_id']}:{w}")
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            body = deposit_body(rng.choice(card_list), rng.randint(*AMOUNTS))
            headers = {
                "Authorization": f"Bearer {rng.choice(tokens)}",
                "Idempotency-Key": f"{config['run_id']}-{w}-{n}",
            }
            started = time.perf_counter()
            response = await client.post("/api/v1/deposits", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            if 200 <= response.status_code < 300:
                bodies[str(response.json().get("status", "unreadable"))] += 1

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
        "bodies": dict(bodies),
    }


if __name__ == "__main__":
    loaded: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(_generate(loaded))))

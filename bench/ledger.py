"""Ledger throughput: batched, one-per-request and hot-account transfers, plus a plain SQL baseline.

Phases, each for `seconds`:
- batched: 8 clients each submit 100 transfers per call, group-committed together;
- single: 16 clients each submit one transfer per call (group commit merges what is waiting);
- hot: as batched, but every transfer credits the same house account;
- baseline (PostgreSQL only): pgbench running a plain PL/pgSQL transfer, 16 clients, 1 and 100 per call.
Durable commit throughout: synchronous_commit stays on (PostgreSQL), synchronous=FULL (SQLite)."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text

from bench.stats import latency_figures, machine_cpu, machine_figures
from sportsbook.config import Settings
from sportsbook.core.clock import SystemClock
from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade
from sportsbook.ledger.model import AccountKind, Result, TransferRequest
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.store import AccountKey

ACCOUNTS = 1000
FUNDING = 10**12


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    upgrade(settings.database_url)
    db = Database.from_settings(settings)
    ledger = Ledger(db, SystemClock(), batch_max=settings.ledger_batch_max)
    await ledger.start(sweep_s=3600)
    figures: dict[str, Any] = {"scenario": "ledger", "backend": db.dialect}
    try:
        figures["durable"] = await _durability(db)
        run_id = uuid.uuid4().hex[:8]
        players, house = await _accounts(ledger, run_id)
        echo(f"ledger bench on {db.dialect}: {len(players)} accounts, {seconds:.0f}s per phase")

        batched = await _drive(ledger, players, None, clients=8, per_call=100, seconds=seconds)
        figures.update(throughput_per_s=batched["rate"], **_prefixed("", batched["lat"]))
        echo(f"batched: {batched['rate']:.0f} transfers/s")

        single = await _drive(ledger, players, None, clients=16, per_call=1, seconds=seconds)
        figures.update(single_throughput_per_s=single["rate"], **_prefixed("single_", single["lat"]))
        echo(f"single: {single['rate']:.0f} transfers/s, p99 {single['lat']['p99_ms']} ms")

        hot = await _drive(ledger, players, house, clients=8, per_call=100, seconds=seconds)
        figures.update(hot_throughput_per_s=hot["rate"], **_prefixed("hot_", hot["lat"]))
        figures["hot_ratio"] = round(hot["rate"] / batched["rate"], 2) if batched["rate"] else 0.0
        echo(f"hot account: {hot['rate']:.0f} transfers/s ({figures['hot_ratio']}x uniform)")
        figures["refused"] = batched["refused"] + single["refused"] + hot["refused"]
    finally:
        await ledger.stop()
        await db.dispose()
    if figures["backend"] == "postgresql":
        figures.update(_pgbench_baseline(settings.database_url, seconds, echo))
    return figures


async def _durability(db: Database) -> str:
    async with db.read() as conn:
        if db.is_sqlite:
            value = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
            return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(value), str(value))
        return str((await conn.execute(text("SHOW synchronous_commit"))).scalar_one())


async def _accounts(ledger: Ledger, run_id: str) -> tuple[list[int], int]:
    equity = await ledger.account(AccountKey("house", AccountKind.EQUITY, "EUR", f"bench-{run_id}"))
    house = await ledger.account(AccountKey("house", AccountKind.REVENUE, "EUR", f"bench-{run_id}"))
    players = [
        await ledger.account(AccountKey(f"bench:{run_id}:{i}", AccountKind.CASH, "EUR")) for i in range(ACCOUNTS)
    ]
    funding = [TransferRequest(uuid.uuid4(), equity, p, FUNDING, code="bench_funding") for p in players]
    for start in range(0, len(funding), 500):
        results = await ledger.create_transfers(funding[start : start + 500])
        assert all(r is Result.OK for r in results), set(results)
    return players, house


async def _drive(
    ledger: Ledger, players: list[int], hot: int | None, *, clients: int, per_call: int, seconds: float
) -> dict[str, Any]:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    done = 0
    refused = 0

    async def client(seed: int) -> None:
        nonlocal done, refused
        rng = random.Random(f"{seed}:{uuid.uuid4()}")  # distinct ids in every phase and run
        while time.perf_counter() < deadline:
            calls = []
            for _ in range(per_call):
                debit = rng.choice(players)
                credit = hot if hot is not None else rng.choice(players)
                while credit == debit:
                    credit = rng.choice(players)
                tid = uuid.UUID(int=rng.getrandbits(128), version=4)  # cheaper than uuid4's syscall
                calls.append(TransferRequest(tid, debit, credit, rng.randint(1, 10_000), code="bench"))
            started = time.perf_counter()
            results = await ledger.create_transfers(calls)
            latencies.append(time.perf_counter() - started)
            done += sum(1 for r in results if r is Result.OK)
            refused += sum(1 for r in results if r is not Result.OK)

    started = time.perf_counter()
    machine = machine_cpu()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "rate": round(done / elapsed),
        "lat": {**latency_figures(latencies), **machine_figures(machine, machine_cpu())},
        "refused": refused,
    }


def _prefixed(prefix: str, figures: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in figures.items()}


# ---- the PostgreSQL baseline: what plain SQL does on this machine, measured in the same run ----

_BASELINE_SQL = """
DROP SCHEMA IF EXISTS bench_baseline CASCADE;
CREATE SCHEMA bench_baseline;
CREATE TABLE bench_baseline.accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE bench_baseline.transfers (
  id bigserial PRIMARY KEY, debit int NOT NULL, credit int NOT NULL, amount bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_baseline.accounts SELECT g, 1000000000000 FROM generate_series(1, 1000) g;
CREATE FUNCTION bench_baseline.transfer(d int, c int, amt bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE bench_baseline.accounts SET balance = balance - amt WHERE id = d;
  UPDATE bench_baseline.accounts SET balance = balance + amt WHERE id = c;
  INSERT INTO bench_baseline.transfers (debit, credit, amount) VALUES (d, c, amt);
END $$;
-- n random transfers in one call: rows inserted set-based, balances updated in id order (no deadlocks)
CREATE FUNCTION bench_baseline.transfer_many(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS batch (debit int, credit int, amount bigint) ON COMMIT DELETE ROWS;
  INSERT INTO batch SELECT d, c, a FROM (
    SELECT 1 + floor(random() * 1000)::int AS d, 1 + floor(random() * 1000)::int AS c,
           1 + floor(random() * 10000)::bigint AS a FROM generate_series(1, n)) g WHERE d <> c;
  INSERT INTO bench_baseline.transfers (debit, credit, amount) SELECT debit, credit, amount FROM batch;
  FOR r IN SELECT id, sum(delta) AS delta FROM (
      SELECT debit AS id, -amount AS delta FROM batch UNION ALL SELECT credit, amount FROM batch) m
      GROUP BY id ORDER BY id LOOP
    UPDATE bench_baseline.accounts SET balance = balance + r.delta WHERE id = r.id;
  END LOOP;
END $$;
"""


def _pgbench_baseline(url: str, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    pgbench = shutil.which("pgbench") or _debian_pgbench()
    if pgbench is None:
        echo("pgbench not found: baseline skipped")
        return {"pgbench_baseline": "unavailable"}
    parts = urlsplit(url)
    conn_args = [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    dbname = (parts.path or "/postgres").lstrip("/")
    psql = shutil.which("psql") or "psql"
    subprocess.run(
        [psql, *conn_args, "-d", dbname, "-q", "-v", "ON_ERROR_STOP=1", "-c", _BASELINE_SQL],
        check=True,
        capture_output=True,
    )
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        single = Path(tmp) / "single.sql"
        single.write_text(
            "\\set d random(1, 1000)\n\\set c random(1, 1000)\n\\set a random(1, 10000)\n"
            "SELECT bench_baseline.transfer(:d, :c, :a) WHERE :d <> :c;\n"
        )
        batch = Path(tmp) / "batch.sql"
        batch.write_text("SELECT bench_baseline.transfer_many(100);\n")
        for name, script, per_tx in (("single", single, 1), ("batch100", batch, 100)):
            cmd = [
                pgbench,
                *conn_args,
                "-n",
                "-c",
                "16",
                "-j",
                "2",
                "-T",
                str(max(1, int(seconds))),
                "-f",
                str(script),
                dbname,
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            match = re.search(r"tps = ([0-9.]+)", result.stdout)
            tps = float(match.group(1)) if match else 0.0
            out[f"pgbench_{name}_transfers_per_s"] = round(tps * per_tx)
            lat = re.search(r"latency average = ([0-9.]+) ms", result.stdout)
            if lat:
                out[f"pgbench_{name}_latency_avg_ms"] = float(lat.group(1))
            echo(f"pgbench baseline {name}: {out[f'pgbench_{name}_transfers_per_s']} transfers/s")
    subprocess.run(
        [psql, *conn_args, "-d", dbname, "-q", "-c", "DROP SCHEMA IF EXISTS bench_baseline CASCADE"],
        check=False,
        capture_output=True,
    )
    return out


def _debian_pgbench() -> str | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(found[-1]) if found else None

"""The transfer baseline the ledger, placement and settlement benches measure in the same run: what plain SQL moves
on this machine, so that each bench can state its figure as a ratio to it however busy or slow the machine is.

PostgreSQL: pgbench calling a PL/pgSQL function that makes 100 random transfers between 1,000 accounts (rows
inserted set-based, balances updated in id order), 4 clients, for as long as a phase of the bench, durable commit
(`synchronous_commit = on` for pgbench's sessions whatever the server's default), in a schema of its own that is
dropped afterwards.

SQLite: the same work with Python's sqlite3 module on a database file of its own beside the bench's (same disk):
4 threads, each committing 100 transfers per transaction with `executemany` (the debits, the credits, the
transfer rows), WAL mode, `synchronous = FULL`. SQLite has one writer at a time, so the threads take turns and
the figure is what one durable writer does."""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bench.stats import latency_figures

CLIENTS = 4
PER_CALL = 100
ACCOUNTS = 1000
FUNDING = 10**12

_SETUP_SQL = """
DROP SCHEMA IF EXISTS {schema} CASCADE;
CREATE SCHEMA {schema};
CREATE TABLE {schema}.accounts (id int PRIMARY KEY, balance bigint NOT NULL CHECK (balance >= 0));
CREATE TABLE {schema}.transfers (
  id bigserial PRIMARY KEY, debit int NOT NULL, credit int NOT NULL, amount bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO {schema}.accounts SELECT g, {funding} FROM generate_series(1, {accounts}) g;
CREATE FUNCTION {schema}.transfer(d int, c int, amt bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {schema}.accounts SET balance = balance - amt WHERE id = d;
  UPDATE {schema}.accounts SET balance = balance + amt WHERE id = c;
  INSERT INTO {schema}.transfers (debit, credit, amount) VALUES (d, c, amt);
END $$;
-- n random transfers in one call: rows inserted set-based, balances updated in id order (no deadlocks)
CREATE FUNCTION {schema}.transfer_many(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  CREATE TEMP TABLE IF NOT EXISTS batch (debit int, credit int, amount bigint) ON COMMIT DELETE ROWS;
  INSERT INTO batch SELECT d, c, a FROM (
    SELECT 1 + floor(random() * {accounts})::int AS d, 1 + floor(random() * {accounts})::int AS c,
           1 + floor(random() * 10000)::bigint AS a FROM generate_series(1, n)) g WHERE d <> c;
  INSERT INTO {schema}.transfers (debit, credit, amount) SELECT debit, credit, amount FROM batch;
  FOR r IN SELECT id, sum(delta) AS delta FROM (
      SELECT debit AS id, -amount AS delta FROM batch UNION ALL SELECT credit, amount FROM batch) m
      GROUP BY id ORDER BY id LOOP
    UPDATE {schema}.accounts SET balance = balance + r.delta WHERE id = r.id;
  END LOOP;
END $$;
"""


@dataclass(frozen=True, slots=True)
class PgbenchPhase:
    """One pgbench run over the baseline schema: `script` is pgbench script text, with `{schema}` for the schema."""

    name: str
    script: str
    per_call: int
    clients: int


@dataclass(frozen=True, slots=True)
class PgbenchResult:
    """What pgbench printed at the end of a run, and its per-transaction latencies (seconds) from `-l`."""

    tps: float
    latency_avg_ms: float | None
    failed: int
    latencies: tuple[float, ...] = ()


def single_phase(clients: int) -> PgbenchPhase:
    """One transfer per call (two UPDATEs and an INSERT), random accounts."""
    script = (
        f"\\set d random(1, {ACCOUNTS})\n\\set c random(1, {ACCOUNTS})\n\\set a random(1, 10000)\n"
        "SELECT {schema}.transfer(:d, :c, :a) WHERE :d <> :c;\n"
    )
    return PgbenchPhase("single", script, 1, clients)


def batch_phase(clients: int, per_call: int = PER_CALL, name: str | None = None) -> PgbenchPhase:
    """`per_call` transfers per call, set-based."""
    script = f"SELECT {{schema}}.transfer_many({per_call});\n"
    return PgbenchPhase(name or f"batch{per_call}", script, per_call, clients)


def parse_pgbench(stdout: str) -> PgbenchResult | None:
    """pgbench's summary: transactions per second (without connection time), average latency, failures. None when
    it printed no rate (it could not connect, or the script failed in every client)."""
    tps = re.search(r"^tps = ([0-9.]+)", stdout, re.M)
    if tps is None:
        return None
    latency = re.search(r"^latency average = ([0-9.]+) ms", stdout, re.M)
    failed = re.search(r"^number of failed transactions: ([0-9]+)", stdout, re.M)
    return PgbenchResult(
        tps=float(tps.group(1)),
        latency_avg_ms=float(latency.group(1)) if latency else None,
        failed=int(failed.group(1)) if failed else 0,
    )


def parse_latency_log(lines: Iterable[str]) -> list[float]:
    """Per-transaction latencies in seconds from pgbench's `-l` log (`client_id transaction_no time_us script_no
    epoch epoch_us`; a skipped or failed transaction shows `skipped` or `failed` for its time and is left out)."""
    out: list[float] = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            out.append(int(fields[2]) / 1e6)
    return out


def ratio(value: float | None, baseline: float | None) -> float | None:
    """`value` as a multiple of `baseline` (three decimals), or None when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline <= 0:
        return None
    return round(value / baseline, 3)


def ratio_figures(pairs: dict[str, tuple[float | None, float | None]]) -> dict[str, float]:
    """{key: ratio(value, baseline)} for every pair whose ratio exists: no key at all when there is no baseline."""
    out: dict[str, float] = {}
    for key, (value, baseline) in pairs.items():
        found = ratio(value, baseline)
        if found is not None:
            out[key] = found
    return out


def describe_ratio(label: str, value: float | None) -> str:
    """One line of a bench's human output."""
    if value is None:
        return f"{label}: no baseline, no ratio"
    return f"{label}: {value}x the baseline"


def pgbench_binary() -> str | None:
    found = shutil.which("pgbench")
    if found is not None:
        return found
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(debian[-1]) if debian else None


def run_pgbench_phases(
    url: str, phases: Sequence[PgbenchPhase], *, seconds: float
) -> dict[str, PgbenchResult | None] | None:
    """Create the baseline schema, run each phase for `seconds`, drop the schema. None without pgbench; a phase's
    result is None when pgbench printed no rate."""
    pgbench = pgbench_binary()
    if pgbench is None:
        return None
    parts = urlsplit(url)
    conn_args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    conn_args += ["-U", parts.username or "postgres"]
    dbname = (parts.path or "/postgres").lstrip("/") or "postgres"
    # durable commit whatever the server's default, as the platform's own sessions have it
    env = {**os.environ, "PGOPTIONS": "-c synchronous_commit=on"}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    schema = f"bench_baseline_{uuid.uuid4().hex[:8]}"  # two benches on one database do not collide
    psql = shutil.which("psql") or str(Path(pgbench).with_name("psql"))
    setup = _SETUP_SQL.format(schema=schema, accounts=ACCOUNTS, funding=FUNDING)
    psql_cmd = [psql, *conn_args, "-d", dbname, "-q", "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql_cmd, "-c", setup], env=env, check=True, capture_output=True)
    results: dict[str, PgbenchResult | None] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for phase in phases:
                script = Path(tmp) / f"{phase.name}.sql"
                script.write_text(phase.script.replace("{schema}", schema))
                prefix = Path(tmp) / f"{phase.name}-latency"
                command = [pgbench, *conn_args, "-n", "-c", str(phase.clients), "-j", str(min(2, phase.clients))]
                command += ["-T", str(max(1, round(seconds))), "-l", f"--log-prefix={prefix}", "-f", str(script)]
                done = subprocess.run(
                    [*command, dbname], env=env, capture_output=True, text=True, check=False, timeout=seconds + 120
                )
                found = parse_pgbench(done.stdout)
                if found is not None:
                    latencies: list[float] = []
                    for log in sorted(Path(tmp).glob(f"{prefix.name}.*")):
                        with log.open() as f:
                            latencies.extend(parse_latency_log(f))
                    found = PgbenchResult(found.tps, found.latency_avg_ms, found.failed, tuple(latencies))
                results[phase.name] = found
    finally:
        subprocess.run([*psql_cmd, "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE"], env=env, capture_output=True)
    return results


def baseline_figures(result: PgbenchResult | None, per_call: int, source: str) -> dict[str, Any]:
    """The `baseline_*` figures of a bench's report from one baseline run (`source` says what ran)."""
    if result is None or result.tps <= 0:
        return {"baseline": f"unavailable: {source} gave no rate"}
    call = latency_figures(list(result.latencies))
    return {
        "baseline": source,
        "baseline_transfers_per_s": round(result.tps * per_call),
        "baseline_call_p50_ms": call["p50_ms"],
        "baseline_call_p99_ms": call["p99_ms"],
        "baseline_failed": result.failed,
    }


def transfer_baseline(
    url: str, *, seconds: float, echo: Callable[[str], None], clients: int = CLIENTS, per_call: int = PER_CALL
) -> dict[str, Any]:
    """The baseline for the database of `url`: PL/pgSQL through pgbench on PostgreSQL, sqlite3 on SQLite. Blocking:
    call it between timed phases (or through `asyncio.to_thread`)."""
    if url.startswith("sqlite"):
        figures = sqlite_baseline(url, seconds=seconds, clients=clients, per_call=per_call)
    else:
        source = f"pgbench, PL/pgSQL transfer_many({per_call}), {clients} clients"
        results = run_pgbench_phases(url, [batch_phase(clients, per_call)], seconds=seconds)
        if results is None:
            figures = {"baseline": "unavailable: pgbench not found"}
        else:
            figures = baseline_figures(results[f"batch{per_call}"], per_call, source)
    if "baseline_transfers_per_s" in figures:
        echo(
            f"baseline ({figures['baseline']}): {figures['baseline_transfers_per_s']} transfers/s, "
            f"call p99 {figures['baseline_call_p99_ms']} ms"
        )
    else:
        echo(f"baseline {figures['baseline']}")
    return figures


# ---- SQLite: the same transfers with sqlite3 and executemany ----


def sqlite_baseline(url: str, *, seconds: float, clients: int = CLIENTS, per_call: int = PER_CALL) -> dict[str, Any]:
    """`clients` threads committing `per_call` transfers per transaction on a file of their own for `seconds`."""
    database = make_url(url).database
    directory = Path(database).resolve().parent if database and database != ":memory:" else None
    with tempfile.TemporaryDirectory(dir=directory if directory and directory.is_dir() else None) as tmp:
        path = Path(tmp) / "baseline.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))"
            )
            conn.execute(
                "CREATE TABLE transfers (id INTEGER PRIMARY KEY, debit INTEGER NOT NULL, credit INTEGER NOT NULL,"
                " amount INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            conn.executemany("INSERT INTO accounts VALUES (?, ?)", ((i, FUNDING) for i in range(1, ACCOUNTS + 1)))
        conn.close()
        deadline = time.perf_counter() + seconds
        latencies: list[list[float]] = [[] for _ in range(clients)]
        done = [0] * clients
        errors: list[BaseException] = []

        def client(i: int) -> None:
            rng = random.Random(i)
            conn = sqlite3.connect(path, timeout=60, isolation_level=None)
            try:
                conn.execute("PRAGMA synchronous=FULL")
                while time.perf_counter() < deadline:
                    batch = _sqlite_batch(rng, per_call)
                    started = time.perf_counter()
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(
                        "UPDATE accounts SET balance = balance - ? WHERE id = ?", [(a, d) for d, _, a in batch]
                    )
                    conn.executemany(
                        "UPDATE accounts SET balance = balance + ? WHERE id = ?", [(a, c) for _, c, a in batch]
                    )
                    conn.executemany("INSERT INTO transfers (debit, credit, amount) VALUES (?, ?, ?)", batch)
                    conn.execute("COMMIT")
                    latencies[i].append(time.perf_counter() - started)
                    done[i] += len(batch)
            except BaseException as exc:  # reported below: a thread's failure must not pass as a slow baseline
                errors.append(exc)
            finally:
                conn.close()

        began = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    if errors:
        return {"baseline": f"unavailable: sqlite3 baseline failed: {errors[0]!r}"}
    rate = sum(done) / elapsed if elapsed else 0.0
    result = PgbenchResult(rate / per_call, None, 0, tuple(x for each in latencies for x in each))
    return baseline_figures(
        result, per_call, f"sqlite3 executemany, {per_call} transfers per commit, {clients} threads"
    )


def _sqlite_batch(rng: random.Random, n: int) -> list[tuple[int, int, int]]:
    """`n` random transfers (debit, credit, amount) between distinct accounts."""
    batch: list[tuple[int, int, int]] = []
    while len(batch) < n:
        debit, credit = rng.randint(1, ACCOUNTS), rng.randint(1, ACCOUNTS)
        if debit != credit:
            batch.append((debit, credit, rng.randint(1, 10_000)))
    return batch

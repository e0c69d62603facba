"""Ledger throughput: batched, one-per-request and hot-account transfers, plus a plain SQL baseline.

Phases, each for `seconds`:
- batched: 8 clients each submit 100 transfers per call, group-committed together;
- single: 16 clients each submit one transfer per call (group commit merges what is waiting);
- hot: as batched, but every transfer credits the same house account;
- baseline (bench/baseline.py, as placement and settlement run it): on PostgreSQL pgbench calling a PL/pgSQL
  function that makes 100 transfers, 4 clients; on SQLite the same transfers with sqlite3's executemany. The
  batched rate is also printed as a ratio to it (`throughput_ratio`);
- on PostgreSQL, pgbench's older rows: a plain PL/pgSQL transfer, 16 clients, 1 and 100 per call.
Durable commit throughout: synchronous_commit stays on (PostgreSQL), synchronous=FULL (SQLite)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from bench.baseline import (
    CLIENTS,
    PER_CALL,
    baseline_figures,
    batch_phase,
    describe_ratio,
    ratio_figures,
    run_pgbench_phases,
    single_phase,
    transfer_baseline,
)
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
    figures.update(_baselines(settings.database_url, seconds, echo))
    figures.update(
        ratio_figures({"throughput_ratio": (figures.get("throughput_per_s"), figures.get("baseline_transfers_per_s"))})
    )
    echo(describe_ratio("batched throughput", figures.get("throughput_ratio")))
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


# ---- the baselines: what plain SQL does on this machine, measured in the same run ----


def _baselines(url: str, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    """The shared baseline (bench/baseline.py: 100 transfers per call, 4 clients, as placement and settlement run
    it), and on PostgreSQL the ledger's older pgbench rows: 16 clients, 1 and 100 transfers per call."""
    if url.startswith("sqlite"):
        return transfer_baseline(url, seconds=seconds, echo=echo)
    shared = batch_phase(CLIENTS, PER_CALL, name="baseline")
    results = run_pgbench_phases(url, [single_phase(16), batch_phase(16), shared], seconds=seconds)
    if results is None:
        echo("pgbench not found: baseline skipped")
        return {"pgbench_baseline": "unavailable", "baseline": "unavailable: pgbench not found"}
    out: dict[str, Any] = {}
    for name, per_tx in (("single", 1), ("batch100", 100)):
        result = results[name]
        out[f"pgbench_{name}_transfers_per_s"] = round(result.tps * per_tx) if result else 0
        if result is not None and result.latency_avg_ms is not None:
            out[f"pgbench_{name}_latency_avg_ms"] = result.latency_avg_ms
        echo(f"pgbench {name}, 16 clients: {out[f'pgbench_{name}_transfers_per_s']} transfers/s")
    out.update(
        baseline_figures(
            results["baseline"], PER_CALL, f"pgbench, PL/pgSQL transfer_many({PER_CALL}), {CLIENTS} clients"
        )
    )
    if "baseline_transfers_per_s" in out:
        echo(f"baseline ({out['baseline']}): {out['baseline_transfers_per_s']} transfers/s")
    return out

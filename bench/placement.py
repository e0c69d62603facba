"""Bet placement through the service layer: `Betting.place` driven by many concurrent clients.

Set-up: the platform on `settings.database_url` with a real clock, 50 football events (1x2 and total 2.5,
liability limits high enough that refusals are rare), 1,000 players registered with a tiny Argon2 cost and
funded from a house EQUITY account (its player's shard's) through the ledger.

Phases, each for `seconds`, 64 clients (SPORTSBOOK_BENCH_CLIENTS to change) each placing one bet at a time
with a fresh Idempotency-Key:
- singles: 90% singles, 7% doubles, 3% trebles (legs on different events);
- mix: a busier slip: 60% singles, 20% doubles, 10% trebles, 5% trixies, 5% retries of an earlier key;
then, the platform stopped, the transfer baseline of bench/baseline.py for as long as a phase (PostgreSQL:
pgbench, a PL/pgSQL function making 100 transfers per call, 4 clients; SQLite: sqlite3 executemany), and each
phase's bets/s as a ratio to its transfers/s (`throughput_ratio`, `mix_throughput_ratio`).
Durable commit throughout: synchronous_commit stays on (PostgreSQL), synchronous=FULL (SQLite)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from bench.baseline import describe_ratio, ratio_figures, transfer_baseline
from bench.stats import latency_figures, machine_cpu, machine_figures, wal_figures, wal_position
from sportsbook.app import build_platform, start_platform, stop_platform
from sportsbook.betting.model import BetType, OddsChange
from sportsbook.betting.placement import BetRequest, LegRequest
from sportsbook.catalog.model import EventDraft, MarketDraft, SelectionDraft
from sportsbook.config import Settings
from sportsbook.core.errors import DomainError
from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade
from sportsbook.ledger.model import AccountKind, Result, TransferRequest
from sportsbook.ledger.store import AccountKey
from sportsbook.ops.runtime import freeze_heap
from sportsbook.platform import Platform
from sportsbook.players.service import Registration

EVENTS = 50
PLAYERS = 1000
CLIENTS = int(os.environ.get("SPORTSBOOK_BENCH_CLIENTS", "64"))  # concurrent placers (closed loop)
FUNDING = 10**12  # minor units per player: never the reason a bet is refused
PASSWORD = "Vq8#zL2!mW9pTr-bench"
# High enough that the liability book never refuses during a run; the checks still run on every bet.
LIMITS = {
    "max_stake": 100_000,
    "max_payout": 10**13,
    "selection_liability_limit": 10**14,
    "market_liability_limit": 10**14,
}

# (kind, weight): a kind is "single", "double", "treble", "trixie" or "replay"
SINGLES_MIX: tuple[tuple[str, int], ...] = (("single", 90), ("double", 7), ("treble", 3))
REALISTIC_MIX: tuple[tuple[str, int], ...] = (
    ("single", 60),
    ("double", 20),
    ("treble", 10),
    ("trixie", 5),
    ("replay", 5),
)


def bench_settings(settings: Settings) -> Settings:
    """The caller's settings with a tiny Argon2 cost (players are set-up, not the subject) and quiet logs."""
    return settings.model_copy(
        update={"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1, "log_level": "WARNING"}
    )


@dataclass(frozen=True, slots=True)
class Pick:
    """A selection a bench client may bet on, with the odds it shows and the event it belongs to."""

    selection_id: uuid.UUID
    event_id: uuid.UUID
    odds: Decimal


@dataclass
class Tally:
    """What one phase saw."""

    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    replayed: int = 0
    legs: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    batches: list[int] = field(default_factory=list)
    batch_seconds: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time over the phase: the bench clients are a small part of it
    machine: dict[str, float] = field(default_factory=dict)  # the whole machine's busy and stolen shares


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    settings = bench_settings(settings)
    upgrade(settings.database_url)
    platform = build_platform(settings)
    await start_platform(platform)
    figures: dict[str, Any] = {"scenario": "placement", "backend": platform.db.dialect}
    try:
        figures["durable"] = await durability(platform.db)
        figures["loadavg_1m_before"] = round(os.getloadavg()[0], 2)  # other work on the machine skews figures
        run_id = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        picks = await create_events(platform, run_id)
        players = await funded_players(platform, run_id)
        figures["setup_s"] = round(time.perf_counter() - started, 1)
        echo(
            f"placement bench on {platform.db.dialect}: {EVENTS} events, {len(players)} players, "
            f"{CLIENTS} clients, {seconds:.0f}s per phase"
        )

        freeze_heap()  # as `serve` does once started
        singles = await drive(platform, players, picks, SINGLES_MIX, seconds=seconds, run_id=f"{run_id}-s")
        figures.update(phase_figures("", singles))
        echo(
            f"singles: {figures['throughput_per_s']} bets/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
            f"batch mean {figures['batch_mean']}"
        )

        mix = await drive(platform, players, picks, REALISTIC_MIX, seconds=seconds, run_id=f"{run_id}-m")
        figures.update(phase_figures("mix_", mix))
        echo(
            f"realistic mix: {figures['mix_throughput_per_s']} bets/s, p50 {figures['mix_p50_ms']} ms, "
            f"p99 {figures['mix_p99_ms']} ms"
        )
    finally:
        await stop_platform(platform)
    figures.update(await baseline_and_ratios(settings.database_url, figures, seconds=seconds, echo=echo))
    return figures


async def baseline_and_ratios(
    url: str, figures: dict[str, Any], *, seconds: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    """The transfer baseline (bench/baseline.py) for as long as a phase, once the platform has stopped, and each
    phase's bets/s as a ratio to its transfers/s: the issue's target is 0.3x for singles."""
    out = await asyncio.to_thread(transfer_baseline, url, seconds=seconds, echo=echo)
    base = out.get("baseline_transfers_per_s")
    out.update(
        ratio_figures(
            {
                "throughput_ratio": (figures.get("throughput_per_s"), base),
                "mix_throughput_ratio": (figures.get("mix_throughput_per_s"), base),
            }
        )
    )
    echo(describe_ratio("singles", out.get("throughput_ratio")))
    echo(describe_ratio("realistic mix", out.get("mix_throughput_ratio")))
    return out


def phase_figures(prefix: str, tally: Tally) -> dict[str, Any]:
    batches = tally.batches
    out: dict[str, Any] = {
        "throughput_per_s": round(tally.accepted / tally.elapsed_s) if tally.elapsed_s else 0,
        **latency_figures(tally.latencies),
        "placed": tally.accepted,
        "legs_per_bet": round(tally.legs / len(tally.latencies), 2) if tally.latencies else 0.0,
        "replayed": tally.replayed,
        "refused": dict(sorted(tally.refused.items())),
        "kinds": dict(sorted(tally.kinds.items())),
        "batches": len(batches),
        "batch_mean": round(sum(batches) / len(batches), 1) if batches else 0.0,
        "batch_max": max(batches, default=0),
        "batch_commit_ms": latency_figures(tally.batch_seconds)["p50_ms"],
        # CPU per answered request: what the rate would be with a core to itself, whatever else the machine runs
        "cpu_ms_per_bet": round(tally.cpu_s * 1000 / len(tally.latencies), 3) if tally.latencies else 0.0,
        "database_cpu_ms_per_bet": (
            round(tally.machine.get("database_cpu_s", 0.0) * 1000 / len(tally.latencies), 3) if tally.latencies else 0.0
        ),
        "process_cpu_share": round(tally.cpu_s / tally.elapsed_s, 2) if tally.elapsed_s else 0.0,
        **tally.machine,
    }
    return {f"{prefix}{k}": v for k, v in out.items()}


async def durability(db: Database) -> str:
    async with db.read() as conn:
        if db.is_sqlite:
            value = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
            return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(value), str(value))
        return str((await conn.execute(text("SHOW synchronous_commit"))).scalar_one())


def event_draft(run_id: str, i: int, start: Any) -> EventDraft:
    return EventDraft(
        sport="football",
        name=f"Bench {run_id} Home {i} v Away {i}",
        competition="Bench League",
        start_time=start,
        competitors=[f"Home {i}", f"Away {i}"],
        markets=[
            MarketDraft(
                type="1x2",
                selections=[
                    SelectionDraft("home", "2.50"),
                    SelectionDraft("draw", "3.40"),
                    SelectionDraft("away", "2.80"),
                ],
                limits=LIMITS,
            ),
            MarketDraft(
                type="total",
                specifiers={"total": "2.5"},
                selections=[SelectionDraft("over", "1.90"), SelectionDraft("under", "1.90")],
                limits=LIMITS,
            ),
        ],
    )


async def create_events(platform: Platform, run_id: str) -> list[Pick]:
    """EVENTS upcoming events a week ahead (pre-match: no in-play delay), every selection a pick."""
    start = platform.clock.now() + timedelta(days=7)
    picks: list[Pick] = []
    for i in range(EVENTS):
        event = await platform.catalog.create_event(event_draft(run_id, i, start))
        picks.extend(Pick(s.id, event.id, s.odds) for m in event.markets for s in m.selections)
    return picks


async def funded_players(platform: Platform, run_id: str) -> list[uuid.UUID]:
    """PLAYERS registered players, each funded with FUNDING from a house EQUITY account."""
    semaphore = asyncio.Semaphore(16)

    async def register(i: int) -> uuid.UUID:
        async with semaphore:
            registration = Registration(
                email=f"bench-{run_id}-{i}@example.com", password=PASSWORD, date_of_birth=date(1990, 5, 17),
                country="GB", currency="EUR",
            )  # fmt: skip
            return (await platform.players.register(registration)).id

    players = list(await asyncio.gather(*(register(i) for i in range(PLAYERS))))
    ledger = platform.ledger
    key = AccountKey("house", AccountKind.EQUITY, "EUR", f"bench-placement-{run_id}")
    equity = {s: await ledger.account(key, shard=s) for s in range(ledger.shards)}  # a transfer stays on its shard
    transfers: list[TransferRequest] = []
    for player_id in players:
        cash = await ledger.player_account(player_id, AccountKind.CASH, "EUR")
        assert cash is not None
        funder = equity[ledger.shard_of(player_id)]
        transfers.append(TransferRequest(uuid.uuid4(), funder, cash, FUNDING, code="bench_funding"))
    for start in range(0, len(transfers), 500):
        results = await ledger.create_transfers(transfers[start : start + 500])
        assert all(r is Result.OK for r in results), set(results)
    return players


def slip(rng: random.Random, picks: Sequence[Pick], kind: str) -> BetRequest:
    """A bet of `kind` on random selections (legs of a multiple on different events)."""
    n = {"single": 1, "double": 2, "treble": 3, "trixie": 3}[kind]
    legs: list[Pick] = []
    events: set[uuid.UUID] = set()
    while len(legs) < n:
        pick = rng.choice(picks)
        if pick.event_id not in events:
            events.add(pick.event_id)
            legs.append(pick)
    return BetRequest(
        type=BetType.SINGLE if n == 1 else BetType.SYSTEM if kind == "trixie" else BetType.MULTIPLE,
        system="trixie" if kind == "trixie" else None,
        legs=tuple(LegRequest(p.selection_id, p.odds) for p in legs),
        stake=rng.randint(100, 5_000),
        each_way=False,
        odds_change=OddsChange.NONE,
    )


def fingerprint(key: str, request: BetRequest) -> str:
    """Stands in for the route's SHA-256 of the body: distinct per request, stable for a retry."""
    body = f"{key}|{request.type}|{request.stake}|" + ",".join(f"{leg.selection_id}@{leg.odds}" for leg in request.legs)
    return hashlib.sha256(body.encode()).hexdigest()


async def drive(
    platform: Platform,
    players: Sequence[uuid.UUID],
    picks: Sequence[Pick],
    mix: Sequence[tuple[str, int]],
    *,
    seconds: float,
    run_id: str,
) -> Tally:
    """CLIENTS coroutines placing bets one at a time until `seconds` have passed."""
    tally = Tally()
    writers = platform.betting._writers  # one per ledger shard
    previous_hooks = [writer.on_batch for writer in writers]

    def observe(size: int, seconds: float) -> None:
        tally.batches.append(size)
        tally.batch_seconds.append(seconds)

    for writer in writers:
        writer.on_batch = observe
    kinds = [k for k, _ in mix]
    weights = [w for _, w in mix]
    deadline = time.perf_counter() + seconds

    async def client(c: int) -> None:
        rng = random.Random(f"{run_id}:{c}")
        sent: list[tuple[uuid.UUID, BetRequest, str, str]] = []
        n = 0
        while time.perf_counter() < deadline:
            kind = rng.choices(kinds, weights)[0]
            if kind == "replay" and sent:
                player_id, request, key, print_ = rng.choice(sent)
            else:
                kind = "single" if kind == "replay" else kind
                n += 1
                player_id = rng.choice(players)
                request = slip(rng, picks, kind)
                key = f"{run_id}-{c}-{n}"
                print_ = fingerprint(key, request)
                if len(sent) < 100:
                    sent.append((player_id, request, key, print_))
            tally.kinds[kind] += 1
            started = time.perf_counter()
            try:
                await platform.betting.place(player_id, "EUR", request, key, print_)
            except DomainError as exc:
                tally.latencies.append(time.perf_counter() - started)
                tally.refused[exc.code] += 1
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.legs += len(request.legs)
            if kind == "replay":
                tally.replayed += 1
            else:
                tally.accepted += 1

    wal = await wal_position(platform.db)
    begun = time.perf_counter()
    cpu = time.process_time()
    machine = machine_cpu()
    try:
        await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    finally:
        for writer, hook in zip(writers, previous_hooks, strict=True):
            writer.on_batch = hook
    tally.elapsed_s = time.perf_counter() - begun
    tally.cpu_s = time.process_time() - cpu
    tally.machine = machine_figures(machine, machine_cpu())
    tally.machine.update(wal_figures(wal, await wal_position(platform.db), tally.accepted))
    return tally

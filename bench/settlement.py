"""Settlement throughput: result one market that carries ~200,000 open bets, singles and multiples mixed.

Set-up (not timed), on `settings.database_url` with a real clock:
- one football event whose 1x2 market is the subject, and OTHER_EVENTS more whose 1x2 markets carry the other
  legs of the multiples;
- PLAYERS players: their ledger accounts opened directly (no registration: players are not the subject), each
  funded with FUNDING from a house EQUITY account through the ledger;
- the bets, written the way placement writes them but in large batches: per chunk, one transaction that
  reserves every stake with a pending ledger transfer (player cash -> reserved, bound for house revenue) and
  inserts the bets and legs with the bet store's `insert`; each bet is then added to the liability book;
- the other markets are settled first (through the settlement use cases), so every multiple has one leg left
  open, the subject market's, or is settled already: a multiple settles as lost as soon as one leg loses, so
  about one bet in five (the multiples lost elsewhere) is settled before the timed phase, which settles the rest.
Bet count: BETS (200,000: 75% singles, 20% doubles, 5% trebles) at `--seconds` >= 10; fewer scale it down
linearly (a quick check), and SPORTSBOOK_BENCH_BETS overrides it.

Timed: the subject's settlement job, from queueing it (as the route does) to its success, then, separately,
`ledger.reconcile()`. The job runs in `sportsbook worker`, started as a process of its own before the clock starts
(its CPU is the worker's); SPORTSBOOK_BENCH_WORKER=inline runs it in the bench's own process instead.
With SPORTSBOOK_BENCH_PLACING=N (N > 0), N clients also place singles on another open market, one at a time,
first for two seconds alone and then while the subject settles: how long a bet waits while a big market
settles (both take the ledger lock). Its own players, so the checks below still add up.
Then, the platform stopped, the transfer baseline of bench/baseline.py for `seconds` (PostgreSQL: pgbench, a
PL/pgSQL function making 100 transfers per call, 4 clients; SQLite: sqlite3 executemany): bets settled per second
as a ratio to its transfers per second (`throughput_ratio`), and with placing clients, their p99 while settling
as a ratio to their p99 alone (`placing_p99_ratio_to_alone`).
The tables are ANALYZEd at the end of set-up (SPORTSBOOK_BENCH_ANALYZE=0 to skip), so that the planner sees
200,000 open bets the way autovacuum would have shown them.
Checked afterwards: every bet settled with the status and return worked out here independently (exact decimal
arithmetic), every player's cash equals funding - stakes + returns and nothing is left reserved.
The outbox relay is not started: the subject is settlement itself, not publishing its `bet.settled` events."""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import random
import resource
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from bench.baseline import describe_ratio, ratio_figures, transfer_baseline
from bench.stats import latency_figures, machine_cpu, machine_figures, wal_figures, wal_position
from sportsbook.app import build_platform, start_platform, stop_platform
from sportsbook.betting.jobs import FINISHED, JobStatus, SettlementJob
from sportsbook.betting.liability import exposure_deltas
from sportsbook.betting.model import Bet, BetStatus, BetType, Leg, LegSpec, OddsChange, expand_lines, potential_return
from sportsbook.betting.placement import BetRequest, LegRequest
from sportsbook.betting.settlements import Outcome
from sportsbook.betting.store import bet_store, bets
from sportsbook.catalog.model import Event, EventDraft, MarketDraft, SelectionDraft
from sportsbook.config import Settings
from sportsbook.core.ids import derived_id
from sportsbook.db.engine import Database
from sportsbook.db.migrate import upgrade
from sportsbook.db.unit_of_work import UnitOfWork, unit_of_work
from sportsbook.ledger.model import AccountKind, Phase, Result, TransferRequest, player_owner
from sportsbook.ledger.store import AccountKey
from sportsbook.ops.runtime import freeze_heap
from sportsbook.platform import Platform

BETS = 200_000
WORKER = os.environ.get("SPORTSBOOK_BENCH_WORKER", "process")  # or "inline"
FULL_RUN_S = 10.0  # `--seconds` at or above which the full BETS are placed
MIX = (("single", 75), ("double", 20), ("treble", 5))
OTHER_EVENTS = 20
PLAYERS = 2_000
FUNDING = 10**12  # minor units per player: never the reason a stake is refused
WRITE_CHUNK = 2_000  # bets per set-up transaction
CURRENCY = "EUR"
LIMITS = {
    "max_stake": 100_000,
    "max_payout": 10**13,
    "selection_liability_limit": 10**14,
    "market_liability_limit": 10**14,
}
SUBJECT_PRICES = (("home", "2.10"), ("draw", "3.40"), ("away", "3.25"))
OTHER_PRICES = (("home", "1.85"), ("draw", "3.60"), ("away", "4.20"))
SAMPLE = 1_000  # bets read back one by one and compared with the expected outcome
PLACING = int(os.environ.get("SPORTSBOOK_BENCH_PLACING", "0"))  # clients placing bets while settling
PLACING_ALONE_S = 2.0


@dataclass(frozen=True, slots=True)
class Pick:
    selection_id: uuid.UUID
    market_id: uuid.UUID
    event_id: uuid.UUID
    outcome: str
    odds: Decimal


@dataclass(frozen=True, slots=True)
class Expected:
    """What a bet must come to once every leg is resulted, worked out here without the settlement rules."""

    bet_id: uuid.UUID
    player_id: uuid.UUID
    kind: str
    status: str
    total_return: int
    total_stake: int


def bench_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"log_level": "WARNING"})


def bet_count(seconds: float) -> int:
    override = os.environ.get("SPORTSBOOK_BENCH_BETS")
    if override:
        return max(100, int(override))
    return max(1_000, round(BETS * min(1.0, seconds / FULL_RUN_S)))


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    settings = bench_settings(settings)
    upgrade(settings.database_url)
    platform = build_platform(settings)
    await start_platform(platform, relay=False)
    figures: dict[str, Any] = {"scenario": "settlement", "backend": platform.db.dialect}
    try:
        figures["durable"] = await durability(platform.db)
        run_id = uuid.uuid4().hex[:8]
        rng = random.Random(run_id)
        n_bets = bet_count(seconds)
        started = time.perf_counter()
        subject, others = await create_events(platform, run_id)
        players = await funded_players(platform, run_id)
        echo(f"settlement bench on {platform.db.dialect}: placing {n_bets} bets for {len(players)} players")
        expected, placed_s = await place_bets(platform, rng, players, subject, others, n_bets)
        figures["place_per_s"] = round(n_bets / placed_s)
        other_started = time.perf_counter()
        for event in others:
            await settle(platform, event.markets[0].id, [_won(event, "home")])
        figures["other_markets_settle_s"] = round(time.perf_counter() - other_started, 2)
        figures["analyzed"] = await analyze(platform.db)
        figures["setup_s"] = round(time.perf_counter() - started, 1)
        kinds = Counter(e.kind for e in expected)
        figures["bets"] = n_bets
        figures["kinds"] = dict(sorted(kinds.items()))
        figures["players"] = len(players)
        echo(f"set-up done in {figures['setup_s']}s ({figures['place_per_s']} bets/s placed); settling")

        probe = await Probe.create(platform, run_id) if PLACING > 0 else None
        freeze_heap()  # as `serve` and `worker` do once started
        if probe is not None:
            figures.update(await probe.alone(PLACING_ALONE_S))
        worker = await WorkerProcess.start(settings) if WORKER == "process" else None
        figures["worker"] = WORKER
        wal = await wal_position(platform.db)
        began = time.perf_counter()
        machine, cpu = machine_cpu(), time.process_time()
        outcomes = [_won(subject, "home")]
        if worker is not None:
            settling = worker.settle(platform, subject.markets[0].id, outcomes)
        else:
            settling = settle(platform, subject.markets[0].id, outcomes)
        if probe is not None:
            job, placing = await probe.during(settling)
            figures.update(placing)
            echo(f"placing while settling: p50 {placing['placing_p50_ms']} ms, p99 {placing['placing_p99_ms']} ms")
        else:
            job = await settling
        elapsed = time.perf_counter() - began
        figures.update(machine_figures(machine, machine_cpu()))
        settling_cpu_s = time.process_time() - cpu if worker is None else await worker.stop()
        if job.tally.settled:  # the settling process's CPU per bet: what the rate would be with a core to itself
            figures["cpu_us_per_bet"] = round(settling_cpu_s * 1e6 / job.tally.settled, 1)
            database_s = figures.get("database_cpu_s", 0.0)
            figures["database_cpu_us_per_bet"] = round(database_s * 1e6 / job.tally.settled, 1)
        figures.update(wal_figures(wal, await wal_position(platform.db), job.tally.settled))
        figures["settled_bets"] = job.tally.settled
        figures["seconds"] = round(elapsed, 3)
        figures["bets_per_s"] = round(job.tally.settled / elapsed) if elapsed else 0
        echo(f"settled {job.tally.settled} bets in {elapsed:.2f}s: {figures['bets_per_s']} bets/s")

        began = time.perf_counter()
        reconciled = await platform.ledger.reconcile()
        figures["reconcile_s"] = round(time.perf_counter() - began, 2)
        figures["reconcile_transfers"] = reconciled.transfers
        figures["sound"] = reconciled.sound
        figures["reconciled"] = reconciled.sound
        if not reconciled.sound:
            figures["faults"] = [f"{f.kind}: {f.subject}: {f.detail}" for f in reconciled.faults[:5]]
        echo(f"reconcile: {'sound' if reconciled.sound else 'FAULTS'} in {figures['reconcile_s']}s")

        figures.update(await check(platform, rng, expected, players))
        echo(f"checks: {figures['checks']}")
    finally:
        await stop_platform(platform)
    figures.update(await baseline_and_ratios(settings.database_url, figures, seconds=seconds, echo=echo))
    return figures


async def settle(platform: Platform, market_id: uuid.UUID, outcomes: list[Outcome]) -> SettlementJob:
    """Queue the market's settlement job as the route does, then run it here as a worker would."""
    async with unit_of_work(platform.db) as uow:
        queued = await platform.jobs.settle_market(uow, market_id, outcomes)
    ran = await platform.jobs.run_next()
    if ran is None or ran.id != queued.id:
        raise RuntimeError(f"expected to run job {queued.id}, ran {ran}")
    return ran


class WorkerProcess:
    """`sportsbook worker` as a process of its own on the bench's database: the timed job runs there, as it does
    in production, while the placing clients (if any) stay in the bench's process."""

    def __init__(self, process: asyncio.subprocess.Process, cpu_before: float) -> None:
        self.process = process
        self.cpu_before = cpu_before

    @classmethod
    async def start(cls, settings: Settings) -> WorkerProcess:
        env = {
            **os.environ,
            "SPORTSBOOK_DATABASE_URL": settings.database_url,
            "SPORTSBOOK_LOG_LEVEL": "WARNING",
            "SPORTSBOOK_SETTLEMENT_POLL_S": "0.01",
            "SPORTSBOOK_OUTBOX_RELAY": "false",  # as the bench's own process: settlement is the subject
        }
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sportsbook.cli", "worker", env=env, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while b"worker running" not in (line := await asyncio.wait_for(process.stdout.readline(), 60)):
            if not line or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start")
        return cls(process, children.ru_utime + children.ru_stime)

    async def settle(self, platform: Platform, market_id: uuid.UUID, outcomes: list[Outcome]) -> SettlementJob:
        """Queue the job as the route does, and wait for the worker to finish it."""
        async with unit_of_work(platform.db) as uow:
            queued = await platform.jobs.settle_market(uow, market_id, outcomes)
        while True:
            job = await platform.jobs.job(queued.id)
            if job.status in FINISHED:
                if job.status is not JobStatus.SUCCEEDED:
                    raise RuntimeError(f"the settlement job failed: {job.error}")
                return job
            await asyncio.sleep(0.02)

    async def stop(self) -> float:
        """Stop the worker; the CPU seconds it used (its start-up included)."""
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), 60)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return children.ru_utime + children.ru_stime - self.cpu_before


async def baseline_and_ratios(
    url: str, figures: dict[str, Any], *, seconds: float, echo: Callable[[str], None]
) -> dict[str, Any]:
    """The transfer baseline (bench/baseline.py) for `seconds`, once the platform has stopped; bets settled per
    second as a ratio to its transfers per second (the issue's target: 1.0x), and, with placing clients, a bet's
    p99 while the market settles as a ratio to its p99 alone (the target: at most 2x)."""
    out = await asyncio.to_thread(transfer_baseline, url, seconds=seconds, echo=echo)
    pairs = {"throughput_ratio": (figures.get("bets_per_s"), out.get("baseline_transfers_per_s"))}
    pairs["placing_p99_ratio_to_alone"] = (figures.get("placing_p99_ms"), figures.get("placing_alone_p99_ms"))
    out.update(ratio_figures(pairs))
    echo(describe_ratio("settlement bets/s", out.get("throughput_ratio")))
    if "placing_p99_ratio_to_alone" in out:
        echo(f"a bet's p99 while the market settles: {out['placing_p99_ratio_to_alone']}x its p99 alone")
    return out


class Probe:
    """PLACING clients placing singles on a market of their own, one bet at a time, with their own players."""

    def __init__(self, platform: Platform, players: list[uuid.UUID], picks: list[Pick]) -> None:
        self.platform = platform
        self.players = players
        self.picks = picks
        self.placed = 0

    @classmethod
    async def create(cls, platform: Platform, run_id: str) -> Probe:
        start = platform.clock.now() + timedelta(days=1)
        event = await platform.catalog.create_event(_draft(f"Settle {run_id} placing", start, OTHER_PRICES))
        players = await funded_players(platform, f"{run_id}-placing", PLACING)
        return cls(platform, players, _picks(event))

    async def alone(self, seconds: float) -> dict[str, Any]:
        latencies = await self._place_until(asyncio.create_task(asyncio.sleep(seconds)))
        return {f"placing_alone_{k}": v for k, v in latency_figures(latencies).items()}

    async def during(self, settling: Awaitable[SettlementJob]) -> tuple[SettlementJob, dict[str, Any]]:
        task = asyncio.ensure_future(settling)
        latencies = await self._place_until(task)
        return task.result(), {
            "placing_bets": len(latencies),
            **{f"placing_{k}": v for k, v in latency_figures(latencies).items()},
        }

    async def _place_until(self, done: asyncio.Future[Any]) -> list[float]:
        latencies: list[float] = []

        async def client(i: int) -> None:
            rng = random.Random(i)
            while not done.done():
                pick = rng.choice(self.picks)
                self.placed += 1
                key = f"placing-{self.placed}"
                request = BetRequest(
                    type=BetType.SINGLE,
                    system=None,
                    legs=(LegRequest(pick.selection_id, pick.odds),),
                    stake=100,
                    each_way=False,
                    odds_change=OddsChange.ANY,
                )
                began = time.perf_counter()
                await self.platform.betting.place(self.players[i], CURRENCY, request, key, key)
                latencies.append(time.perf_counter() - began)

        clients = asyncio.gather(*(client(i) for i in range(len(self.players))))
        await asyncio.wait([done])
        await clients
        return latencies


async def durability(db: Database) -> str:
    async with db.read() as conn:
        if db.is_sqlite:
            value = (await conn.execute(text("PRAGMA synchronous"))).scalar_one()
            return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(value), str(value))
        return str((await conn.execute(text("SHOW synchronous_commit"))).scalar_one())


async def analyze(db: Database) -> bool:
    """Give the planner statistics for the bulk-loaded tables, as autovacuum would have during a day of betting
    (the CI server runs with autovacuum off). SPORTSBOOK_BENCH_ANALYZE=0 leaves them as loaded."""
    if os.environ.get("SPORTSBOOK_BENCH_ANALYZE", "1") == "0":
        return False
    tables = ("bets", "bet_legs", "ledger_transfers", "ledger_holds", "ledger_accounts", "outbox")
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.exec_driver_sql(f"ANALYZE {table}")
    return True


def _won(event: Event, outcome: str) -> Outcome:
    market = event.markets[0]
    return Outcome(next(s.id for s in market.selections if s.outcome == outcome), "won")


# ---- set-up ----


def _draft(name: str, start: Any, prices: Sequence[tuple[str, str]]) -> EventDraft:
    return EventDraft(
        sport="football",
        name=name,
        competition="Bench League",
        start_time=start,
        competitors=[f"{name} Home", f"{name} Away"],
        markets=[
            MarketDraft(type="1x2", selections=[SelectionDraft(o, p) for o, p in prices], limits=LIMITS),
        ],
    )


async def create_events(platform: Platform, run_id: str) -> tuple[Event, list[Event]]:
    """The subject event and OTHER_EVENTS more, upcoming a day ahead, one 1x2 market each."""
    start = platform.clock.now() + timedelta(days=1)
    subject = await platform.catalog.create_event(_draft(f"Settle {run_id} subject", start, SUBJECT_PRICES))
    others = [
        await platform.catalog.create_event(_draft(f"Settle {run_id} other {i}", start, OTHER_PRICES))
        for i in range(OTHER_EVENTS)
    ]
    return subject, others


async def funded_players(platform: Platform, run_id: str, count: int = PLAYERS) -> list[uuid.UUID]:
    """`count` players with cash, bonus and reserved accounts, each funded with FUNDING."""
    ledger = platform.ledger
    players = [uuid.uuid5(uuid.NAMESPACE_URL, f"bench-settlement:{run_id}:{i}") for i in range(count)]
    for start in range(0, len(players), 500):
        async with platform.db.transaction() as conn:
            for player_id in players[start : start + 500]:
                await ledger.open_player_accounts(UnitOfWork(conn), player_id, CURRENCY)
    equity_key = AccountKey("house", AccountKind.EQUITY, CURRENCY, f"bench-settlement-{run_id}")
    equity = {s: await ledger.account(equity_key, shard=s) for s in range(ledger.shards)}  # one per shard
    funding = []
    for player_id in players:
        cash = await _cash(platform, player_id)
        funding.append(
            TransferRequest(uuid.uuid4(), equity[ledger.shard_of(player_id)], cash, FUNDING, code="bench_funding")
        )
    for start in range(0, len(funding), 500):
        results = await ledger.create_transfers(funding[start : start + 500])
        assert all(r is Result.OK for r in results), set(results)
    return players


async def _cash(platform: Platform, player_id: uuid.UUID) -> int:
    async with platform.db.read() as conn:
        found = await platform.ledger.store.find_account(
            conn, AccountKey(player_owner(player_id), AccountKind.CASH, CURRENCY)
        )
    assert found is not None
    return found


def _picks(event: Event) -> list[Pick]:
    market = event.markets[0]
    return [Pick(s.id, market.id, event.id, s.outcome, s.odds) for s in market.selections]


async def place_bets(
    platform: Platform,
    rng: random.Random,
    players: Sequence[uuid.UUID],
    subject: Event,
    others: Sequence[Event],
    n_bets: int,
) -> tuple[list[Expected], float]:
    """Write `n_bets` open bets with their stakes reserved; returns what each must settle to, and the time taken."""
    subject_picks = _picks(subject)
    other_picks = [_picks(e) for e in others]
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    cash_of = {p: await _cash(platform, p) for p in players}
    ledger = platform.ledger
    revenue_on = {s: await ledger.house_account(AccountKind.REVENUE, CURRENCY, shard=s) for s in range(ledger.shards)}
    revenue = {p: revenue_on[ledger.shard_of(p)] for p in players}  # the player's shard's: a transfer stays on it
    expected: list[Expected] = []
    began = time.perf_counter()
    for start in range(0, n_bets, WRITE_CHUNK):
        now = platform.clock.now()
        rows: list[Bet] = []
        transfers: list[TransferRequest] = []
        for _ in range(min(WRITE_CHUNK, n_bets - start)):
            kind = rng.choices(kinds, weights)[0]
            n_others = {"single": 0, "double": 1, "treble": 2}[kind]
            legs = [rng.choice(subject_picks)] + [rng.choice(p) for p in rng.sample(other_picks, n_others)]
            bet, exp = _bet(rng, rng.choice(players), kind, legs, now)
            transfers.append(
                TransferRequest(
                    bet.stake_transfer_id,
                    cash_of[bet.player_id],
                    revenue[bet.player_id],
                    bet.total_stake,
                    phase=Phase.PENDING,
                    code="bet_stake",
                    reference=f"bet:{bet.id}",
                )
            )
            rows.append(bet)
            expected.append(exp)
        async with platform.db.transaction() as conn:
            results = await platform.ledger.create_transfers_in(UnitOfWork(conn), transfers)
            refused = Counter(r for r in results if r is not Result.OK)
            assert not refused, refused
            await bet_store(conn).insert(rows)
            await bet_store(conn).add_exposure(exposure_deltas(rows, +1))
    return expected, time.perf_counter() - began


def _bet(rng: random.Random, player_id: uuid.UUID, kind: str, legs: Sequence[Pick], now: Any) -> tuple[Bet, Expected]:
    bet_id = uuid.UUID(int=rng.getrandbits(128), version=4)
    stake = rng.randint(100, 5_000)
    bet_type = BetType.SINGLE if kind == "single" else BetType.MULTIPLE
    specs = [LegSpec(p.selection_id, p.event_id, p.market_id, p.odds) for p in legs]
    lines = expand_lines(bet_type, None, len(specs), False)
    row = Bet(
        id=bet_id,
        player_id=player_id,
        currency=CURRENCY,
        type=bet_type.value,
        system=None,
        each_way=False,
        odds_change="none",
        stake=stake,
        lines=len(lines),
        total_stake=stake * len(lines),
        potential_return=potential_return(lines, specs, stake),
        status=BetStatus.OPEN,
        reject_code=None,
        return_amount=None,
        request_hash=hashlib.sha256(bet_id.bytes).hexdigest(),
        placed_at=now,
        accept_at=None,
        settled_at=None,
        stake_transfer_id=derived_id("stake", bet_id),
        legs=tuple(Leg(p.selection_id, p.market_id, p.event_id, p.odds, None, None) for p in legs),
    )
    # Every market here is won by "home": the bet wins iff every leg is on home, and pays floor(stake * Π odds).
    won = all(p.outcome == "home" for p in legs)
    total_return = math.floor(stake * math.prod((p.odds for p in legs), start=Decimal(1))) if won else 0
    return row, Expected(bet_id, player_id, kind, "won" if won else "lost", total_return, row.total_stake)


# ---- checks ----


async def check(
    platform: Platform, rng: random.Random, expected: Sequence[Expected], players: Sequence[uuid.UUID]
) -> dict[str, Any]:
    """Every bet settled as worked out here, and every player's wallet what those outcomes leave."""
    problems: list[str] = []
    ids = [e.bet_id for e in expected]
    settled: dict[uuid.UUID, tuple[str, int | None]] = {}
    async with platform.db.read() as conn:
        for start in range(0, len(ids), 5_000):
            query = select(bets.c.id, bets.c.status, bets.c.return_amount).where(
                bets.c.id.in_(ids[start : start + 5_000])
            )
            for r in await conn.execute(query):
                settled[r.id] = (r.status, r.return_amount)
    wrong = [e for e in expected if settled.get(e.bet_id) != (e.status, e.total_return)]
    if wrong:
        e = wrong[0]
        problems.append(
            f"{len(wrong)} bets differ, e.g. {e.bet_id}: {settled.get(e.bet_id)} != {e.status, e.total_return}"
        )
    still_open = sum(1 for status, _ in settled.values() if status == "open")
    if still_open:
        problems.append(f"{still_open} bets still open")
    for e in rng.sample(list(expected), min(SAMPLE, len(expected))):  # through the service, as a player reads it
        bet = await platform.betting.bet(e.player_id, e.bet_id)
        if (bet.status, bet.return_amount, bet.stake_state) != (e.status, e.total_return, "taken"):
            problems.append(f"bet {e.bet_id} reads {bet.status} {bet.return_amount} {bet.stake_state}")
            break
    net: dict[uuid.UUID, int] = dict.fromkeys(players, FUNDING)
    for e in expected:
        net[e.player_id] += e.total_return - e.total_stake
    for player_id in players:
        wallet = await platform.ledger.wallet(player_id, CURRENCY)
        if (wallet.cash, wallet.reserved) != (net[player_id], 0):
            problems.append(f"player {player_id}: cash {wallet.cash} reserved {wallet.reserved}, want {net[player_id]}")
            break
    statuses = Counter(e.status for e in expected)
    return {
        "won": statuses["won"],
        "lost": statuses["lost"],
        "returned": sum(e.total_return for e in expected),
        "staked": sum(e.total_stake for e in expected),
        "checks": "ok" if not problems else problems[:3],
    }

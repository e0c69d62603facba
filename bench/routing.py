"""Payment routing, in process: no database, no network (SPORTSBOOK_DATABASE_URL is not read).

Phases:
- decide: `routing.decide` over SPORTSBOOK_BENCH_DECISIONS (default 200,000) varied requests (EEA and other
  issuers, schemes, card types, prepaid cards, currencies, amounts in every band, player risk), adaptive, with
  the default rules and connectors, statistics learnt as it goes (each decision's first connector's outcome is
  recorded, outside the timing) and now and then a connector left out as unhealthy. Each call is timed on its
  own; the target is absolute: p99 at most 0.5 ms (`p99_target_ms`, `p99_ratio` = p99 over the target).
- degradation: SPORTSBOOK_BENCH_PAYMENTS (default 20,000) payments per run, simulated first-attempt approvals by
  connector and region; half-way, sim-europa (the EEA cards' first choice) falls to 50% approvals. The same
  traffic and outcome draws go through adaptive routing and through the rules' static order, over five seeds:
  `approval_adaptive`, `approval_static` and `uplift_points` (the target: 3 points or more). The same without
  the degradation (`steady_*`) is the price of learning where the static order is already the best."""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sportsbook.config import Settings
from sportsbook.payments.routing import (
    ATLAS,
    DEFAULT_CONNECTORS,
    DEFAULT_RULES,
    EEA_COUNTRIES,
    EUROPA,
    HARBOUR,
    Policy,
    RouteRequest,
    SuccessStats,
    decide,
)

P99_TARGET_MS = 0.5
SEEDS = (1, 2, 3, 4, 5)
# First-attempt approval rates by connector and issuer region: europa is the EEA cards' best acquirer, atlas the
# rest of the world's, harbour takes what the others would not at a lower rate.
APPROVAL = {
    (EUROPA, "eea"): 0.90,
    (EUROPA, "row"): 0.82,
    (ATLAS, "eea"): 0.86,
    (ATLAS, "row"): 0.90,
    (HARBOUR, "eea"): 0.84,
    (HARBOUR, "row"): 0.84,
}
DEGRADED = 0.50
ROW = (("US", "USD"), ("GB", "GBP"), ("CA", "CAD"), ("BR", "BRL"), ("AU", "AUD"))


def _request(rng: random.Random, i: int) -> RouteRequest:
    """A card payment: 60% EEA issuers in euros (some in their own currency), 40% elsewhere; 5% prepaid cards,
    risk mostly low with a tail above the high-risk threshold."""
    if rng.random() < 0.6:
        country = rng.choice(EEA_COUNTRIES)
        currency = {"SE": "SEK", "PL": "PLN", "DK": "DKK", "NO": "NOK"}.get(country, "EUR")
    else:
        country, currency = rng.choice(ROW)
    return RouteRequest(
        bin=str(rng.randrange(40_000_000, 56_000_000)),
        scheme=rng.choice(("visa", "visa", "mastercard")),
        card_type=rng.choice(("debit", "credit", None)),
        prepaid=rng.random() < 0.05,
        country=country,
        currency=currency,
        amount=int(rng.lognormvariate(8.5, 1.1)),  # median ~50 major units, a long tail past 500
        risk=min(100, int(rng.expovariate(1 / 20))),
        fingerprint=f"fp-{i}",
    )


def time_decisions(count: int, seed: int = 11) -> list[float]:
    """Each decision's duration in seconds."""
    rng, outcomes = random.Random(seed), random.Random(seed + 1)
    requests = [_request(rng, i) for i in range(count)]
    stats = SuccessStats()
    policy = Policy()
    healthy: frozenset[str] = frozenset()
    unhealthy_sets = (frozenset({EUROPA}), frozenset({ATLAS}), frozenset({HARBOUR}))
    durations: list[float] = []
    clock = time.perf_counter_ns
    for i, request in enumerate(requests):
        unhealthy = unhealthy_sets[i % 3] if i % 50 == 0 else healthy
        t0 = clock()
        decision = decide(
            request,
            rules=DEFAULT_RULES,
            connectors=DEFAULT_CONNECTORS,
            stats=stats,
            unhealthy=unhealthy,
            policy=policy,
            rng=rng,
        )
        durations.append((clock() - t0) / 1e9)
        if decision.connectors:
            first = decision.connectors[0]
            stats.record(first, decision.segment, outcomes.random() < 0.85)
    return durations


def degradation(policy: Policy, seed: int, payments: int, *, degrade: bool = True) -> float:
    """The first-attempt approval rate of `payments` payments routed by `policy`, sim-europa degraded from
    half-way (unless `degrade` is False). Traffic and outcome draws come from their own generators, so a seed
    gives both policies the same payments."""
    traffic, outcomes, router = random.Random(seed), random.Random(seed + 1), random.Random(seed + 2)
    stats = SuccessStats()
    approved = 0
    for i in range(payments):
        request = _request(traffic, i)
        draw = outcomes.random()
        decision = decide(
            request, rules=DEFAULT_RULES, connectors=DEFAULT_CONNECTORS, stats=stats, policy=policy, rng=router
        )
        first = decision.connectors[0]
        region = "eea" if request.country in EEA_COUNTRIES else "row"
        degraded = degrade and first == EUROPA and i >= payments // 2
        rate = DEGRADED if degraded else APPROVAL[first, region]
        ok = draw < rate
        stats.record(first, decision.segment, ok)
        approved += ok
    return approved / payments


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def run(settings: Settings, *, seconds: float, echo: Callable[[str], None]) -> dict[str, Any]:
    del settings, seconds  # in process, and sized by counts: nothing to connect to, no phase to time-box
    count = int(os.environ.get("SPORTSBOOK_BENCH_DECISIONS", "200000"))
    payments = int(os.environ.get("SPORTSBOOK_BENCH_PAYMENTS", "20000"))

    echo(f"timing {count:,} routing decisions")
    durations = time_decisions(count)
    ordered = sorted(durations)
    p50_ms, p99_ms = _percentile(ordered, 0.5) * 1e3, _percentile(ordered, 0.99) * 1e3
    total = sum(durations)

    echo(f"degradation: {payments:,} payments x {len(SEEDS)} seeds, adaptive against static")
    adaptive = statistics.mean(degradation(Policy(), seed, payments) for seed in SEEDS)
    static = statistics.mean(degradation(Policy(adaptive=False), seed, payments) for seed in SEEDS)
    # The price of learning where the rules' order is already the best: nothing degrades.
    steady_adaptive = statistics.mean(degradation(Policy(), seed, payments, degrade=False) for seed in SEEDS)
    steady_static = statistics.mean(
        degradation(Policy(adaptive=False), seed, payments, degrade=False) for seed in SEEDS
    )

    figures: dict[str, Any] = {
        "scenario": "routing",
        "backend": "none",
        "decisions": count,
        "decide_p50_ms": round(p50_ms, 4),
        "decide_p99_ms": round(p99_ms, 4),
        "decide_max_ms": round(ordered[-1] * 1e3, 4),
        "decisions_per_s": round(count / total),
        "p99_target_ms": P99_TARGET_MS,
        "p99_ratio": round(p99_ms / P99_TARGET_MS, 4),
        "p99_within_target": p99_ms <= P99_TARGET_MS,
        "payments": payments,
        "seeds": len(SEEDS),
        "approval_adaptive": round(adaptive, 4),
        "approval_static": round(static, 4),
        "uplift_points": round((adaptive - static) * 100, 2),
        "steady_approval_adaptive": round(steady_adaptive, 4),
        "steady_approval_static": round(steady_static, 4),
        "steady_uplift_points": round((steady_adaptive - steady_static) * 100, 2),
    }
    echo(
        f"decide: p50 {p50_ms * 1e3:.1f} us, p99 {p99_ms * 1e3:.1f} us (target {P99_TARGET_MS * 1e3:.0f} us), "
        f"{figures['decisions_per_s']:,} decisions/s"
    )
    echo(f"degradation: adaptive {adaptive:.2%}, static {static:.2%}: {figures['uplift_points']} points")
    echo(
        f"nothing degrades: adaptive {steady_adaptive:.2%}, static {steady_static:.2%}: "
        f"{figures['steady_uplift_points']} points"
    )
    return figures

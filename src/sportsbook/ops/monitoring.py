"""The back office's monitoring summary, computed from this node's Prometheus samples (pure: no I/O).

Counters stay cumulative here: a client turns two summaries into rates (bets per second), as Prometheus's
`rate()` would, so the summary itself never keeps state between requests."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

# Outcomes of `sportsbook_bets_placed` that struck a bet; any other label value is a refusal's code.
ACCEPTED_OUTCOMES = frozenset({"open", "pending"})


@dataclass(frozen=True, slots=True)
class Sample:
    """One Prometheus sample: its name (with `_total`, `_bucket`, ... suffix), labels and value."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Bucket:
    """A cumulative histogram bucket: how many observations were at most `le` (None: +Inf)."""

    le: float | None
    count: int


@dataclass(frozen=True, slots=True)
class Summary:
    """What the back office's monitoring page shows, as cumulative counts since this process started."""

    bets_placed: int = 0
    bets_refused: int = 0
    bets_by_outcome: dict[str, int] = field(default_factory=dict)
    bet_latency_buckets: list[Bucket] = field(default_factory=list)
    bet_latency_p99_s: float | None = None
    payment_attempts: int = 0
    payment_approved: int = 0
    payment_success_rate: float | None = None
    feed_messages: int = 0
    feed_producers: int = 0
    feed_producers_up: int = 0
    feed_lag_p99_s: float | None = None
    odds_connections: int = 0


def histogram_quantile(q: float, buckets: Sequence[Bucket]) -> float | None:
    """The q-quantile (0 to 1) of a histogram estimated from its cumulative buckets, as Prometheus's
    `histogram_quantile` does: linear within the bucket holding the rank; None when nothing was observed.
    A rank in the +Inf bucket answers the largest finite bound (nothing better is known)."""
    if not 0 <= q <= 1:
        raise ValueError(f"a quantile is between 0 and 1, not {q}")
    ordered = sorted(buckets, key=lambda b: math.inf if b.le is None else b.le)
    if not ordered or ordered[-1].count <= 0:
        return None
    total = ordered[-1].count
    rank = q * total
    lower_bound, lower_count = 0.0, 0
    for bucket in ordered:
        if bucket.count >= rank and bucket.count > lower_count:
            if bucket.le is None:
                return lower_bound
            share = (rank - lower_count) / (bucket.count - lower_count)
            return lower_bound + (bucket.le - lower_bound) * share
        if bucket.le is not None:
            lower_bound, lower_count = bucket.le, bucket.count
    return lower_bound


def success_rate(approved: int, total: int) -> float | None:
    """Approved attempts over all attempts, or None when there were none (not a 0 % that alarms)."""
    return approved / total if total > 0 else None


def total_liability(markets: Iterable[Sequence[UUID]], exposures: Mapping[UUID, int]) -> int:
    """What the house could lose across markets: per market its worst selection (as the liabilities page
    shows it), summed."""
    return sum(max((exposures.get(s, 0) for s in selections), default=0) for selections in markets)


def _buckets(samples: Iterable[Sample], name: str) -> list[Bucket]:
    summed: dict[float | None, float] = {}
    for s in samples:
        if s.name == f"{name}_bucket":
            raw = s.labels.get("le", "+Inf")
            le = None if raw in ("+Inf", "inf") else float(raw)
            summed[le] = summed.get(le, 0.0) + s.value
    ordered = sorted(summed.items(), key=lambda item: math.inf if item[0] is None else item[0])
    return [Bucket(le, int(count)) for le, count in ordered]


def summarize(samples: Iterable[Sample]) -> Summary:
    """The monitoring summary of a set of samples (this node's registry, collected once)."""
    rows = list(samples)
    by_outcome: dict[str, int] = {}
    attempts = approved = messages = producers = producers_up = connections = 0
    for s in rows:
        if s.name == "sportsbook_bets_placed_total":
            outcome = s.labels.get("outcome", "")
            by_outcome[outcome] = by_outcome.get(outcome, 0) + int(s.value)
        elif s.name == "sportsbook_payment_attempts_total":
            attempts += int(s.value)
            if s.labels.get("outcome") == "approved":
                approved += int(s.value)
        elif s.name == "sportsbook_feed_messages_total":
            messages += int(s.value)
        elif s.name == "sportsbook_feed_producer_up":
            producers += 1
            producers_up += 1 if s.value >= 1 else 0
        elif s.name == "sportsbook_odds_connections":
            connections += int(s.value)
    latency = _buckets(rows, "sportsbook_bet_placement_seconds")
    placed = sum(n for outcome, n in by_outcome.items() if outcome in ACCEPTED_OUTCOMES)
    return Summary(
        bets_placed=placed,
        bets_refused=sum(by_outcome.values()) - placed,
        bets_by_outcome=by_outcome,
        bet_latency_buckets=latency,
        bet_latency_p99_s=histogram_quantile(0.99, latency),
        payment_attempts=attempts,
        payment_approved=approved,
        payment_success_rate=success_rate(approved, attempts),
        feed_messages=messages,
        feed_producers=producers,
        feed_producers_up=producers_up,
        feed_lag_p99_s=histogram_quantile(0.99, _buckets(rows, "sportsbook_feed_lag_seconds")),
        odds_connections=connections,
    )

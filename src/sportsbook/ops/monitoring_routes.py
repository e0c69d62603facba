"""`GET /api/v1/admin/monitoring`: the back office's live figures, from this node's metrics (any staff role)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from prometheus_client import REGISTRY
from pydantic import BaseModel, Field

from sportsbook.ops.monitoring import Sample, summarize, total_liability
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import require_role
from sportsbook.players.model import Principal, Role

router = APIRouter(tags=["operations"])

_ANY_STAFF = require_role(Role.TRADER, Role.RISK, Role.PAYMENTS, Role.SUPPORT)


class MonitoringBucketOut(BaseModel):
    le: float | None = Field(description="Upper bound in seconds; null for +Inf")
    count: int = Field(description="Observations at most `le`, cumulative")


class MonitoringBetsOut(BaseModel):
    placed: int = Field(description="Bets struck (open or pending) since this node started: a counter")
    refused: int
    by_outcome: dict[str, int]
    latency_p99_s: float | None = Field(description="p99 of placement time since start, from the buckets")
    latency_buckets: list[MonitoringBucketOut]


class MonitoringPaymentsOut(BaseModel):
    attempts: int
    approved: int
    success_rate: float | None = Field(description="approved / attempts since start; null before any attempt")


class MonitoringFeedOut(BaseModel):
    messages: int
    producers: int
    producers_up: int
    lag_p99_s: float | None


class MonitoringLiabilityOut(BaseModel):
    total: int = Field(description="Per market its worst selection's exposure, summed over every market, minor units")


class MonitoringOut(BaseModel):
    at: datetime
    bets: MonitoringBetsOut
    payments: MonitoringPaymentsOut
    feed: MonitoringFeedOut
    odds_connections: int
    liability: MonitoringLiabilityOut


@router.get("/api/v1/admin/monitoring", response_model=MonitoringOut)
async def get_monitoring(
    _staff: Principal = Depends(_ANY_STAFF), platform: Platform = Depends(get_platform)
) -> MonitoringOut:
    """This node's cumulative counters and histograms (the client derives rates from two samples), and the
    house's total liability on open bets."""
    summary = summarize(Sample(s.name, s.labels, s.value) for family in REGISTRY.collect() for s in family.samples)
    markets = [m for e in platform.catalog.events(None, None) for m in e.markets]
    exposures = await platform.betting.exposures([m.id for m in markets])
    liability = total_liability(([s.id for s in m.selections] for m in markets), exposures)
    return MonitoringOut(
        at=platform.clock.now(),
        bets=MonitoringBetsOut(
            placed=summary.bets_placed,
            refused=summary.bets_refused,
            by_outcome=summary.bets_by_outcome,
            latency_p99_s=summary.bet_latency_p99_s,
            latency_buckets=[MonitoringBucketOut(le=b.le, count=b.count) for b in summary.bet_latency_buckets],
        ),
        payments=MonitoringPaymentsOut(
            attempts=summary.payment_attempts,
            approved=summary.payment_approved,
            success_rate=summary.payment_success_rate,
        ),
        feed=MonitoringFeedOut(
            messages=summary.feed_messages,
            producers=summary.feed_producers,
            producers_up=summary.feed_producers_up,
            lag_p99_s=summary.feed_lag_p99_s,
        ),
        odds_connections=summary.odds_connections,
        liability=MonitoringLiabilityOut(total=liability),
    )

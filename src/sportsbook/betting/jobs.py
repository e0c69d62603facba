"""Settlement jobs, pure: what a job is, the moves it may make, and the tally its report is made from.

A job settles, rolls back or voids (a feed's bet cancel) the bets of one market, chunk by chunk, outside any API
node. It walks the market's bets in id order and remembers the last id each committed chunk reached (`cursor`), in
the same transaction as the chunk: a job picked up again after a crash goes on after that id, and a bet a chunk
closed is never paid twice (its money, its status and the cursor commit together)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sportsbook.core.errors import Conflict, NotFound


class JobKind(enum.StrEnum):
    SETTLE = "settle"  # a market resulted (by staff, a final score, a feed, or a cancellation: all void)
    ROLLBACK = "rollback"  # a settlement undone: the bets it closed reopen with their money reversed
    BET_CANCEL = "bet_cancel"  # a feed's bet cancel: the legs of bets placed in a window are void
    ROLLBACK_BET_CANCEL = "rollback_bet_cancel"  # a feed's bet cancel undone: those legs count again


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


FINISHED = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})


class SettlementJobNotFound(NotFound):
    """No settlement job has that id."""

    code = "settlement_job_not_found"


class JobNotRunnable(Conflict):
    """The job is finished, or another worker holds it."""

    code = "settlement_job_not_runnable"


@dataclass(frozen=True, slots=True)
class OutcomeTally:
    """Bets of one outcome: how many, what they staked and what they returned (minor units)."""

    bets: int = 0
    stake: int = 0
    returned: int = 0

    def add(self, stake: int, returned: int) -> OutcomeTally:
        return OutcomeTally(self.bets + 1, self.stake + stake, self.returned + returned)


@dataclass(frozen=True, slots=True)
class Tally:
    """What a job has done so far: bets settled and reopened, counts and money by outcome (for a rollback, by the
    outcome the reopened bets had). Kept with the job, chunk by chunk, so a resumed job reports the whole."""

    settled: int = 0
    reopened: int = 0
    outcomes: Mapping[str, OutcomeTally] = field(default_factory=dict)

    def with_settled(self, done: Iterable[tuple[str, int, int]]) -> Tally:
        """`done`: (status, total stake, return) of each bet closed."""
        return self._adding(done, settled=True)

    def with_reopened(self, undone: Iterable[tuple[str, int, int]]) -> Tally:
        """`undone`: (status it had, total stake, what it had returned) of each bet reopened."""
        return self._adding(undone, settled=False)

    def _adding(self, rows: Iterable[tuple[str, int, int]], *, settled: bool) -> Tally:
        outcomes = dict(self.outcomes)
        n = 0
        for status, stake, returned in rows:
            outcomes[status] = outcomes.get(status, OutcomeTally()).add(stake, returned)
            n += 1
        if settled:
            return Tally(self.settled + n, self.reopened, outcomes)
        return Tally(self.settled, self.reopened + n, outcomes)

    def to_json(self) -> dict[str, Any]:
        outcomes = {k: self.outcomes[k] for k in sorted(self.outcomes)}
        return {
            "settled_bets": self.settled,
            "reopened_bets": self.reopened,
            "stake": sum(o.stake for o in outcomes.values()),
            "return": sum(o.returned for o in outcomes.values()),
            "outcomes": {k: {"bets": o.bets, "stake": o.stake, "return": o.returned} for k, o in outcomes.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tally:
        outcomes = {
            str(k): OutcomeTally(int(v["bets"]), int(v["stake"]), int(v["return"]))
            for k, v in dict(data.get("outcomes", {})).items()
        }
        return cls(int(data.get("settled_bets", 0)), int(data.get("reopened_bets", 0)), outcomes)


@dataclass(frozen=True, slots=True)
class SettlementJob:
    """One job. Its moves: queued -> running (claimed by a worker, with a lease it renews chunk by chunk) ->
    succeeded or failed; a running job whose lease lapsed (its worker died) is claimed again and resumes after
    its cursor."""

    id: UUID
    kind: JobKind
    market_id: UUID
    status: JobStatus
    params: Mapping[str, Any]  # bet_cancel: {"start", "end"} as ISO 8601
    created_at: datetime
    bets_total: int = 0
    bets_done: int = 0
    cursor: UUID | None = None  # the last bet id a committed chunk reached
    tally: Tally = field(default_factory=Tally)
    error: Mapping[str, str] | None = None
    attempts: int = 0
    lease_until: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def queued(
        cls, job_id: UUID, kind: JobKind, market_id: UUID, now: datetime, params: Mapping[str, Any] | None = None
    ) -> SettlementJob:
        return cls(job_id, kind, market_id, JobStatus.QUEUED, dict(params or {}), now)

    def claimable(self, now: datetime) -> bool:
        if self.status is JobStatus.QUEUED:
            return True
        return self.status is JobStatus.RUNNING and (self.lease_until is None or self.lease_until <= now)

    def claim(self, now: datetime, lease_until: datetime) -> SettlementJob:
        """Taken by a worker: running, leased; a resumed job keeps its progress."""
        if not self.claimable(now):
            raise JobNotRunnable(f"job {self.id} is {self.status}")
        return replace(
            self,
            status=JobStatus.RUNNING,
            attempts=self.attempts + 1,
            lease_until=lease_until,
            started_at=self.started_at or now,
        )

    def listed(self, remaining: int) -> SettlementJob:
        """The bets left to walk were listed: the total is what is done plus what is left."""
        return replace(self, bets_total=self.bets_done + remaining)

    def advanced(self, cursor: UUID, walked: int, tally: Tally, lease_until: datetime) -> SettlementJob:
        """A chunk committed: `walked` more bets looked at, up to `cursor`."""
        if self.status is not JobStatus.RUNNING:
            raise JobNotRunnable(f"job {self.id} is {self.status}")
        return replace(
            self,
            cursor=cursor,
            bets_done=self.bets_done + walked,
            bets_total=max(self.bets_total, self.bets_done + walked),
            tally=tally,
            lease_until=lease_until,
        )

    def released(self, now: datetime) -> SettlementJob:
        """Its worker stopped: still running, its lease over, so the next worker claims it and resumes it."""
        if self.status is not JobStatus.RUNNING:
            raise JobNotRunnable(f"job {self.id} is {self.status}")
        return replace(self, lease_until=now)

    def succeeded(self, now: datetime) -> SettlementJob:
        return replace(self, status=JobStatus.SUCCEEDED, finished_at=now, lease_until=None)

    def failed(self, code: str, message: str, now: datetime) -> SettlementJob:
        return replace(
            self,
            status=JobStatus.FAILED,
            error={"code": code, "message": message[:500]},
            finished_at=now,
            lease_until=None,
        )

    @property
    def report(self) -> dict[str, Any] | None:
        """Counts and money by outcome, once the job has succeeded."""
        return self.tally.to_json() if self.status is JobStatus.SUCCEEDED else None

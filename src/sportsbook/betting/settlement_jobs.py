"""Settlement jobs: the use cases that queue them (a request's or a feed's), the reads, and the worker that runs them.

A request that settles, results, rolls back or cancels bets is accepted in one transaction with its job: the
results (or the rollback, or the cancel window) are recorded, the market closes to bets, the job is queued, and
the request answers 202 at once. A worker (`sportsbook worker`, or the demo's in-process worker role) claims the
oldest job it may run, walks the market's bets chunk by chunk (`Settlements`), and writes the job's progress
with each chunk. A worker that dies leaves its job running with a lease that lapses; the next worker to claim it
goes on after the last chunk committed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import structlog
from prometheus_client import Counter, Gauge

from sportsbook.betting.jobs import JobKind, JobStatus, SettlementJob, SettlementJobNotFound
from sportsbook.betting.settlements import ChunkDone, Outcome, Settlements, chunks
from sportsbook.betting.store import JobStore
from sportsbook.core.clock import Clock
from sportsbook.core.errors import DomainError, InvalidCursor
from sportsbook.core.ids import derived_id, new_id
from sportsbook.core.markets import Score
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading, unit_of_work
from sportsbook.events.bus import EventBus
from sportsbook.events.model import Event

log = structlog.get_logger("sportsbook.settlement_jobs")

JOBS_FINISHED = Counter(
    "sportsbook_settlement_jobs", "Settlement jobs finished, by kind and status", ["kind", "status"]
)
BETS_WALKED = Counter("sportsbook_settlement_job_bets", "Bets walked by settlement jobs, by kind", ["kind"])
JOBS_RUNNING = Gauge("sportsbook_settlement_jobs_running", "Settlement jobs this process is running")

MAX_ATTEMPTS = 5  # a job that keeps failing on something other than a refusal stops being retried
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseLost(Exception):
    """Another worker claimed this job (its lease had lapsed): this one stops, the chunk it was writing is
    rolled back."""


class SettlementJobs:
    """Queue, read and run settlement jobs."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settlements: Settlements,
        bus: EventBus | None = None,
        *,
        lease_s: float = 60.0,
        poll_s: float = 0.25,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settlements = settlements
        self.lease = timedelta(seconds=lease_s)
        self.poll_s = poll_s
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._current: SettlementJob | None = None  # the claim the worker role is running
        if bus is not None:  # a cancelled market voids its bets, whichever node cancelled it
            bus.subscribe("betting-market-voids", ["catalog.market_changed"], self._on_market_changed)

    # ---- queueing: in the caller's unit of work ----

    async def settle_market(self, uow: UnitOfWork, market_id: UUID, outcomes: Sequence[Outcome]) -> SettlementJob:
        await self.settlements.accept_settlement(uow, market_id, outcomes)
        return await self._queue(uow, JobKind.SETTLE, market_id)

    async def result_event(self, uow: UnitOfWork, event_id: UUID, score: Score) -> list[SettlementJob]:
        """One settle job per score-based market the score results."""
        return [
            await self._queue(uow, JobKind.SETTLE, market_id)
            for market_id in await self.settlements.accept_result(uow, event_id, score)
        ]

    async def rollback(self, uow: UnitOfWork, market_id: UUID) -> SettlementJob:
        await self.settlements.accept_rollback(uow, market_id)
        return await self._queue(uow, JobKind.ROLLBACK, market_id)

    async def cancel_bets(self, uow: UnitOfWork, market_id: UUID, start: datetime, end: datetime) -> SettlementJob:
        await self.settlements.accept_bet_cancel(uow, market_id, start, end)
        params = {"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}
        return await self._queue(uow, JobKind.BET_CANCEL, market_id, params=params)

    async def rollback_bet_cancel(
        self, uow: UnitOfWork, market_id: UUID, start: datetime, end: datetime
    ) -> SettlementJob:
        """Undo a bet cancel of [start, end) on the market (a feed's `rollback_bet_cancel`)."""
        await self.settlements.accept_bet_cancel_rollback(uow, market_id, start, end)
        params = {"start": start.astimezone(UTC).isoformat(), "end": end.astimezone(UTC).isoformat()}
        return await self._queue(uow, JobKind.ROLLBACK_BET_CANCEL, market_id, params=params)

    async def _on_market_changed(self, event: Event) -> None:
        """A market cancelled: its bets are voided by a settle job, queued once per delivery of the event (the
        job's id derives from the event's, so a redelivery queues nothing)."""
        if event.payload.get("status") != "cancelled":
            return
        market_id = UUID(str(event.payload["market_id"]))
        async with unit_of_work(self.db) as uow:
            if await self.settlements.accept_void(uow, market_id):
                await self._queue(uow, JobKind.SETTLE, market_id, job_id=derived_id("market-void", event.id))

    async def _queue(
        self,
        uow: UnitOfWork,
        kind: JobKind,
        market_id: UUID,
        *,
        params: dict[str, str] | None = None,
        job_id: UUID | None = None,
    ) -> SettlementJob:
        jobs = uow.store(JobStore)
        # A market's jobs run in the order they were queued, so each is queued strictly after the one before,
        # whatever the clock's resolution (queueing on one market is serialised by the event's or the ledger's
        # lock that accepting takes).
        now = self.clock.now()
        latest = await jobs.latest_created_at(market_id)
        if latest is not None and latest >= now:
            now = latest + timedelta(microseconds=1)
        job = SettlementJob.queued(job_id or new_id(), kind, market_id, now, params)
        await jobs.insert(job)

        async def wake() -> None:
            self._wakeup.set()

        uow.after_commit(wake)
        return job

    # ---- reading ----

    async def job(self, job_id: UUID) -> SettlementJob:
        async with reading(self.db) as uow:
            found = await uow.store(JobStore).get(job_id)
        if found is None:
            raise SettlementJobNotFound()
        return found

    async def jobs(
        self, status: JobStatus | None, market_id: UUID | None, limit: int, cursor: str | None
    ) -> tuple[list[SettlementJob], str | None]:
        """A page of jobs, newest first, and the cursor of the next page (None on the last)."""
        after = _after(cursor) if cursor is not None else None
        async with reading(self.db) as uow:
            found = await uow.store(JobStore).page([status] if status else [], market_id, limit + 1, after)
        page = found[:limit]
        return page, (_cursor(page[-1]) if len(found) > limit else None)

    # ---- running ----

    async def run_next(self) -> SettlementJob | None:
        """Claim the oldest job this worker may run and run it to its end; None when there is none."""
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            jobs = uow.store(JobStore)
            job = await jobs.next_claimable(now)
            if job is None:
                return None
            job = job.claim(now, now + self.lease)
            await jobs.save(job)
        return await self.run(job)

    async def run_pending(self) -> list[SettlementJob]:
        """Run jobs until none is left that this worker may run (tests, tools); the jobs as they ended."""
        done = []
        while (job := await self.run_next()) is not None:
            done.append(job)
        return done

    async def run(self, job: SettlementJob) -> SettlementJob:
        """Walk a claimed job's bets to the end, then mark it succeeded; a refusal marks it failed, and so does an
        error that has now failed it MAX_ATTEMPTS times (earlier ones leave it to be claimed again)."""
        log.info("settlement_job.started", job_id=str(job.id), kind=job.kind.value, market_id=str(job.market_id))
        JOBS_RUNNING.inc()
        self._current = job
        progress = _Progress(self, job)  # the job as its committed chunks left it, whatever happens next
        try:
            await self._walk(progress)
            job = await self._finish(progress.job.succeeded(self.clock.now()))
        except LeaseLost:
            log.warning("settlement_job.lease_lost", job_id=str(job.id))
            return progress.job
        except DomainError as exc:
            job = await self._finish(progress.job.failed(exc.code, exc.message, self.clock.now()))
        except Exception as exc:
            log.exception("settlement_job.error", job_id=str(job.id), attempt=job.attempts)
            if job.attempts < MAX_ATTEMPTS:
                return progress.job  # its lease lapses and a worker claims it again, after its last chunk
            message = f"{type(exc).__name__}: {exc}"
            job = await self._finish(progress.job.failed("settlement_error", message, self.clock.now()))
        finally:
            JOBS_RUNNING.dec()
            self._current = None
        JOBS_FINISHED.labels(job.kind.value, job.status.value).inc()
        log.info(
            "settlement_job.finished",
            job_id=str(job.id),
            status=job.status.value,
            bets_done=job.bets_done,
            **job.tally.to_json(),
        )
        return job

    async def _walk(self, progress: _Progress) -> None:
        job, settlements = progress.job, self.settlements
        if job.kind is JobKind.SETTLE:
            ids = await settlements.open_bets_on(job.market_id, job.cursor)
            await progress.listed(len(ids))
            await settlements.settle_chunks(chunks(ids, settlements.chunk), progress.chunk_done)
        elif job.kind is JobKind.ROLLBACK:
            ids = await settlements.settled_bets_on(job.market_id, job.cursor)
            await progress.listed(len(ids))
            for chunk in chunks(ids, settlements.chunk):
                await settlements.reopen_chunk(chunk, progress.chunk_done)
        else:
            start, end = datetime.fromisoformat(job.params["start"]), datetime.fromisoformat(job.params["end"])
            ids = await settlements.bets_in_window(job.market_id, start, end, job.cursor)
            await progress.listed(len(ids))
            walk = settlements.cancel_chunk if job.kind is JobKind.BET_CANCEL else settlements.uncancel_chunk
            for chunk in chunks(ids, settlements.chunk):
                await walk(job.market_id, chunk, progress.chunk_done)

    async def _finish(self, ended: SettlementJob) -> SettlementJob:
        """Write a job's end, if the job is still this worker's claim (the same attempt, running)."""
        async with unit_of_work(self.db) as uow:
            jobs = uow.store(JobStore)
            await _still_ours(jobs, ended)
            await jobs.save(ended)
        return ended

    # ---- the worker role ----

    async def start(self) -> None:
        """Run jobs in this process until `stop`: the worker role."""
        if self._task is None:
            self._task = asyncio.create_task(self._work(), name="settlement-jobs")

    async def stop(self) -> None:
        """Stop between two statements: the chunk being written rolls back, and the job is released so that the
        next worker resumes it at once instead of waiting for its lease to lapse."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        claimed, self._current = self._current, None
        if claimed is not None:
            with contextlib.suppress(LeaseLost):
                async with unit_of_work(self.db) as uow:
                    jobs = uow.store(JobStore)
                    current = await _still_ours(jobs, claimed)
                    await jobs.save(current.released(self.clock.now()))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _work(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                ran = await self.run_next()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("settlement_job.claim_failed")
                ran = None
            if ran is not None:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.poll_s)


class _Progress:
    """A running job as its committed chunks leave it: each chunk writes the job's next state in its own unit of
    work, and the job moves on only once that commits."""

    def __init__(self, jobs: SettlementJobs, job: SettlementJob) -> None:
        self._jobs = jobs
        self.job = job

    async def listed(self, remaining: int) -> None:
        async with unit_of_work(self._jobs.db) as uow:
            await self._save(uow, self.job.listed(remaining))

    async def chunk_done(self, uow: UnitOfWork, done: ChunkDone) -> None:
        tally = self.job.tally.with_settled(done.settled).with_reopened(done.reopened)
        lease_until = self._jobs.clock.now() + self._jobs.lease
        await self._save(uow, self.job.advanced(done.last_id, done.walked, tally, lease_until))
        BETS_WALKED.labels(self.job.kind.value).inc(done.walked)

    async def _save(self, uow: UnitOfWork, job: SettlementJob) -> None:
        jobs = uow.store(JobStore)
        await _still_ours(jobs, self.job)
        await jobs.save(job)

        async def moved_on() -> None:
            self.job = job

        uow.after_commit(moved_on)


async def _still_ours(jobs: JobStore, claimed: SettlementJob) -> SettlementJob:
    """The job row, locked and as stored, if it is still the claim this worker made (no other worker took it
    over); else LeaseLost."""
    current = await jobs.get(claimed.id, lock=True)
    if current is None or current.attempts != claimed.attempts or current.status is not JobStatus.RUNNING:
        raise LeaseLost()
    return current


def _cursor(job: SettlementJob) -> str:
    micros = (job.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}_{job.id.hex}"


def _after(cursor: str) -> tuple[datetime, UUID]:
    try:
        micros, hex_id = cursor.split("_")
        return _EPOCH + timedelta(microseconds=int(micros)), UUID(hex=hex_id)
    except (ValueError, OverflowError):
        raise InvalidCursor() from None

"""Settlement jobs, pure: the moves a job may make, its lease, and the tally its report is made from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sportsbook.betting.jobs import JobKind, JobNotRunnable, JobStatus, OutcomeTally, SettlementJob, Tally

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=60)
JOB = SettlementJob.queued(UUID(int=1), JobKind.SETTLE, UUID(int=2), NOW)
BET = UUID(int=99)


def test_a_queued_job_is_claimed_running_with_a_lease_and_its_first_start() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE)
    assert (claimed.status, claimed.attempts, claimed.lease_until, claimed.started_at) == (
        JobStatus.RUNNING,
        1,
        NOW + LEASE,
        NOW,
    )
    assert claimed.report is None


def test_a_running_job_is_not_claimed_again_while_its_lease_holds() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE)
    assert not claimed.claimable(NOW + LEASE - timedelta(microseconds=1))
    with pytest.raises(JobNotRunnable):
        claimed.claim(NOW + timedelta(seconds=1), NOW + LEASE)


def test_a_job_whose_lease_lapsed_is_claimed_again_and_keeps_its_progress_and_first_start() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE).listed(10)
    moved = claimed.advanced(BET, 4, Tally().with_settled([("won", 100, 250)] * 4), NOW + LEASE)
    later = NOW + 2 * LEASE
    again = moved.claim(later, later + LEASE)
    assert (again.attempts, again.cursor, again.bets_done, again.bets_total, again.started_at) == (2, BET, 4, 10, NOW)
    assert again.tally.settled == 4


def test_a_released_job_is_claimable_at_once() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE)
    assert claimed.released(NOW + timedelta(seconds=1)).claimable(NOW + timedelta(seconds=1))


@pytest.mark.parametrize("end", ["succeeded", "failed"])
def test_a_finished_job_is_never_claimed_nor_moved_again(end: str) -> None:
    claimed = JOB.claim(NOW, NOW + LEASE)
    done = claimed.succeeded(NOW) if end == "succeeded" else claimed.failed("settlement_refused", "no", NOW)
    assert done.finished_at == NOW
    assert done.lease_until is None
    assert not done.claimable(NOW + 10 * LEASE)
    with pytest.raises(JobNotRunnable):
        done.claim(NOW + 10 * LEASE, NOW + 11 * LEASE)
    with pytest.raises(JobNotRunnable):
        done.advanced(BET, 1, Tally(), NOW)
    with pytest.raises(JobNotRunnable):
        done.released(NOW)


def test_progress_on_a_job_not_running_is_refused() -> None:
    with pytest.raises(JobNotRunnable):
        JOB.advanced(BET, 1, Tally(), NOW)


def test_the_report_appears_once_the_job_succeeded_and_the_error_once_it_failed() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE)
    tally = Tally().with_settled([("won", 1_000, 2_500), ("lost", 500, 0), ("won", 200, 300)])
    moved = claimed.advanced(BET, 3, tally, NOW + LEASE)
    assert moved.report is None
    assert moved.succeeded(NOW).report == {
        "settled_bets": 3,
        "reopened_bets": 0,
        "stake": 1_700,
        "return": 2_800,
        "outcomes": {
            "lost": {"bets": 1, "stake": 500, "return": 0},
            "won": {"bets": 2, "stake": 1_200, "return": 2_800},
        },
    }
    failed = moved.failed("settlement_refused", "x" * 900, NOW)
    assert failed.report is None
    assert failed.error is not None
    assert (failed.error["code"], len(failed.error["message"])) == ("settlement_refused", 500)


def test_progress_never_reports_fewer_bets_in_all_than_done() -> None:
    claimed = JOB.claim(NOW, NOW + LEASE).listed(2)
    moved = claimed.advanced(BET, 5, Tally(), NOW + LEASE)  # more walked than first listed (a bet reopened)
    assert (moved.bets_done, moved.bets_total) == (5, 5)


rows = st.lists(
    st.tuples(
        st.sampled_from(["won", "lost", "void", "half_won", "half_lost", "cashed_out"]),
        st.integers(1, 10**12),
        st.integers(0, 10**13),
    ),
    max_size=30,
)


@given(settled=rows, reopened=rows, split=st.integers(0, 30))
def test_a_tally_kept_chunk_by_chunk_through_its_json_is_the_tally_of_everything(
    settled: list[tuple[str, int, int]], reopened: list[tuple[str, int, int]], split: int
) -> None:
    whole = Tally().with_settled(settled).with_reopened(reopened)
    # as a resumed job keeps it: part of it, stored and read back, then the rest
    first = Tally.from_json(Tally().with_settled(settled[:split]).with_reopened(reopened[:split]).to_json())
    chunked = first.with_settled(settled[split:]).with_reopened(reopened[split:])
    assert chunked == whole
    report = whole.to_json()
    assert (report["settled_bets"], report["reopened_bets"]) == (len(settled), len(reopened))
    assert report["stake"] == sum(s for _o, s, _r in settled + reopened)
    assert report["return"] == sum(r for _o, _s, r in settled + reopened)
    assert sum(o["bets"] for o in report["outcomes"].values()) == len(settled) + len(reopened)


def test_an_outcome_tally_counts_a_bet_with_its_money() -> None:
    assert OutcomeTally(1, 2, 3).add(100, 250) == OutcomeTally(2, 102, 253)

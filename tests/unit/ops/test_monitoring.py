"""The monitoring summary's arithmetic: quantiles from histogram buckets, rates, liability, summarising samples."""

from __future__ import annotations

from uuid import uuid4

import pytest

from sportsbook.ops.monitoring import Bucket, Sample, histogram_quantile, success_rate, summarize, total_liability


def test_quantile_interpolates_within_the_bucket_holding_the_rank() -> None:
    buckets = [Bucket(0.01, 50), Bucket(0.1, 90), Bucket(1.0, 100), Bucket(None, 100)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.01)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.01 + 0.09 * 0.5)
    assert histogram_quantile(0.99, buckets) == pytest.approx(0.1 + 0.9 * 0.9)


def test_quantile_in_the_first_bucket_starts_from_zero() -> None:
    assert histogram_quantile(0.5, [Bucket(0.002, 10), Bucket(None, 10)]) == pytest.approx(0.001)


def test_quantile_past_the_last_bound_answers_that_bound() -> None:
    assert histogram_quantile(0.99, [Bucket(0.5, 1), Bucket(None, 10)]) == 0.5


def test_quantile_of_nothing_observed_is_none() -> None:
    assert histogram_quantile(0.99, [Bucket(0.1, 0), Bucket(None, 0)]) is None
    assert histogram_quantile(0.99, []) is None


def test_quantile_outside_zero_to_one_is_a_bug() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        histogram_quantile(1.5, [])


def test_success_rate_without_attempts_is_unknown_not_zero() -> None:
    assert success_rate(0, 0) is None
    assert success_rate(3, 4) == 0.75


def test_total_liability_takes_each_markets_worst_selection() -> None:
    a, b, c, d = uuid4(), uuid4(), uuid4(), uuid4()
    assert total_liability([[a, b], [c, d]], {a: 100, b: 300, c: 50}) == 350
    assert total_liability([[], [d]], {}) == 0


def test_summary_splits_struck_bets_from_refusals_and_sums_buckets_across_labels() -> None:
    samples = [
        Sample("sportsbook_bets_placed_total", {"outcome": "open"}, 7),
        Sample("sportsbook_bets_placed_total", {"outcome": "pending"}, 2),
        Sample("sportsbook_bets_placed_total", {"outcome": "insufficient_funds"}, 3),
        Sample("sportsbook_bet_placement_seconds_bucket", {"le": "0.01"}, 9),
        Sample("sportsbook_bet_placement_seconds_bucket", {"le": "+Inf"}, 12),
        Sample("sportsbook_payment_attempts_total", {"outcome": "approved", "connector": "a"}, 8),
        Sample("sportsbook_payment_attempts_total", {"outcome": "approved", "connector": "b"}, 1),
        Sample("sportsbook_payment_attempts_total", {"outcome": "declined", "connector": "a"}, 3),
        Sample("sportsbook_feed_producer_up", {"producer": "live"}, 1),
        Sample("sportsbook_feed_producer_up", {"producer": "pre"}, 0),
        Sample("sportsbook_feed_messages_total", {"outcome": "applied"}, 40),
        Sample("sportsbook_odds_connections", {}, 4),
    ]
    summary = summarize(samples)
    assert (summary.bets_placed, summary.bets_refused) == (9, 3)
    assert summary.bet_latency_buckets == [Bucket(0.01, 9), Bucket(None, 12)]
    assert summary.bet_latency_p99_s == 0.01
    assert (summary.payment_attempts, summary.payment_approved) == (12, 9)
    assert summary.payment_success_rate == 0.75
    assert (summary.feed_producers, summary.feed_producers_up, summary.feed_messages) == (2, 1, 40)
    assert summary.odds_connections == 4
    assert summary.feed_lag_p99_s is None

"""The same-run baseline: reading pgbench's output and latency log, ratios, and the SQLite baseline's transfers."""

from __future__ import annotations

import random
from pathlib import Path

from bench.baseline import (
    PgbenchResult,
    _sqlite_batch,
    baseline_figures,
    batch_phase,
    describe_ratio,
    parse_latency_log,
    parse_pgbench,
    ratio,
    ratio_figures,
    single_phase,
    sqlite_baseline,
)

PGBENCH_15 = """pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: batch100.sql
scaling factor: 1
query mode: simple
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 5821
number of failed transactions: 3 (0.052%)
latency average = 6.874 ms
initial connection time = 7.697 ms
tps = 581.963216 (without initial connection time)
"""


def test_parse_pgbench_reads_rate_latency_and_failures() -> None:
    assert parse_pgbench(PGBENCH_15) == PgbenchResult(tps=581.963216, latency_avg_ms=6.874, failed=3)


def test_parse_pgbench_without_a_rate_is_none() -> None:
    out = 'pgbench: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "x" does not exist\n'
    assert parse_pgbench(out) is None


def test_parse_pgbench_of_an_older_summary_without_failures() -> None:
    got = parse_pgbench("latency average = 1.350 ms\ntps = 11851.2 (excluding connections establishing)\n")
    assert got == PgbenchResult(tps=11851.2, latency_avg_ms=1.35, failed=0)


def test_latency_log_time_is_the_third_field_in_microseconds() -> None:
    lines = ["0 1 326 0 1796401998 635882\n", "3 2 75 0 1796401998 636118\n"]
    assert parse_latency_log(lines) == [0.000326, 0.000075]


def test_latency_log_leaves_out_skipped_failed_and_blank_lines() -> None:
    lines = ["0 1 skipped 0 1796401998 635882", "1 4 failed 0 1796401998 635882", "", "2 1 1000 0 1 2"]
    assert parse_latency_log(lines) == [0.001]


def test_ratio_is_value_over_baseline() -> None:
    assert ratio(1_500, 50_000) == 0.03
    assert ratio(62_000, 58_196) == 1.065


def test_no_ratio_without_a_baseline() -> None:
    assert ratio(1_500, None) is None
    assert ratio(1_500, 0) is None
    assert ratio(None, 50_000) is None


def test_ratio_figures_leave_out_what_has_no_baseline() -> None:
    got = ratio_figures({"throughput_ratio": (2_000, 40_000), "mix_throughput_ratio": (1_500, None)})
    assert got == {"throughput_ratio": 0.05}


def test_describe_ratio_says_when_there_is_none() -> None:
    assert describe_ratio("singles", 0.05) == "singles: 0.05x the baseline"
    assert describe_ratio("singles", None) == "singles: no baseline, no ratio"


def test_baseline_figures_count_transfers_per_call() -> None:
    result = PgbenchResult(tps=500.0, latency_avg_ms=8.0, failed=0, latencies=tuple(i / 1000 for i in range(1, 101)))
    got = baseline_figures(result, 100, "pgbench")
    assert got == {
        "baseline": "pgbench",
        "baseline_transfers_per_s": 50_000,
        "baseline_call_p50_ms": 50.5,
        "baseline_call_p99_ms": 100.0,
        "baseline_failed": 0,
    }


def test_baseline_figures_of_a_run_without_a_rate_have_no_transfers() -> None:
    assert baseline_figures(None, 100, "pgbench") == {"baseline": "unavailable: pgbench gave no rate"}
    assert "baseline_transfers_per_s" not in baseline_figures(PgbenchResult(0.0, None, 0), 100, "pgbench")


def test_phase_scripts_name_the_schema_and_the_batch_size() -> None:
    batch = batch_phase(4, 100)
    assert (batch.name, batch.per_call, batch.clients) == ("batch100", 100, 4)
    assert batch.script == "SELECT {schema}.transfer_many(100);\n"
    assert batch_phase(4, 100, name="baseline").name == "baseline"
    single = single_phase(16)
    assert "{schema}.transfer(:d, :c, :a)" in single.script
    assert single.per_call == 1


def test_sqlite_batch_moves_money_between_distinct_accounts() -> None:
    batch = _sqlite_batch(random.Random(7), 500)
    assert len(batch) == 500
    assert all(debit != credit and 1 <= amount <= 10_000 for debit, credit, amount in batch)


def test_sqlite_baseline_commits_transfers_beside_the_bench_database(tmp_path: Path) -> None:
    got = sqlite_baseline(f"sqlite:///{tmp_path}/bench.sqlite3", seconds=0.2, clients=2, per_call=10)
    assert got["baseline"] == "sqlite3 executemany, 10 transfers per commit, 2 threads"
    assert got["baseline_transfers_per_s"] > 0
    assert got["baseline_call_p99_ms"] >= got["baseline_call_p50_ms"] > 0
    assert list(tmp_path.iterdir()) == []  # its own file, removed afterwards

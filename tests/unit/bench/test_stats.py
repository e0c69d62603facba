"""The benchmark reports' arithmetic: latency percentiles and the machine's busy and stolen CPU shares."""

from __future__ import annotations

from bench.stats import latency_figures, machine_cpu, machine_figures


def test_latency_figures_in_milliseconds() -> None:
    got = latency_figures([i / 1000 for i in range(1, 101)])
    assert got == {"p50_ms": 50.5, "p99_ms": 100.0, "max_ms": 100.0}


def test_latency_figures_of_nothing() -> None:
    assert latency_figures([]) == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}


def test_machine_figures_split_busy_idle_and_steal() -> None:
    # user, nice, system, idle, iowait, irq, softirq, steal
    before = (100, 0, 50, 1000, 10, 0, 0, 20)
    after = (400, 0, 150, 1300, 20, 0, 0, 220)  # +300 user, +100 system, +300 idle, +10 iowait, +200 steal
    assert machine_figures(before, after) == {"machine_busy_share": 0.44, "machine_steal_share": 0.22}


def test_machine_figures_without_readings() -> None:
    assert machine_figures(None, (1,) * 8) == {}
    assert machine_figures((1,) * 8, (1,) * 8) == {}


def test_machine_cpu_reads_eight_counters_where_proc_exists() -> None:
    reading = machine_cpu()
    assert reading is None or len(reading) == 8

"""The benchmark reports' arithmetic: latency percentiles, the machine's busy and stolen CPU shares, and the
local database server's CPU."""

from __future__ import annotations

import os

import pytest
from bench.stats import (
    latency_figures,
    machine_cpu,
    machine_figures,
    process_cpu_s,
    process_cpu_ticks,
    wal_figures,
    wal_position,
)
from sqlalchemy import text

from sportsbook.db.engine import Database


def test_latency_figures_in_milliseconds() -> None:
    got = latency_figures([i / 1000 for i in range(1, 101)])
    assert got == {"p50_ms": 50.5, "p99_ms": 100.0, "max_ms": 100.0}


def test_latency_figures_of_nothing() -> None:
    assert latency_figures([]) == {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}


def test_machine_figures_split_busy_idle_and_steal() -> None:
    # user, nice, system, idle, iowait, irq, softirq, steal, then the database server's ticks
    before = (100, 0, 50, 1000, 10, 0, 0, 20, 5)
    after = (400, 0, 150, 1300, 20, 0, 0, 220, 5 + 3 * os.sysconf("SC_CLK_TCK"))  # +300 user ... +3 s database
    assert machine_figures(before, after) == {
        "machine_busy_share": 0.44,
        "machine_steal_share": 0.22,
        "database_cpu_s": 3.0,
    }


def test_machine_figures_without_readings() -> None:
    assert machine_figures(None, (1,) * 9) == {}
    assert machine_figures((1,) * 9, (1,) * 9) == {}


def test_machine_cpu_reads_eight_counters_and_the_database_where_proc_exists() -> None:
    reading = machine_cpu()
    assert reading is None or (len(reading) == 9 and reading[8] >= 0)


def test_process_cpu_of_this_process_and_of_one_gone() -> None:
    found = process_cpu_ticks(os.getpid())
    if found is None:
        return  # no /proc here
    name, ticks = found
    assert name
    assert ticks >= 0
    assert (process_cpu_s(os.getpid()) or 0.0) >= 0.0
    assert process_cpu_ticks(2**22 + 1) is None  # above Linux's largest pid


def test_wal_figures_per_bet() -> None:
    assert wal_figures((100, 10_000), (2_700, 360_000), 100) == {
        "wal_records_per_bet": 26.0,
        "wal_bytes_per_bet": 3_500,
    }
    assert wal_figures(None, (1, 1), 10) == {}
    assert wal_figures((1, 1), (2, 2), 0) == {}


@pytest.mark.postgres
async def test_wal_position_moves_with_writes_on_postgresql_and_is_none_on_sqlite(
    postgres_url: str, sqlite_url: str
) -> None:
    pg, lite = Database(postgres_url), Database(sqlite_url)
    try:
        before = await wal_position(pg)
        async with pg.transaction() as conn:
            await conn.execute(text("CREATE TABLE wal_probe (n int)"))
            await conn.execute(text("INSERT INTO wal_probe SELECT generate_series(1, 1000)"))
        after = await wal_position(pg)
        assert before is not None
        assert after is not None
        assert after[1] > before[1]  # the bytes at once; the records once the writer reports them
        assert after[0] >= before[0]
        assert await wal_position(lite) is None
    finally:
        await pg.dispose()
        await lite.dispose()

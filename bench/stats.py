"""Latency percentiles for the benchmark reports."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from sqlalchemy import text

from sportsbook.db.engine import Database


def latency_figures(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of a list of durations, in milliseconds."""
    if not seconds:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def machine_cpu() -> tuple[int, ...] | None:
    """The machine's CPU time counters (user, nice, system, idle, iowait, irq, softirq, steal), then the CPU
    ticks of the local PostgreSQL server's processes, or None where /proc/stat is not there. Pass two readings
    to `machine_figures`."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    return (*(int(v) for v in fields[1:9]), database_cpu_ticks())


def process_cpu_ticks(pid: int | str) -> tuple[str, int] | None:
    """A process's name and its user plus system CPU ticks so far (Linux), or None once it is gone."""
    try:
        head, tail = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except (OSError, ValueError):
        return None
    fields = tail.split()
    return head.split("(", 1)[-1], int(fields[11]) + int(fields[12])


def process_cpu_s(pid: int) -> float | None:
    """User plus system CPU seconds of a process so far (Linux), or None."""
    found = process_cpu_ticks(pid)
    return None if found is None else found[1] / os.sysconf("SC_CLK_TCK")


def database_cpu_ticks() -> int:
    """CPU ticks used so far by the processes of a PostgreSQL server on this machine (0 where there is none).
    A backend that exits during a phase takes its ticks with it, so a difference of two readings is a floor."""
    total = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            found = process_cpu_ticks(entry.name)
            if found is not None and found[0] == "postgres":
                total += found[1]
    return total


def machine_figures(before: tuple[int, ...] | None, after: tuple[int, ...] | None) -> dict[str, float]:
    """What the whole machine did between two `machine_cpu` readings: the share of CPU time busy, and the share
    stolen by the hypervisor (a virtual machine's cores lent to others). A high steal share means the figures
    of that phase understate what the code can do on cores of its own."""
    if before is None or after is None:
        return {}
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta[:8])
    if total <= 0:
        return {}
    idle = delta[3] + delta[4]
    return {
        "machine_busy_share": round((total - idle - delta[7]) / total, 2),
        "machine_steal_share": round(delta[7] / total, 2),
        # the local PostgreSQL server's CPU over the phase: what the database costs beside this process
        "database_cpu_s": round(delta[8] / os.sysconf("SC_CLK_TCK"), 2),
    }


async def wal_position(db: Database) -> tuple[int, int] | None:
    """The PostgreSQL server's WAL so far: (records from `pg_stat_wal`, bytes as the current WAL position); None
    on SQLite. Both count the whole server, so a figure means something only while nothing else writes to it.
    The bytes are exact at once; `pg_stat_wal` gets a backend's records when it reports its statistics (at least
    once a second while it works), so a phase's last second may be counted in the next reading."""
    if db.is_sqlite:
        return None
    async with db.read() as conn:
        row = (
            await conn.execute(
                text("SELECT wal_records, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint FROM pg_stat_wal")
            )
        ).one()
    return int(row[0]), int(row[1])


def wal_figures(before: tuple[int, ...] | None, after: tuple[int, ...] | None, count: int) -> dict[str, float]:
    """WAL records and bytes per item (a placed or a settled bet) between two `wal_position` readings."""
    if before is None or after is None or count <= 0:
        return {}
    return {
        "wal_records_per_bet": round((after[0] - before[0]) / count, 1),
        "wal_bytes_per_bet": round((after[1] - before[1]) / count),
    }

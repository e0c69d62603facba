"""`sportsbook payments reconcile FILE`: a PSP's settlement report against the payments recorded, with planted
mismatches reported, and the fees booked through the ledger once however often the report is imported."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

from sportsbook.app import build_platform, start_platform, stop_platform
from sportsbook.config import Settings
from sportsbook.ledger.model import AccountKind
from sportsbook.payments.service import CardIn
from sportsbook.players.service import Registration
from tests.unit.cli.test_cli import run

APPROVED = "4242424242424242"
DECLINED = "4100000000000019"


def _settings(url: str) -> Settings:
    return Settings(
        database_url=url, log_level="WARNING", argon2_memory_kib=8, argon2_time_cost=1, payments_sim_latency_scale=0
    )


def _deposits(url: str) -> list[tuple[str, str, int, str]]:
    """Four approved deposits and a declined one: (connector, reference, amount, status) of each attempt."""

    async def main() -> list[tuple[str, str, int, str]]:
        platform = build_platform(_settings(url))
        await start_platform(platform, relay=False)
        try:
            player = await platform.players.register(
                Registration("recon@example.com", "Vq8#zL2!mW9pTr", date(1990, 1, 1), "GB", "EUR")
            )
            out = []
            for i, (number, amount) in enumerate(
                [(APPROVED, 1_000), (APPROVED, 2_000), (APPROVED, 3_000), (APPROVED, 4_000), (DECLINED, 500)]
            ):
                card = CardIn(number, 12, 2030, "123", "Ada Lovelace")
                for again in range(10):  # a simulated issuer may ask for 3-D Secure now and then: deposit again
                    key = f"k{i}-{again}"
                    view = await platform.payments.deposit(player.id, "EUR", amount, "EUR", card, key, key)
                    if view.payment.status.value != "requires_action":
                        break
                attempt = view.attempts[-1]
                out.append((attempt.connector, str(attempt.reference), amount, view.payment.status.value))
            return out
        finally:
            await stop_platform(platform)

    return asyncio.run(main())


def _fees(url: str) -> int:
    async def main() -> int:
        platform = build_platform(_settings(url))
        await start_platform(platform, relay=False)
        try:
            return -await platform.ledger.house_balance(AccountKind.PSP_FEES, "EUR")
        finally:
            await stop_platform(platform)

    return asyncio.run(main())


def test_report_with_planted_mismatches_is_reported_and_its_fees_booked_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.sqlite3'}"
    assert run("db", "upgrade", database_url=url).returncode == 0
    done = _deposits(url)
    (c1, r1, a1, s1), (c2, r2, a2, _), (c3, r3, a3, _), (c4, r4, _a4, _), (c5, r5, a5, s5) = done
    assert (s1, s5) == ("succeeded", "failed")
    at = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    rows = [
        f"{c1},charge,{r1},psp-1,{a1},EUR,25,{at}",  # matched, fee 25
        f"{c2},charge,{r2},psp-2,{a2},EUR,35,{at}",  # matched, fee 35
        f"{c2},charge,{r2},psp-2,{a2},EUR,35,{at}",  # the same row twice
        f"{c3},charge,{r3},psp-3,{a3 + 1},EUR,45,{at}",  # amount differs
        f"{c5},charge,{r5},psp-5,{a5},EUR,5,{at}",  # we recorded it declined
        # we never made it; on r4's connector, so the report covers it (a report covers only its own connectors)
        f"{c4},charge,{UUID(int=7)},psp-x,999,EUR,5,{at}",
        # r4 is missing from the report
    ]
    report = tmp_path / "settlement.csv"
    report.write_text("connector,type,reference,psp_reference,amount,currency,fee,settled_at\n" + "\n".join(rows))

    first = run("payments", "reconcile", str(report), "--json", database_url=url)
    assert first.returncode == 1, first.stderr
    result = json.loads(first.stdout.splitlines()[-1])
    assert result["counts"]["matched"] == 2
    assert [m["reference"] for m in result["missing"]] == [r4]
    assert sorted((e["reference"], e["our_status"]) for e in result["extra"]) == sorted(
        [(r5, "declined"), (str(UUID(int=7)), None)]
    )
    assert [(d["reference"], [f["field"] for f in d["fields"]]) for d in result["different"]] == [(r3, ["amount"])]
    assert [d["reference"] for d in result["duplicates"]] == [r2]
    assert _fees(url) == 25 + 35

    again = run("payments", "reconcile", str(report), database_url=url)
    assert again.returncode == 1
    assert "missing" in again.stdout
    assert _fees(url) == 25 + 35  # imported again: no fee twice

    clean = tmp_path / "clean.csv"
    clean.write_text(
        "connector,type,reference,psp_reference,amount,currency,fee,settled_at\n"
        + "\n".join(f"{c},charge,{r},psp,{a},EUR,0,{at}" for c, r, a, s in done if s == "succeeded")
    )
    assert run("payments", "reconcile", str(clean), database_url=url).returncode == 0


def test_unreadable_report_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'recon.sqlite3'}"
    assert run("db", "upgrade", database_url=url).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("what,is,this\n1,2,3\n")
    answered = run("payments", "reconcile", str(bad), database_url=url)
    assert answered.returncode == 2
    assert "error" in answered.stderr
    assert run("payments", "reconcile", str(tmp_path / "none.csv"), database_url=url).returncode == 2

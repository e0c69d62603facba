"""The worker role as a process of its own: a `sportsbook worker` killed (SIGKILL) in the middle of a settlement
job leaves the job with the chunks it committed; the next worker takes the job over once its lease lapses and
finishes it, every bet paid exactly once and the ledger sound."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.http.conftest import Account, open_api
from tests.http.test_bets_api import _bet, _event, _selection, _single

ROOT = Path(__file__).resolve().parents[3]
PLAYERS = 20
BETS_EACH = 40  # 800 bets: 40 chunks of 20


def _worker(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SPORTSBOOK_DATABASE_URL": database_url,
        "SPORTSBOOK_SETTLEMENT_CHUNK": "20",
        "SPORTSBOOK_SETTLEMENT_LEASE_S": "2",
        "SPORTSBOOK_LOG_LEVEL": "WARNING",
        "SPORTSBOOK_GC_FREEZE": "false",
    }
    command = [sys.executable, "-m", "sportsbook.cli", "worker"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_worker_killed_mid_job_is_taken_over_and_every_bet_is_paid_once(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        event = await _event(api)
        home = _selection(event, "1x2", "home")  # 2.50
        payments = await api.new_staff("payments")
        players = [await api.new_player() for _ in range(PLAYERS)]
        for player in players:
            funded = await api.client.post(
                "/api/v1/admin/adjustments",
                json={"player_id": str(player.id), "amount": 100_000, "reason": "test funds"},
                headers={**payments.headers, "Idempotency-Key": f"fund-{player.id}"},
            )
            assert funded.status_code == 201, funded.text

        async def bets_of(player: Account) -> None:
            for _ in range(BETS_EACH):
                placed = await _bet(api, player, _single(home, 100))
                assert placed.status_code == 201, placed.text

        await asyncio.gather(*(bets_of(p) for p in players))
        trader = await api.new_staff("trader")
        market = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
        accepted = await api.client.post(
            f"/api/v1/admin/markets/{market}/settlement",
            json={"outcomes": [{"selection_id": home["id"], "result": "won"}]},
            headers={**trader.headers, "Idempotency-Key": "kill-drill"},
        )
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]

        first = _worker(postgres_url)
        try:
            await api.job_when(trader, job_id, lambda j: j["bets_done"] > 0)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        killed = await api.job(trader, job_id)
        total = PLAYERS * BETS_EACH
        assert killed["status"] == "running", killed
        assert 0 < killed["bets_done"] < total, killed  # killed mid-way, with the chunks it committed
        assert killed["bets_total"] == total

        second = _worker(postgres_url)
        try:
            finished = await api.job_when(trader, job_id, lambda j: j["status"] != "running")
        finally:
            second.send_signal(signal.SIGTERM)
            _out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err.decode()
        assert (finished["status"], finished["bets_done"]) == ("succeeded", total), finished
        assert finished["report"]["settled_bets"] == total  # both workers' chunks: the tally commits with each
        listed = (await api.client.get("/api/v1/bets?status=settled&limit=200", headers=players[0].headers)).json()
        assert [(b["status"], b["return"]) for b in listed["items"]] == [("won", 250)] * BETS_EACH
        for player in players:  # every bet paid once: 40 x (250 - 100) on 100,000
            wallet = (await api.client.get("/api/v1/wallet", headers=player.headers)).json()
            assert (wallet["cash"], wallet["reserved"]) == (100_000 + BETS_EACH * 150, 0)

    env = {**os.environ, "SPORTSBOOK_DATABASE_URL": postgres_url}
    reconcile = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sportsbook.cli", "reconcile", env=env, cwd=ROOT, stdout=subprocess.PIPE
    )
    report, _ = await reconcile.communicate()
    assert reconcile.returncode == 0, report.decode()

"""`sportsbook demo` seeds logins that work, with a funded player, and seeding twice changes nothing."""

from __future__ import annotations

from sportsbook.cli import DEMO_ADMIN, DEMO_PLAYER, DEMO_TRADER, _seed_demo
from tests.http.conftest import open_api, test_settings
from tests.http.test_bets_api import _bet, _event, _funded_player, _selection, _single


async def test_demo_seed_gives_working_logins_and_a_funded_player(sqlite_url: str) -> None:
    settings = test_settings(sqlite_url)
    await _seed_demo(settings)
    await _seed_demo(settings)  # a second run of the demo on the same database
    async with open_api(sqlite_url) as api:
        player = await api.login(*DEMO_PLAYER)
        assert player.status_code == 201, player.text
        headers = {"Authorization": f"Bearer {player.json()['token']}"}
        wallet = (await api.client.get("/api/v1/wallet", headers=headers)).json()
        assert (wallet["currency"], wallet["cash"]) == ("EUR", 100_000)
        admin = await api.login(*DEMO_ADMIN)
        assert admin.status_code == 201, admin.text
        me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {admin.json()['token']}"})
        assert me.json()["role"] == "admin"
        trader = await api.login(*DEMO_TRADER)
        me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {trader.json()['token']}"})
        assert me.json()["role"] == "trader"
        events = (await api.client.get("/api/v1/events")).json()["items"]
        assert {e["status"] for e in events} == {"upcoming", "live"}
        assert len(events) == 4
        assert (await api.platform.ledger.reconcile()).sound


async def test_the_demos_worker_thread_runs_settlement_jobs_outside_the_api_loop(sqlite_url: str) -> None:
    # `sportsbook demo` runs every role in one process: the worker role on a thread with its own event loop
    async with open_api(sqlite_url, embedded_worker=True, settlement_poll_s=0.02) as api:
        event = await _event(api)
        player = await _funded_player(api, 10_000)
        home = _selection(event, "1x2", "home")  # 2.50
        bet = (await _bet(api, player, _single(home, 1_000))).json()["id"]
        trader = await api.new_staff("trader")
        market = next(m["id"] for m in event["markets"] if m["type"] == "1x2")
        accepted = await api.client.post(
            f"/api/v1/admin/markets/{market}/settlement",
            json={"outcomes": [{"selection_id": home["id"], "result": "won"}]},
            headers={**trader.headers, "Idempotency-Key": "demo-settle"},
        )
        assert accepted.status_code == 202, accepted.text
        job = await api.job_when(trader, accepted.json()["id"], lambda j: j["status"] in ("succeeded", "failed"))
        assert accepted.headers["Location"] == f"/api/v1/admin/settlement-jobs/{job['id']}"
        assert (job["status"], job["report"]["settled_bets"]) == ("succeeded", 1), job
        got = (await api.client.get(f"/api/v1/bets/{bet}", headers=player.headers)).json()
        assert (got["status"], got["return"]) == ("won", 2_500)
        assert (await api.platform.ledger.reconcile()).sound

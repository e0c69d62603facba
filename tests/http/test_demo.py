"""`sportsbook demo` seeds logins that work, with a funded player, and seeding twice changes nothing."""

from __future__ import annotations

from sportsbook.cli import DEMO_ADMIN, DEMO_PLAYER, _seed_demo
from tests.http.conftest import open_api, test_settings


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
        events = (await api.client.get("/api/v1/events")).json()["items"]
        assert {e["status"] for e in events} == {"upcoming", "live"}
        assert len(events) == 4
        assert (await api.platform.ledger.reconcile()).sound

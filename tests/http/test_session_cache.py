"""The per-node session cache: a logout on this node applies at once, one on another node within the TTL."""

from __future__ import annotations

import pytest

from sportsbook.core.errors import Unauthorized
from sportsbook.players.service import Players
from tests.http.conftest import Api, test_settings


async def test_logout_elsewhere_takes_effect_within_the_cache_ttl(api: Api, sqlite_url: str) -> None:
    player = await api.new_player()
    here = api.platform.players
    assert (await here.authenticate(player.token)).id == player.id  # now cached on this node
    other_node = Players(api.platform.db, api.clock, api.platform.ledger, test_settings(sqlite_url))
    await other_node.logout(player.token)
    assert (await here.authenticate(player.token)).id == player.id  # still trusted for a few seconds
    api.clock.advance(5)
    with pytest.raises(Unauthorized):
        await here.authenticate(player.token)


async def test_logout_on_this_node_applies_at_once(api: Api) -> None:
    player = await api.new_player()
    assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 200
    assert (await api.client.delete("/api/v1/sessions/current", headers=player.headers)).status_code == 204
    assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 401

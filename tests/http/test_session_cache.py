"""The per-node session cache: a logout applies at once on this node and on every other node sharing the
revocation channel, though each node trusts a live session without reading the database on every request."""

from __future__ import annotations

import pytest

from sportsbook.core.errors import Unauthorized
from sportsbook.players.revocation.memory import MemoryRevocations
from sportsbook.players.service import Players
from tests.http.conftest import STRONG_PASSWORD, Api, test_settings


def node(api: Api, url: str, channel: MemoryRevocations) -> Players:
    """Another node's players service on the same database and revocation channel."""
    return Players(api.platform.db, api.clock, api.platform.ledger, test_settings(url), revocations=channel)


async def test_logout_on_another_node_is_refused_here_at_once(api: Api, sqlite_url: str) -> None:
    # Formerly the other node's logout took effect here only once the cache's time was up; the channel
    # now carries it at once, with no time passing on the clock.
    channel = MemoryRevocations()
    here, there = node(api, sqlite_url, channel), node(api, sqlite_url, channel)
    player = await api.new_player()
    assert (await here.authenticate(player.token)).id == player.id  # now cached here
    assert (await here.authenticate(player.token)).id == player.id
    await there.logout(player.token)
    with pytest.raises(Unauthorized):
        await here.authenticate(player.token)


async def test_a_live_session_is_not_read_from_the_database_on_every_request(
    api: Api, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = node(api, sqlite_url, MemoryRevocations())
    token, _ = await here.login((await api.new_player()).email, STRONG_PASSWORD, "127.0.0.1")
    principal = await here.authenticate(token)

    def no_reads() -> None:
        raise AssertionError("the session was read from the database again")

    monkeypatch.setattr(api.platform.db, "read", no_reads)
    for _ in range(5):
        assert await here.authenticate(token) == principal


async def test_logout_on_this_node_applies_at_once(api: Api) -> None:
    player = await api.new_player()
    assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 200
    assert (await api.client.delete("/api/v1/sessions/current", headers=player.headers)).status_code == 204
    assert (await api.client.get("/api/v1/me", headers=player.headers)).status_code == 401

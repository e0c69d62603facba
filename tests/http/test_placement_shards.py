"""Placement group-commits per ledger shard: a bet joins its player's shard's batch, which locks only that
shard's chain, so a batch of one shard commits while another shard's lock is held (on PostgreSQL, where the
locks are rows; SQLite's write lock serialises every writer anyway)."""

from __future__ import annotations

import asyncio

import pytest

from sportsbook.db.unit_of_work import unit_of_work
from tests.http.conftest import Account, Api, open_api
from tests.http.test_bets_api import _bet, _event, _fund, _selection, _single, _wallet

pytestmark = pytest.mark.postgres


async def _players_on(api: Api, shards: tuple[int, ...]) -> dict[int, Account]:
    """A funded player on each of these shards: players registered until each shard has one, and only those
    logged in and funded (logins are rate-limited per address)."""
    payments = await api.new_staff("payments")
    found: dict[int, Account] = {}
    while len(found) < len(shards):
        email, player_id = await api.registered_player()
        shard = api.platform.ledger.shard_of(player_id)
        if shard in shards and shard not in found:
            found[shard] = await api.log_in_player(email, player_id)
            await _fund(api, found[shard], payments)
    return found


async def test_a_bet_of_one_shard_is_struck_while_another_shards_lock_is_held(postgres_url: str) -> None:
    async with open_api(postgres_url) as api:
        platform = api.platform
        assert platform.ledger.shards == 4  # the tests' setting
        event = await _event(api)
        home = _selection(event, "1x2", "home")
        players = await _players_on(api, (0, 1))
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold_shard_0() -> None:
            async with unit_of_work(platform.db) as uow:
                await platform.ledger.lock(uow, players=[players[0].id])
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold_shard_0())
        await holding.wait()
        try:
            # shard 1's batch commits while shard 0 is locked: its writer never waits for that lock
            struck = await asyncio.wait_for(_bet(api, players[1], _single(home, 1_000), key="shard-1"), timeout=10)
            assert struck.status_code == 201, struck.text
            # and the test can fail: shard 0's bet waits for its shard's lock
            waiting = asyncio.create_task(_bet(api, players[0], _single(home, 1_000), key="shard-0"))
            done, _pending = await asyncio.wait({waiting}, timeout=0.5)
            assert not done
        finally:
            release.set()
            await holder
        placed = await asyncio.wait_for(waiting, timeout=10)
        assert placed.status_code == 201, placed.text
        assert [(await _wallet(api, players[s]))["reserved"] for s in (0, 1)] == [1_000, 1_000]
        assert (await platform.ledger.reconcile()).sound

"""A bet priced while its market was open must not be left open once the market is settled, nor once a feed's
bet cancel has voided the bets placed at that time.

Placement and in-play acceptance price a bet from the node's memory, then write it later under the ledger lock;
settlement marks the market settled, then lists the market's open bets under that lock. Each test runs the
late write after the settlement, as two nodes (or a slow batch) would interleave them: the write finds the
market closed in the database and refuses the bet, its stake untouched or released. A bet cancel records its
window and lists the bets to void under the same lock, so a late batch priced inside the window is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from sportsbook.betting import service as betting_service
from sportsbook.betting.jobs import SettlementJob
from sportsbook.betting.model import BetType, OddsChange
from sportsbook.betting.placement import BetRequest, LegRequest, Quote, quote, request_of
from sportsbook.betting.refusals import OddsChanged
from sportsbook.betting.service import _Draft
from sportsbook.betting.settlements import Outcome
from sportsbook.catalog.model import SelectionClosed
from sportsbook.core.ids import derived_id
from sportsbook.db.unit_of_work import unit_of_work
from tests.http.conftest import Api, open_api, run_jobs
from tests.http.test_bets_api import BETS, _bet, _event, _funded_player, _live_over, _selection, _single, _wallet
from tests.http.test_settlement_api import _bet_status


async def _until_a_backend_waits_for_a_lock(url: str, timeout_s: float = 10.0) -> None:
    """Return once a session of this PostgreSQL database waits for a lock (a fixed sleep was not always enough
    for the waiting task to get there on a busy machine)."""
    conn = await asyncpg.connect(url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ):
            assert asyncio.get_running_loop().time() < deadline, "no session came to wait for a lock"
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


def _market_of(event: dict[str, Any], market_type: str) -> UUID:
    return UUID(next(m["id"] for m in event["markets"] if m["type"] == market_type))


async def test_a_bet_priced_before_its_market_settled_is_refused_by_the_late_batch(api: Api) -> None:
    await _late_batch_is_refused(api)


@pytest.mark.postgres
async def test_a_bet_priced_before_its_market_settled_is_refused_by_the_late_batch_on_postgresql(
    postgres_url: str,
) -> None:
    async with open_api(postgres_url) as api:
        await _late_batch_is_refused(api)


async def _late_batch_is_refused(api: Api) -> None:
    event = await _event(api)
    player = await _funded_player(api)
    home = _selection(event, "1x2", "home")
    platform = api.platform
    request = BetRequest(
        BetType.SINGLE, None, (LegRequest(UUID(home["id"]), Decimal(home["odds"])),), 1_000, False, OddsChange.NONE
    )
    now = api.clock.now()
    terms = quote(request, platform.catalog.view.selection, now)  # priced while the market is open
    market_id = _market_of(event, "1x2")
    await run_jobs(
        platform, lambda uow: platform.jobs.settle_market(uow, market_id, [Outcome(UUID(home["id"]), "won")])
    )

    draft = _Draft(derived_id("bet", player.id, "late"), player.id, "EUR", request, terms, "late", now)
    outcome = await platform.betting._writer_for(player.id).submit(draft)  # the batch still waiting for the lock

    assert isinstance(outcome, SelectionClosed)
    assert (await _wallet(api, player))["cash"] == 100_000
    listed = await api.client.get(BETS, headers=player.headers)
    assert listed.json()["items"] == []


async def test_a_bet_priced_inside_a_bet_cancel_window_is_refused_by_the_late_batch(database_url: str) -> None:
    async with open_api(database_url) as api:
        event = await _event(api)
        player, other = await _funded_player(api), await _funded_player(api)
        home = _selection(event, "1x2", "home")
        platform = api.platform
        request = BetRequest(
            BetType.SINGLE, None, (LegRequest(UUID(home["id"]), Decimal(home["odds"])),), 1_000, False, OddsChange.NONE
        )
        start = api.clock.now()
        api.clock.advance(2)
        priced_at = api.clock.now()
        terms = quote(request, platform.catalog.view.selection, priced_at)  # priced inside the window to come
        api.clock.advance(10)
        after = api.clock.now()
        market_id, end = _market_of(event, "1x2"), start + timedelta(seconds=5)
        (job,) = await run_jobs(platform, lambda uow: platform.jobs.cancel_bets(uow, market_id, start, end))
        assert (job.status.value, job.bets_total, job.tally.settled) == ("succeeded", 0, 0)  # none in the window yet

        late = _Draft(derived_id("bet", player.id, "late"), player.id, "EUR", request, terms, "late", priced_at)
        outcome = await platform.betting._writer_for(player.id).submit(late)  # the batch still waiting for the lock
        assert isinstance(outcome, OddsChanged)
        assert (await _wallet(api, player))["cash"] == 100_000
        assert (await api.client.get(BETS, headers=player.headers)).json()["items"] == []

        # a bet priced after the window, on the same market, is struck as usual
        fresh_terms = quote(request, platform.catalog.view.selection, after)
        fresh = _Draft(derived_id("bet", other.id, "after"), other.id, "EUR", request, fresh_terms, "after", after)
        struck = await platform.betting._writer_for(other.id).submit(fresh)
        assert getattr(struck, "status", None) == "open"
        assert (await _wallet(api, other))["cash"] == 100_000 - 1_000
        assert (await platform.ledger.reconcile()).sound


async def test_an_in_play_bet_priced_before_its_market_settled_is_refused_at_acceptance(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    market, over, _trader = await _live_over(api)
    player = await _funded_player(api)
    placed = await _bet(api, player, _single(over, 1_000))
    assert placed.json()["status"] == "pending"
    platform = api.platform
    bet = await platform.betting.bet(player.id, UUID(placed.json()["id"]))
    terms = quote(request_of(bet), platform.catalog.view.selection, api.clock.now())  # the acceptor's pricing
    outcomes = [Outcome(UUID(over["id"]), "won")]
    await run_jobs(platform, lambda uow: platform.jobs.settle_market(uow, UUID(market["id"]), outcomes))

    def priced_before(request: BetRequest, lookup: Any, now: Any) -> Quote:
        return terms  # the acceptor priced the bet from memory before the settlement reached it

    monkeypatch.setattr(betting_service, "quote", priced_before)
    api.clock.advance(6)
    assert await platform.betting.accept_due() == 1

    got = (await api.client.get(f"{BETS}/{placed.json()['id']}", headers=player.headers)).json()
    assert (got["status"], got["reject_code"]) == ("rejected", "selection_closed")
    wallet = await _wallet(api, player)
    assert (wallet["cash"], wallet["reserved"]) == (100_000, 0)
    assert (await platform.ledger.reconcile()).sound


@pytest.mark.postgres
async def test_a_rollback_while_the_market_still_settles_reopens_every_bet_settled(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A trader undoes a wrong result while its job is still settling the bets, chunk after chunk. The chunks
    # written after the rollback was accepted find the results gone; the rollback's job runs after the settle
    # job (a market's jobs run in order) and lists the settled bets under the ledger lock: every bet a chunk
    # settled is reopened, none is left settled (and paid) on a market that is open again.
    async with open_api(postgres_url, settlement_chunk=1) as api:
        event = await _event(api)
        home = _selection(event, "1x2", "home")  # 2.50
        players = [await _funded_player(api, 10_000) for _ in range(3)]  # a chunk each
        bet_ids = [(await _bet(api, p, _single(home, 1_000))).json()["id"] for p in players]
        platform = api.platform
        settler = platform.settlements
        market_id = _market_of(event, "1x2")
        mark_settled = settler._mark_settled
        chunks = 0
        rollback: SettlementJob | None = None

        async def roll_back_while_the_second_chunk_is_written(*args: Any, **kwargs: Any) -> None:
            nonlocal chunks, rollback
            chunks += 1
            await mark_settled(*args, **kwargs)
            if chunks == 2:  # this chunk holds the ledger lock until it commits; accepting needs none
                async with unit_of_work(platform.db) as uow:
                    rollback = await platform.jobs.rollback(uow, market_id)

        monkeypatch.setattr(settler, "_mark_settled", roll_back_while_the_second_chunk_is_written)
        async with unit_of_work(platform.db) as uow:
            await platform.jobs.settle_market(uow, market_id, [Outcome(UUID(home["id"]), "won")])
        settled, undone = await platform.jobs.run_pending()
        assert rollback is not None
        assert undone.id == rollback.id
        assert (settled.kind.value, settled.status.value, settled.bets_done) == ("settle", "succeeded", 3)
        assert (undone.kind.value, undone.status.value) == ("rollback", "succeeded")
        # the second chunk committed its bet after the rollback was accepted, the third found the results gone
        assert (settled.tally.settled, undone.tally.reopened) == (2, 2)
        for player, bet_id in zip(players, bet_ids, strict=True):
            assert await _bet_status(api, player, bet_id) == ("open", None)
            wallet = await _wallet(api, player)
            assert (wallet["cash"], wallet["reserved"]) == (9_000, 1_000)
        assert (await api.platform.ledger.reconcile()).sound

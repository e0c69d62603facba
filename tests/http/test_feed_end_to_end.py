"""End to end, as in the demo: the simulator's match goes live, a player bets on it, the simulator plays it to
full time and settles it, and the bet is settled through a settlement job with the wallet and the ledger right."""

from __future__ import annotations

from datetime import timedelta

from sportsbook.feed.model import BetSettlement, OddsChange
from sportsbook.feed.service import FeedIngestion
from sportsbook.feed.simulated import SimulatorAdapter
from sportsbook.feed.simulator import SimulatorConfig
from tests.http.conftest import Api
from tests.http.test_bets_api import _bet, _fund, _single, _wallet

CONFIG = SimulatorConfig(
    seed=11,
    live_matches=1,
    prematch_matches=0,
    races=0,
    update_interval=timedelta(seconds=30),
    match_seconds_per_second=60.0,
    replace_finished=False,
)


async def test_a_bet_on_a_simulated_live_match_is_settled_by_the_feed(api: Api) -> None:
    async def tick(seconds: float) -> None:
        api.clock.advance(seconds)

    adapter = SimulatorAdapter(CONFIG, api.clock, tick=1.0, sleep=tick)
    p = api.platform
    # producers count as up (the test answers no recovery); the markets it creates are offered in play
    feed = FeedIngestion(adapter, p.db, api.clock, p.catalog, p.jobs, liveness=False, in_play_delay_s=1)
    await feed.open()
    player = await api.new_player()
    await _fund(api, player, await api.new_staff("payments"), 10_000)

    bet_id = None
    accepted = settled = False
    async for message in adapter.messages():
        await feed.process(message)
        if bet_id is None and isinstance(message, OddsChange) and message.state is not None:
            await feed.flush()
            event = p.catalog.event_by_external_id("simulator", message.event or "")
            assert event is not None
            view = (await api.client.get(f"/api/v1/events/{event.id}")).json()
            one_x_two = next(m for m in view["markets"] if m["type"] == "1x2")
            if view["status"] == "live" and one_x_two["status"] == "active":
                home = next(s for s in one_x_two["selections"] if s["outcome"] == "home")
                placed = await _bet(api, player, _single(home, stake=1_000))
                assert placed.status_code == 201, placed.text
                assert placed.json()["status"] == "pending"  # the in-play delay
                bet_id = placed.json()["id"]
        if bet_id is not None and not accepted:
            accepted = await p.betting.accept_due() > 0  # the delay ran out on the simulator's clock
        if isinstance(message, BetSettlement):
            settled = True
            await adapter.stop()
    assert bet_id is not None
    assert accepted
    assert settled
    await p.jobs.run_pending()

    bet = (await api.client.get(f"/api/v1/bets/{bet_id}", headers=player.headers)).json()
    assert bet["status"] in ("won", "lost")
    paid = bet["return"] or 0
    assert paid == (round(1_000 * float(bet["legs"][0]["odds"])) if bet["status"] == "won" else 0)
    assert (await _wallet(api, player))["cash"] == 10_000 - 1_000 + paid
    assert (await p.ledger.reconcile()).sound

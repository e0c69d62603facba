"""Concurrency, on PostgreSQL and SQLite: 1,000 concurrent placements by 50 players on one selection never
overspend a wallet and never pass a liability limit.

The bets go through the HTTP API (in-process, httpx over ASGI), all fired at once with `asyncio.gather`, so the
group-committing bet writer sees them interleaved across players and batches. Each bet is 100 at 2.50 on one
selection (exposure 150); the selection's limit is 30,000 (at most 200 bets), and half the players can afford
only 3 of their 20 bets, so both refusals happen. Afterwards the money and the book are checked from every side:
the answers, the wallets, the bets stored, the service's liability book and the ledger's own reconciliation.

Two API nodes on one PostgreSQL database are simulated too: placement batches of every node queue on the
ledger's lock and share one exposure row per selection, so wallets stay whole and the limit holds across nodes."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa

from sportsbook.betting.model import BetType, OddsChange
from sportsbook.betting.placement import BetRequest, LegRequest
from sportsbook.betting.store import bet_legs, bets
from sportsbook.core.errors import DomainError
from sportsbook.db.engine import Database
from tests.http.conftest import STRONG_PASSWORD, Account, Api, open_api, unique_email
from tests.http.test_catalog_api import football_body

PLAYERS = 50
BETS_PER_PLAYER = 20
STAKE = 100
ODDS = "2.50"
EXPOSURE = 150  # 100 at 2.50 returns 250: the house stands to lose 150 per bet
LIMIT = 30_000  # selection and market liability limit: at most 200 of the 1,000 bets fit
RICH, POOR = 1_500, 300  # even players can afford 15 bets, odd players 3
REFUSALS = {"insufficient_funds", "liability_exceeded"}


@dataclass(frozen=True)
class Placement:
    """One placement's answer, kept with who asked."""

    player: Account
    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str | None:
        if self.status == 201:
            return None
        error: dict[str, Any] = self.body.get("error", {})
        return str(error.get("code"))


def _funding(i: int) -> int:
    return RICH if i % 2 == 0 else POOR


async def _limited_event(api: Api) -> tuple[UUID, str]:
    """An event whose 1x2 market has the tight limit; returns the home selection's id and its market id."""
    body = football_body()
    body["markets"][0]["limits"] = {"selection_liability_limit": LIMIT, "market_liability_limit": LIMIT}
    trader = await api.new_staff("trader")
    response = await api.client.post("/api/v1/admin/events", json=body, headers=trader.headers)
    assert response.status_code == 201, response.text
    market = next(m for m in response.json()["markets"] if m["type"] == "1x2")
    home = next(s for s in market["selections"] if s["outcome"] == "home")
    assert home["odds"] == ODDS
    return UUID(home["id"]), str(market["id"])


async def _new_player(api: Api, i: int) -> Account:
    """A registered, logged-in player, signed up from an address of its own (logins are rate-limited per IP)."""
    client = await api.client_from(f"10.20.{i // 200}.{i % 200 + 1}")
    email = unique_email("storm")
    registered = await client.post(
        "/api/v1/players",
        json={"email": email, "password": STRONG_PASSWORD, "date_of_birth": "1990-05-17", "country": "GB",
              "currency": "EUR"},
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    session = await client.post("/api/v1/sessions", json={"email": email, "password": STRONG_PASSWORD})
    assert session.status_code == 201, session.text
    return Account(UUID(registered.json()["id"]), email, STRONG_PASSWORD, "player", session.json()["token"])


async def _funded_players(api: Api) -> list[Account]:
    players = [await _new_player(api, i) for i in range(PLAYERS)]
    payments = await api.new_staff("payments")
    for i, player in enumerate(players):
        response = await api.client.post(
            "/api/v1/admin/adjustments",
            json={"player_id": str(player.id), "amount": _funding(i), "reason": "test funds"},
            headers={**payments.headers, "Idempotency-Key": f"fund-{player.id}"},
        )
        assert response.status_code == 201, response.text
    return players


async def _place(client: httpx.AsyncClient, player: Account, selection_id: UUID, key: str) -> Placement:
    body = {"type": "single", "legs": [{"selection_id": str(selection_id), "odds": ODDS}], "stake": STAKE}
    response = await client.post("/api/v1/bets", json=body, headers={**player.headers, "Idempotency-Key": key})
    return Placement(player, response.status_code, response.json())


def _storm(clients: list[httpx.AsyncClient], players: list[Account], selection_id: UUID) -> list[Any]:
    """Every player's 20 bets, interleaved round by round (each round spread over the clients), unstarted."""
    return [
        _place(clients[(r * PLAYERS + i) % len(clients)], player, selection_id, f"storm-{player.id}-{r}")
        for r in range(BETS_PER_PLAYER)
        for i, player in enumerate(players)
    ]


async def _shared_exposure(api: Api, selection_id: UUID) -> int:
    """The selection's exposure as every node sees it (the shared row the placement batches maintain)."""
    market_id = api.platform.catalog.selection(selection_id)[1].id
    return (await api.platform.betting.exposures([market_id])).get(selection_id, 0)


async def _stored_exposure(db: Database, selection_id: UUID) -> tuple[int, int]:
    """(open bets on the selection, Σ potential return - total stake over them), straight from the bets table."""
    on_selection = sa.select(bet_legs.c.bet_id).where(bet_legs.c.selection_id == selection_id)
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(bets.c.potential_return - bets.c.total_stake), 0)
    ).where(bets.c.id.in_(on_selection), bets.c.status.in_(["open", "pending"]))
    async with db.read() as conn:
        count, exposure = (await conn.execute(query)).one()
    return int(count), int(exposure)


async def _stored_bets(db: Database) -> dict[UUID, tuple[UUID, int]]:
    async with db.read() as conn:
        rows = await conn.execute(sa.select(bets.c.id, bets.c.player_id, bets.c.total_stake))
        return {r.id: (r.player_id, int(r.total_stake)) for r in rows}


def _accepted(*storms: list[Placement]) -> dict[UUID, Account]:
    """Every bet struck in these storms (a replay answers with the id of the bet it replays), with its player."""
    return {UUID(a.body["id"]): a.player for storm in storms for a in storm if a.status == 201}


async def _check_wallets_and_ledger(api: Api, players: list[Account], accepted: dict[UUID, Account]) -> None:
    """No wallet negative or overspent, every accepted stake reserved, the bets stored are those accepted, and
    the ledger reconciles."""
    stored = await _stored_bets(api.platform.db)
    assert set(stored) == set(accepted)
    per_player = Counter(player.id for player in accepted.values())
    for i, player in enumerate(players):
        wallet = await api.platform.ledger.wallet(player.id, "EUR")
        assert wallet.cash >= 0, (player.id, wallet)
        assert wallet.reserved >= 0, (player.id, wallet)
        assert wallet.cash + wallet.reserved == _funding(i), (player.id, wallet)
        assert wallet.reserved == STAKE * per_player[player.id], (player.id, wallet, per_player[player.id])
        assert sum(stake for owner, stake in stored.values() if owner == player.id) == wallet.reserved
        assert per_player[player.id] <= _funding(i) // STAKE
    report = await api.platform.ledger.reconcile()
    assert report.sound, report.faults


def _check_answers(answers: list[Placement]) -> Counter[str | None]:
    """Every answer is a 201 or one of the two expected refusals, as a 409 with its stable code."""
    assert len(answers) == PLAYERS * BETS_PER_PLAYER
    codes: Counter[str | None] = Counter()
    for a in answers:
        assert a.status == 201 or (a.status == 409 and a.code in REFUSALS), (a.status, a.body)
        codes[a.code] += 1
    return codes


async def test_a_thousand_concurrent_placements_never_overspend_a_wallet_nor_pass_the_liability_limit(
    database_url: str,
) -> None:
    async with open_api(database_url) as api:
        selection_id, _ = await _limited_event(api)
        players = await _funded_players(api)

        answers: list[Placement] = await asyncio.gather(*_storm([api.client], players, selection_id))

        codes = _check_answers(answers)
        accepted = codes[None]
        # both guards bit: the poor players ran dry after 3 bets, and the limit stopped the rest
        assert codes["insufficient_funds"] > 0, codes
        assert codes["liability_exceeded"] > 0, codes
        assert 0 < accepted <= LIMIT // EXPOSURE, codes
        assert await _shared_exposure(api, selection_id) == accepted * EXPOSURE <= LIMIT
        assert await _stored_exposure(api.platform.db, selection_id) == (accepted, accepted * EXPOSURE)
        assert len(_accepted(answers)) == accepted  # one stored bet per 201, none twice
        await _check_wallets_and_ledger(api, players, _accepted(answers))


async def test_replaying_the_storm_replays_every_struck_bet_and_moves_no_money_twice(database_url: str) -> None:
    """The same 1,000 keys sent again, concurrently, answer every struck bet with itself (no second stake).
    A key that was refused is not remembered, so it is a fresh attempt that may now fit; the limits still hold."""
    async with open_api(database_url) as api:
        selection_id, _ = await _limited_event(api)
        players = await _funded_players(api)
        first: list[Placement] = await asyncio.gather(*_storm([api.client], players, selection_id))
        again: list[Placement] = await asyncio.gather(*_storm([api.client], players, selection_id))

        _check_answers(again)
        for before, after in zip(first, again, strict=True):
            if before.status == 201:
                assert (after.status, after.body["id"]) == (201, before.body["id"])
        accepted = _accepted(first, again)
        exposure = len(accepted) * EXPOSURE
        assert await _shared_exposure(api, selection_id) == exposure <= LIMIT
        assert await _stored_exposure(api.platform.db, selection_id) == (len(accepted), exposure)
        await _check_wallets_and_ledger(api, players, accepted)


@pytest.mark.postgres
async def test_two_api_nodes_on_one_database_never_overspend_a_wallet(postgres_url: str) -> None:
    """The ledger locks its chain in the database, so two nodes cannot both spend the same cash."""
    async with open_api(postgres_url) as first:
        selection_id, _ = await _limited_event(first)
        players = await _funded_players(first)
        async with open_api(postgres_url) as second:
            answers: list[Placement] = await asyncio.gather(
                *_storm([first.client, second.client], players, selection_id)
            )
            _check_answers(answers)
            await _check_wallets_and_ledger(first, players, _accepted(answers))


@pytest.mark.postgres
async def test_two_api_nodes_on_one_database_keep_the_liability_limit(postgres_url: str) -> None:
    async with open_api(postgres_url) as first:
        selection_id, _ = await _limited_event(first)
        players = await _funded_players(first)
        payments = await first.new_staff("payments")
        for player in players:  # money is no constraint here: only the liability limit should refuse
            topped = await first.client.post(
                "/api/v1/admin/adjustments",
                json={"player_id": str(player.id), "amount": 10_000, "reason": "top up"},
                headers={**payments.headers, "Idempotency-Key": f"top-{player.id}"},
            )
            assert topped.status_code == 201, topped.text
        async with open_api(postgres_url) as second:
            answers: list[Placement] = await asyncio.gather(
                *_storm([first.client, second.client], players, selection_id)
            )
            codes = _check_answers(answers)
            assert codes["insufficient_funds"] == 0, codes
            count, exposure = await _stored_exposure(first.platform.db, selection_id)
            assert count == codes[None]
            assert exposure <= LIMIT, f"{count} bets accepted across two nodes expose {exposure} > limit {LIMIT}"


@pytest.mark.postgres
async def test_one_key_sent_to_two_api_nodes_at_once_strikes_one_bet_and_both_answer_it(postgres_url: str) -> None:
    """A client retrying through another node while the first is still writing: each key reaches both nodes at
    the same moment. The replay check runs under the ledger lock, so whichever batch comes second finds the bet."""
    async with open_api(postgres_url) as first:
        selection_id, _ = await _limited_event(first)
        player = (await _funded_players(first))[0]  # funded for 15 bets of 100
        keys = [f"twice-{player.id}-{k}" for k in range(12)]
        async with open_api(postgres_url) as second:
            answers: list[Placement] = await asyncio.gather(
                *(_place(node.client, player, selection_id, key) for key in keys for node in (first, second))
            )
        assert all(a.status == 201 for a in answers), [a.body for a in answers if a.status != 201]
        for key_index in range(len(keys)):
            on_first, on_second = answers[2 * key_index], answers[2 * key_index + 1]
            assert on_first.body["id"] == on_second.body["id"]
        stored = await _stored_bets(first.platform.db)
        assert len(stored) == len(keys)
        wallet = await first.platform.ledger.wallet(player.id, "EUR")
        assert (wallet.cash, wallet.reserved) == (RICH - STAKE * len(keys), STAKE * len(keys))
        assert (await first.platform.ledger.reconcile()).sound


async def test_a_bet_refused_for_funds_does_not_crowd_out_a_funded_bet_of_the_same_batch(sqlite_url: str) -> None:
    async with open_api(sqlite_url) as api:
        body = football_body()
        room = {"selection_liability_limit": EXPOSURE, "market_liability_limit": EXPOSURE}  # room for one bet
        body["markets"][0]["limits"] = room
        trader = await api.new_staff("trader")
        created = await api.client.post("/api/v1/admin/events", json=body, headers=trader.headers)
        home = next(s for s in created.json()["markets"][0]["selections"] if s["outcome"] == "home")
        broke, funded = await _new_player(api, 0), await _new_player(api, 1)
        shard_of = api.platform.ledger.shard_of
        for i in range(2, 200):  # a batch is one ledger shard's: the two players must share one
            if shard_of(funded.id) == shard_of(broke.id):
                break
            funded = await _new_player(api, i)
        payments = await api.new_staff("payments")
        await api.client.post(
            "/api/v1/admin/adjustments",
            json={"player_id": str(funded.id), "amount": STAKE, "reason": "test funds"},
            headers={**payments.headers, "Idempotency-Key": "fund"},
        )
        request = BetRequest(
            BetType.SINGLE, None, (LegRequest(UUID(home["id"]), Decimal(ODDS)),), STAKE, False, OddsChange.NONE
        )
        betting = api.platform.betting

        async def place(player: Account) -> str:
            try:
                return (await betting.place(player.id, "EUR", request, f"k-{player.id}", "fp")).status
            except DomainError as exc:
                return exc.code

        # submitted together, so the group-committing writer decides them in one batch, the broke player first
        outcomes = await asyncio.gather(place(broke), place(funded))
        assert list(outcomes) == ["insufficient_funds", "open"]

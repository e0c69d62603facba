"""Payments' webhooks in chaos (issue 12): deposits and withdrawals while the simulated PSPs deliver their
webhooks late, twice and out of order, then every webhook posted again through the HTTP route in a random order:
no deposit is credited twice, no withdrawal's hold is posted or voided twice, and a forged signature is refused.
And two races a webhook can win: a decline's webhook overtaking the request that goes on cascading, and a webhook
whose application fails after it was taken."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from uuid import UUID

import pytest
import sqlalchemy as sa

from sportsbook.core.clock import ManualClock
from sportsbook.core.ids import derived_id
from sportsbook.db.unit_of_work import UnitOfWork
from sportsbook.ledger.model import Flag
from sportsbook.ledger.store import transfers
from sportsbook.payments.connectors.base import ChargeRequest, Outcome
from sportsbook.payments.connectors.base import Result as PspResult
from sportsbook.payments.connectors.simulated import SimulatedConnector, TestCard, WebhookChaos, sign
from sportsbook.payments.service import PaymentView
from sportsbook.payments.store import Attempt, Payment
from sportsbook.players.model import Kyc
from tests.http.conftest import START, open_api
from tests.integration.test_payments_drill import (
    bin_cards,
    card_in,
    drain,
    new_players,
    only,
    read_books,
    sims,
    simulated,
)

pytestmark = pytest.mark.slow

CHAOS = WebhookChaos(delay_ms=(0.0, 30.0), duplicate_rate=0.5, reorder_rate=0.3, reorder_window_ms=20.0, seed=5)


async def test_webhooks_late_twice_out_of_order_and_posted_again_move_money_once(sqlite_url: str) -> None:
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        for connector in sims(platform):
            connector.chaos = CHAOS
        rng = random.Random(21)
        players = await new_players(platform, 20, rng)
        staff = await api.new_staff("payments")
        for player, _ in players:
            await platform.players.set_kyc(player, Kyc.VERIFIED, staff.id)
        cards = bin_cards(40, rng)
        numbers = [*cards, TestCard.APPROVED, TestCard.FIRST_ATTEMPT_MALFUNCTION, TestCard.INSUFFICIENT_FUNDS]
        deposits = await asyncio.gather(
            *(
                payments.deposit(p, c, 10_000, c, card_in(rng.choice(numbers)), f"d{i}-{n}", f"d{i}-{n}")
                for i, (p, c) in enumerate(players)
                for n in range(3)
            )
        )
        # withdrawals while the deposits' webhooks are still arriving; a payout to a card that declines fails
        withdrawals: list[PaymentView] = []
        for i, (player, currency) in enumerate(players):
            cash = (await platform.ledger.wallet(player, currency)).cash
            for n, number in enumerate((TestCard.APPROVED, TestCard.INSUFFICIENT_FUNDS, rng.choice(cards))):
                if cash >= 3_000:
                    key = f"w{i}-{n}"
                    withdrawals.append(
                        await payments.withdraw(player, currency, 3_000, currency, card_in(number), key, key)
                    )
                    cash -= 3_000
        assert len(withdrawals) > 20
        await drain(platform)
        outcomes: Counter[str] = Counter()
        bodies = [(c, body) for c in sims(platform) for body in c.sent]
        rng.shuffle(bodies)
        for connector, body in bodies:  # every webhook again, in a random order, through the route
            answer = await api.client.post(
                f"/api/v1/payments/webhooks/{connector.name}", content=body, headers=connector.signature_headers(body)
            )
            assert answer.status_code == 200, answer.text
            outcomes[answer.json()["result"]] += 1
        assert outcomes == {"duplicate": len(bodies)}

        books = await read_books(platform)
        expected: Counter[tuple[UUID, str]] = Counter()
        for view in deposits:
            p = books.payments[view.payment.id]
            lines = books.credits.get(f"payment:{p['id']}", [])
            assert len(lines) == (1 if p["status"] == "succeeded" else 0), (p, lines)
            if p["status"] == "succeeded":
                expected[(p["player_id"], p["currency"])] += p["amount"]
        async with platform.db.engine.connect() as conn:
            rows = (await conn.execute(sa.select(transfers.c.id, transfers.c.pending_id, transfers.c.flags))).all()
        flags_of: dict[UUID, Counter[int]] = defaultdict(Counter)  # by hold: the hold itself, what closed it
        for transfer_id, pending_id, flags in rows:
            flags_of[pending_id or transfer_id][flags] += 1
        statuses: Counter[str] = Counter()
        for view in withdrawals:
            p = books.payments[view.payment.id]
            statuses[p["status"]] += 1
            assert p["status"] in ("succeeded", "failed"), p
            closing = Flag.POST if p["status"] == "succeeded" else Flag.VOID
            hold = flags_of[derived_id("withdrawal", "hold", p["id"])]
            assert hold == {Flag.PENDING: 1, closing: 1}, (p, hold)
            if p["status"] == "succeeded":
                expected[(p["player_id"], p["currency"])] -= p["amount"]
        assert min(statuses["succeeded"], statuses["failed"]) > 0, statuses
        for player, currency in players:
            wallet = await platform.ledger.wallet(player, currency)
            assert (wallet.cash, wallet.reserved) == (expected[(player, currency)], 0)
        assert (await platform.ledger.reconcile()).sound

        # a forged body, a signature made with another secret, and a replayed signature on another body: refused
        connector, body = bodies[0]
        headers = connector.signature_headers(body)
        forged = body.replace(b'"amount":', b'"amount":1')
        for content, sent_headers in (
            (forged, headers),
            (body, {"Sim-Signature": sign(body, "whsec_not_the_psps", int(api.clock.now().timestamp()))}),
            (body, {}),
        ):
            answer = await api.client.post(
                f"/api/v1/payments/webhooks/{connector.name}", content=content, headers=sent_headers
            )
            assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_signature")
        assert (await read_books(platform)).cash == books.cash


class DeclineWebhookFirst(SimulatedConnector):
    """A PSP whose webhooks reach us before its answer to the charge does."""

    async def charge(self, request: ChargeRequest) -> PspResult:
        result = await super().charge(request)
        await self.drain()
        return result


async def test_a_decline_webhook_overtaking_the_request_does_not_end_the_payment(sqlite_url: str) -> None:
    """4000 0000 0000 0119 is declined 96 (soft) at the first connector and approved at the next: the first
    connector's charge.failed arriving before its answer must not fail a payment the request goes on with."""
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        for name in payments.connectors:
            fresh = simulated(platform, name)
            payments.connectors[name] = DeclineWebhookFirst(
                fresh.profile, clock=fresh.clock, latency_scale=0.0, webhook_secret=fresh.webhook_secret,
                deliver=fresh._deliver,
            )  # fmt: skip
        ((player, currency),) = await new_players(platform, 1, random.Random(8))
        view = await payments.deposit(
            player, currency, 4_000, currency, card_in(TestCard.FIRST_ATTEMPT_MALFUNCTION), "k", "k"
        )
        await drain(platform)
        assert [(a.outcome, a.decline_code) for a in view.attempts] == [("declined", "96"), ("approved", None)]
        assert view.payment.status == "succeeded"
        announced = [
            e.payload["status"]
            for e in await api.published_events()
            if e.type == "payments.payment_changed" and e.payload["payment_id"] == str(view.payment.id)
        ]
        assert announced == ["succeeded"]
        assert (await platform.ledger.wallet(player, currency)).cash == 4_000


async def test_a_webhook_whose_application_fails_is_applied_when_the_psp_sends_it_again(sqlite_url: str) -> None:
    """A payout's result comes only by webhook (or a status query the resolver never makes for a pending payout):
    a failure while applying it must leave it to the PSP's next delivery, not mark it as taken."""
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        await only(api, "sim-europa")
        staff = await api.new_staff("payments")
        ((player, currency),) = await new_players(platform, 1, random.Random(9))
        await platform.players.set_kyc(player, Kyc.VERIFIED, staff.id)
        deposit = await payments.deposit(player, currency, 5_000, currency, card_in(TestCard.APPROVED), "d", "d")
        assert deposit.payment.status == "succeeded"
        await drain(platform)
        record = payments._record_hold_answer_in
        failures: list[int] = []

        async def fails_once(uow: UnitOfWork, payment_id: UUID, attempt: Attempt, result: PspResult) -> Payment:
            if result.outcome is Outcome.APPROVED and not failures:  # the webhook's, not the request's PENDING
                failures.append(1)
                raise ConnectionResetError("the database went away")
            return await record(uow, payment_id, attempt, result)

        payments._record_hold_answer_in = fails_once  # type: ignore[method-assign]
        withdrawal = await payments.withdraw(player, currency, 2_000, currency, card_in(TestCard.APPROVED), "w", "w")
        await drain(platform)  # the first delivery fails; the PSP sends it again after its backoff
        payments._record_hold_answer_in = record  # type: ignore[method-assign]
        assert failures
        view = await payments.view(withdrawal.payment.id)
        assert view.payment.status == "succeeded"
        wallet = await platform.ledger.wallet(player, currency)
        assert (wallet.cash, wallet.reserved) == (3_000, 0)

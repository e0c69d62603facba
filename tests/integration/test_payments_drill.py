"""Payments drills (issue 12), through the service on the whole app: a failover drill of 10,000 deposits while one
connector goes down and another degrades, webhooks delivered late, twice and out of order and posted again,
timeouts resolved by a status query, the card networks' retry limits, and a scan for card numbers everywhere
the drill could have left one.

The 10,000-deposit drill runs on PostgreSQL, the production backend (about 4 minutes here); on SQLite, whose every
transaction costs ~2 ms through aiosqlite, the same drill runs 1,000 deposits. `SPORTSBOOK_DRILL_DEPOSITS` sets
both, for a quick run or a full one."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from importlib.resources import files
from typing import Any
from uuid import UUID

import orjson
import pytest
import sqlalchemy as sa

from sportsbook.core.clock import ManualClock
from sportsbook.ledger.store import accounts, transfers
from sportsbook.payments.bins import BinTable
from sportsbook.payments.connectors.base import (
    ChargeRequest,
    Connector,
    Kind,
    Outcome,
    PayoutRequest,
    RefundRequest,
    WebhookEvent,
)
from sportsbook.payments.connectors.base import Result as PspResult
from sportsbook.payments.connectors.simulated import (
    EEA,
    PROFILES,
    SimProfile,
    SimulatedConnector,
    TestCard,
    WebhookChaos,
)
from sportsbook.payments.model import RETRY_LIMITS, DeclineClass, classify, luhn_valid
from sportsbook.payments.routing import Rule
from sportsbook.payments.service import CardIn, PaymentView
from sportsbook.payments.store import payment_attempts, payment_webhooks
from sportsbook.payments.store import payments as payments_table
from sportsbook.platform import Platform
from sportsbook.players.service import Registration
from tests.http.conftest import START, STRONG_PASSWORD, Api, open_api, unique_email

pytestmark = pytest.mark.slow

DEPOSITS = int(os.environ.get("SPORTSBOOK_DRILL_DEPOSITS", "10000"))
SQLITE_DEPOSITS = int(os.environ.get("SPORTSBOOK_DRILL_DEPOSITS", "1000"))
WAVE = 50  # deposits in flight at once
PLAYERS = 300
TEST_CARD_SHARE = 0.08  # of deposits, made with API.md's test cards
DOWN, DEGRADED = "sim-europa", "sim-atlas"
DOWN_AT, DEGRADED_AT = 0.3, 0.55  # shares of the run after which the connector goes down, and the other degrades
CHAOS = WebhookChaos(delay_ms=(0.0, 5.0), duplicate_rate=0.5, reorder_rate=0.3, reorder_window_ms=10.0, seed=12)
TEST_CARDS = (
    TestCard.APPROVED,
    TestCard.STOLEN,
    TestCard.EXPIRED,
    TestCard.INSUFFICIENT_FUNDS,
    TestCard.FIRST_ATTEMPT_MALFUNCTION,
)
AMOUNTS = (500, 1_000, 2_000, 2_500, 5_000, 10_000, 20_000, 45_000, 120_000, 250_000)
CURRENCIES, CURRENCY_WEIGHTS = ("EUR", "GBP", "USD"), (0.7, 0.15, 0.15)


# ---- cards: Luhn-valid numbers from real BIN ranges ----------------------------------------------------------------


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    """A card number of `length` digits starting with `prefix`, random in between, with its Luhn check digit."""
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


def bin_cards(count: int, rng: random.Random) -> list[str]:
    """`count` distinct Visa and Mastercard numbers from the shipped BIN ranges, spread across strata (scheme, EEA
    or not, debit or credit, prepaid) so that every routing rule and approval factor is exercised."""
    text = files("sportsbook.payments").joinpath("data/bin-ranges.csv").read_text("utf-8")
    strata: dict[tuple[str, bool, str, str], list[str]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(text)):
        start = row["iin_start"].strip()
        if row["scheme"] not in ("visa", "mastercard") or not start.isdigit() or row.get("iin_end", "").strip():
            continue
        strata[(row["scheme"], row["country"] in EEA, row["type"], row["prepaid"])].append(start)
    table = BinTable.shipped()
    keys = sorted(strata)
    cards: set[str] = set()
    for i in itertools.count():
        if len(cards) >= count:
            break
        prefix = rng.choice(strata[keys[i % len(keys)]])
        number = luhn_complete(prefix, 16, rng)
        if table.lookup(number) is not None and number not in set(TEST_CARDS):
            cards.add(number)
    return sorted(cards)


def card_in(number: str) -> CardIn:
    return CardIn(number, 12, START.year + 4, "123", "Ada Lovelace")


# ---- the app --------------------------------------------------------------------------------------------------------


def sims(platform: Platform) -> list[SimulatedConnector]:
    found = [c for c in platform.payments.connectors.values() if isinstance(c, SimulatedConnector)]
    assert len(found) == len(platform.payments.connectors)
    return found


async def drain(platform: Platform) -> None:
    """Until every simulated PSP has delivered every webhook it scheduled (twice: a delivery may cause another)."""
    for _ in range(2):
        for connector in sims(platform):
            await connector.drain()
        await asyncio.sleep(0)


async def new_players(platform: Platform, count: int, rng: random.Random) -> list[tuple[UUID, str]]:
    """`count` registered players, (id, wallet currency), in a mix of currencies."""
    out = []
    for _ in range(count):
        currency = rng.choices(CURRENCIES, CURRENCY_WEIGHTS)[0]
        principal = await platform.players.register(
            Registration(unique_email("drill"), STRONG_PASSWORD, date(1990, 5, 17), "GB", currency)
        )
        out.append((principal.id, currency))
    return out


@dataclass(frozen=True)
class Planned:
    player: UUID
    currency: str
    amount: int
    number: str
    key: str


# ---- what the database and the ledger say ---------------------------------------------------------------------------


Row = dict[str, Any]


@dataclass(frozen=True)
class Books:
    """The payments, their attempts and the ledger's deposit credits and player cash, as stored."""

    payments: dict[UUID, Row]
    attempts: dict[UUID, list[Row]]  # by payment, in seq order
    credits: dict[str, list[Row]]  # the `deposit` transfers by reference ("payment:<id>")
    cash: dict[UUID, dict[str, int]]  # players' cash balances by currency
    cash_accounts: dict[int, UUID]  # a player's cash account id -> the player


async def read_books(platform: Platform) -> Books:
    async with platform.db.engine.connect() as conn:
        pays = {r["id"]: dict(r) for r in (await conn.execute(sa.select(payments_table))).mappings()}
        attempts: dict[UUID, list[Row]] = defaultdict(list)
        for r in (await conn.execute(sa.select(payment_attempts).order_by(payment_attempts.c.seq))).mappings():
            attempts[r["payment_id"]].append(dict(r))
        credits: dict[str, list[Row]] = defaultdict(list)
        for r in (await conn.execute(sa.select(transfers).where(transfers.c.code == "deposit"))).mappings():
            credits[r["reference"]].append(dict(r))
        cash: dict[UUID, dict[str, int]] = defaultdict(dict)
        cash_accounts: dict[int, UUID] = {}
        rows = await conn.execute(
            sa.select(accounts.c.id, accounts.c.owner, accounts.c.currency, accounts.c.balance).where(
                accounts.c.kind == "cash", accounts.c.owner.like("player:%")
            )
        )
        for account_id, owner, currency, balance in rows:
            player = UUID(owner.removeprefix("player:"))
            cash[player][currency] = int(balance)
            cash_accounts[int(account_id)] = player
    return Books(pays, dict(attempts), dict(credits), dict(cash), cash_accounts)


def check_credits(books: Books, deposit_ids: Iterable[UUID]) -> None:
    """Each succeeded deposit has exactly one `deposit` credit of its amount to its player's cash; no other deposit
    has any; each player's cash is the sum of their succeeded deposits."""
    expected_cash: dict[tuple[UUID, str], int] = Counter()
    for payment_id in deposit_ids:
        p = books.payments[payment_id]
        lines = books.credits.get(f"payment:{payment_id}", [])
        if p["status"] == "succeeded":
            assert len(lines) == 1, (p, lines)
            (line,) = lines
            assert (line["amount"], line["currency"]) == (p["amount"], p["currency"]), (p, line)
            assert books.cash_accounts[line["credit_account_id"]] == p["player_id"], (p, line)
            expected_cash[(p["player_id"], p["currency"])] += p["amount"]
        else:
            assert lines == [], f"a {p['status']} deposit was credited: {p}, {lines}"
    for player, balances in books.cash.items():
        for currency, balance in balances.items():
            assert balance == expected_cash.get((player, currency), 0), (player, currency, balance)
    known = {f"payment:{i}" for i in books.payments}
    assert set(books.credits) <= known, "a deposit credit without its payment"


def check_attempts(books: Books, payment_ids: Iterable[UUID], max_attempts: int) -> Counter[str]:
    """Every payment's cascade followed the rules: no attempt after a hard or fix-data decline, an approval, a
    challenge or an unknown answer; a step-up to 3-D Secure only after `authentication_required`, at the same
    connector, once; at most `max_attempts` connectors. Returns a tally of what each cascade did."""
    tally: Counter[str] = Counter()
    for payment_id in payment_ids:
        p = books.payments[payment_id]
        tried = books.attempts.get(payment_id, [])
        assert [a["seq"] for a in tried] == list(range(1, len(tried) + 1)), tried
        assert len({a["connector"] for a in tried}) <= max_attempts, tried
        step_ups = 0
        for before, after in itertools.pairwise(tried):
            outcome = before["outcome"]
            assert outcome in (Outcome.DECLINED, Outcome.ERROR, Outcome.NOT_FOUND), (
                f"an attempt followed a {outcome} answer: {tried}"
            )
            if outcome == Outcome.DECLINED:
                kind = classify(before["decline_code"], before["advice_code"])
                assert kind not in (DeclineClass.HARD, DeclineClass.FIX_DATA), f"a {kind} decline retried: {tried}"
                if kind is DeclineClass.AUTHENTICATION:
                    assert (after["connector"], after["three_ds"]) == (before["connector"], True), tried
                    step_ups += 1
                    tally["step_up"] += 1
                else:
                    assert after["connector"] != before["connector"], tried
                    tally["cascade_after_soft_decline"] += 1
            else:
                tally[f"cascade_after_{outcome}"] += 1
        assert step_ups <= 1, tried
        assert len(tried) <= max_attempts + step_ups, tried
        approved = [a for a in tried if a["outcome"] == Outcome.APPROVED]
        if p["status"] == "succeeded":
            assert len(approved) == 1, tried
        else:
            assert approved == [], (p, tried)
        if p["status"] == "failed" and tried and tried[-1]["outcome"] == Outcome.DECLINED:
            tally[f"failed_{classify(tried[-1]['decline_code'], tried[-1]['advice_code'])}"] += 1
        tally[f"attempts_{len(tried)}"] += 1
    return tally


def check_captures(platform: Platform, books: Books, payment_ids: Iterable[UUID]) -> None:
    """The simulated PSPs' own record: each succeeded payment's card was captured exactly once, no other's ever."""
    payment_of = {a["reference"]: pid for pid, tried in books.attempts.items() for a in tried}
    captures: Counter[UUID] = Counter()
    for connector in sims(platform):
        for body in connector.sent:
            event = orjson.loads(body)
            if event["type"] == "charge.succeeded":
                captures[payment_of[UUID(event["data"]["reference"])]] += 1
    for payment_id in payment_ids:
        expected = 1 if books.payments[payment_id]["status"] == "succeeded" else 0
        assert captures[payment_id] == expected, (books.payments[payment_id], books.attempts.get(payment_id))


async def check_announcements(api: Api, books: Books, payment_ids: Iterable[UUID]) -> None:
    """Each payment announced its final state once, last, and as stored: a final state is never undone."""
    said: dict[str, list[str]] = defaultdict(list)
    for event in await api.published_events():
        if event.type == "payments.payment_changed":
            said[event.payload["payment_id"]].append(event.payload["status"])
    for payment_id in payment_ids:
        statuses = said[str(payment_id)]
        finals = [s for s in statuses if s in ("succeeded", "failed")]
        stored = books.payments[payment_id]["status"]
        if stored in ("succeeded", "failed"):
            assert (finals, statuses[-1]) == ([stored], stored), (statuses, books.attempts.get(payment_id))
        else:
            assert finals == [], (statuses, books.attempts.get(payment_id))


async def check_webhooks_taken(platform: Platform) -> None:
    """Every webhook delivered was applied to its end (none left half-taken) and none was given up."""
    async with platform.db.engine.connect() as conn:
        results = Counter(r for (r,) in await conn.execute(sa.select(payment_webhooks.c.result)))
    assert results["taken"] == 0, results
    sent = sum(len(c.sent) for c in sims(platform))
    assert sum(results.values()) == sent, (results, sent)
    assert all(c.undelivered == 0 for c in sims(platform))


# ---- card numbers anywhere ------------------------------------------------------------------------------------------

_DIGIT_RUNS = re.compile(r"\d{12,}")


def card_numbers_in(text: str, numbers: set[str]) -> set[str]:
    """The card numbers of `numbers` that appear in `text`, alone or inside a longer run of digits."""
    found: set[str] = set()
    for run in _DIGIT_RUNS.findall(text):
        for length in range(12, 20):
            for i in range(len(run) - length + 1):
                if run[i : i + length] in numbers:
                    found.add(run[i : i + length])
    return found


async def database_text(platform: Platform) -> Iterable[tuple[str, str]]:
    """(table, its rows as text) for every table of the database."""
    async with platform.db.engine.connect() as conn:
        if platform.db.is_sqlite:
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        tables = (await conn.execute(sa.text(query))).scalars().all()
        assert {"payments", "payment_attempts", "payment_webhooks", "outbox"} <= set(tables)
        return [(t, repr((await conn.execute(sa.text(f'SELECT * FROM "{t}"'))).all())) for t in tables]


async def assert_no_card_number_anywhere(api: Api, numbers: set[str], logs: str) -> None:
    for table, text in await database_text(api.platform):
        assert not card_numbers_in(text, numbers), f"table {table} holds a card number"
    assert not card_numbers_in(logs, numbers), "the logs hold a card number"
    events = await api.published_events()
    assert any(e.type == "payments.payment_changed" for e in events)
    for event in events:
        assert not card_numbers_in(repr(event), numbers), f"event {event.type} holds a card number"
    bodies = b"".join(body for c in sims(api.platform) for body in c.sent).decode()
    assert not card_numbers_in(bodies, numbers), "a webhook holds a card number"


# ---- 1 and 4: the failover drill, then the card scan ---------------------------------------------------------------


async def failover_drill(api: Api, capsys: pytest.CaptureFixture[str], label: str, deposits: int) -> None:
    platform, clock = api.platform, api.clock
    payments = platform.payments
    rng = random.Random(12)
    for connector in sims(platform):
        connector.chaos = CHAOS
    started = time.perf_counter()
    players = await new_players(platform, PLAYERS, rng)
    own_cards = bin_cards(PLAYERS * 2, rng)
    cards_of = {pid: own_cards[2 * i : 2 * i + 1 + rng.randrange(2)] for i, (pid, _) in enumerate(players)}
    plan = []
    for n in range(deposits):
        player, currency = rng.choice(players)
        number = rng.choice(TEST_CARDS) if rng.random() < TEST_CARD_SHARE else rng.choice(cards_of[player])
        plan.append(Planned(player, currency, rng.choice(AMOUNTS), number, f"drill-{n}"))
    staff = await api.new_staff("payments")
    set_up = time.perf_counter() - started

    views: list[PaymentView] = []
    phase_of: dict[UUID, str] = {}
    phase = "healthy"
    started = time.perf_counter()
    for wave_start in range(0, deposits, WAVE):
        if phase == "healthy" and wave_start >= DOWN_AT * deposits:
            switched = await api.client.patch(
                f"/api/v1/admin/payments/connectors/{DOWN}",
                json={"simulation": {"outage": True}},
                headers=staff.headers,
            )
            assert switched.status_code == 200, switched.text
            phase = f"{DOWN} down"
        if phase == f"{DOWN} down" and wave_start >= DEGRADED_AT * deposits:
            await payments.switch(
                staff.id, DEGRADED, enabled=None, outage=None, approval_rate=0.5, latency_ms=None, simulation_sent=True
            )
            phase = f"{DOWN} down, {DEGRADED} at 50%"
        wave = plan[wave_start : wave_start + WAVE]
        answers = await asyncio.gather(
            *(
                payments.deposit(d.player, d.currency, d.amount, d.currency, card_in(d.number), d.key, d.key)
                for d in wave
            )
        )
        for view in answers:
            phase_of[view.payment.id] = phase
        views += answers
        clock.advance(1)  # a second between waves: the breakers' reset timeouts pass during the run
    run = time.perf_counter() - started

    await drain(platform)
    clock.advance(120)
    while await payments.resolve_unknown(older_than_s=30, limit=1_000):
        pass
    await drain(platform)
    books = await read_books(platform)
    ids = [v.payment.id for v in views]
    assert len(set(ids)) == deposits
    statuses = Counter(books.payments[i]["status"] for i in ids)
    assert set(statuses) <= {"succeeded", "failed", "requires_action"}, statuses  # nothing left pending
    check_credits(books, ids)
    check_captures(platform, books, ids)
    tally = check_attempts(books, ids, payments.routing.policy.max_attempts)
    await check_webhooks_taken(platform)
    await check_announcements(api, books, ids)
    report = await platform.ledger.reconcile()
    assert report.sound, report.faults
    # the player's statement says the same as the journal, for a sample of players
    for player, currency in players[:10]:
        mine = {i for i in ids if books.payments[i]["player_id"] == player}
        credited = {
            f"payment:{i}": books.payments[i]["amount"] for i in mine if books.payments[i]["status"] == "succeeded"
        }
        lines = await platform.ledger.statement(player, currency, limit=10_000)
        assert sorted((line.reference, line.amount) for line in lines) == sorted(credited.items())
        assert all(line.kind == "deposit" for line in lines)

    # what failed over: the outage's attempts are connector errors, and the degraded connector approved about half
    by_phase: dict[str, Counter[str]] = defaultdict(Counter)
    for i in ids:
        by_phase[phase_of[i]][books.payments[i]["status"]] += 1
    assert min(tally["cascade_after_error"], tally["cascade_after_soft_decline"], tally["step_up"]) > 0, tally
    # the run lasts minutes of the clock: no card may have more declines than its network's shortest limit allows
    declines_by_card: Counter[str] = Counter()
    scheme_of: dict[str, str] = {}
    for payment_id, tried in books.attempts.items():
        for a in tried:
            if a["outcome"] == Outcome.DECLINED:
                declines_by_card[a["card_fingerprint"]] += 1
                scheme_of[a["card_fingerprint"]] = books.payments[payment_id]["card_scheme"]
    # deposits of one card at once count its declines in turn, under the card's lock: none passes a limit
    over_limit = {
        card: declines
        for card, declines in declines_by_card.items()
        if declines > min((limit.attempts for limit in RETRY_LIMITS.get(scheme_of[card], ())), default=declines)
    }
    assert not over_limit, over_limit
    succeeded = statuses["succeeded"]
    total = sum(p["amount"] for p in books.payments.values() if p["status"] == "succeeded")
    with capsys.disabled():
        print(f"\n[{label}] payments drill: {deposits} deposits, {PLAYERS} players, waves of {WAVE}")
        print(f"  set-up {set_up:.1f} s, deposits {run:.1f} s ({deposits / run:.0f}/s)")
        print(f"  success rate {succeeded / deposits:.1%} ({dict(statuses)}), credited {total} minor units")
        for name, counts in by_phase.items():
            n = sum(counts.values())
            print(f"    {name}: {counts['succeeded'] / n:.1%} of {n}")
        print(f"  cascades: {dict(sorted(tally.items()))}")
        print(f"  most declines on one card: {max(declines_by_card.values())}; cards past their limit: {over_limit}")
    logs = capsys.readouterr().out
    numbers = set(own_cards) | {str(c) for c in TEST_CARDS}
    await assert_no_card_number_anywhere(api, numbers, logs)


@pytest.mark.timeout(1800)
async def test_failover_drill_on_sqlite(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with open_api(sqlite_url, clock=ManualClock(START), log_level="INFO") as api:
        await failover_drill(api, capsys, "sqlite", SQLITE_DEPOSITS)


@pytest.mark.postgres
@pytest.mark.timeout(1800)
async def test_failover_drill_on_postgresql(postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with open_api(postgres_url, clock=ManualClock(START), log_level="INFO") as api:
        await failover_drill(api, capsys, "postgresql", DEPOSITS)


# ---- 3: timeouts resolved by a status query -------------------------------------------------------------------------


class Unanswered(Connector):
    """A simulated PSP whose charges are made but whose answers never come back in time: the charge times out, and
    its first `status_failures` status queries time out too; then the PSP tells the truth. Counts the charges it
    was asked for, by our reference."""

    def __init__(self, inner: SimulatedConnector, *, status_failures: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.capabilities = inner.capabilities
        self.status_failures = status_failures
        self.charges: list[str] = []

    async def charge(self, request: ChargeRequest) -> PspResult:
        self.charges.append(request.reference)
        await self.inner.charge(request)
        return PspResult(Outcome.TIMEOUT, message="no answer in time")

    async def status(self, kind: Kind, reference: str) -> PspResult:
        if self.status_failures > 0:
            self.status_failures -= 1
            return PspResult(Outcome.TIMEOUT, message="no answer in time")
        return await self.inner.status(kind, reference)

    async def complete_action(self, reference: str, psp_reference: str, passed: bool) -> PspResult:
        return await self.inner.complete_action(reference, psp_reference, passed)

    async def refund(self, request: RefundRequest) -> PspResult:
        return await self.inner.refund(request)

    async def payout(self, request: PayoutRequest) -> PspResult:
        return await self.inner.payout(request)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        return self.inner.verify_webhook(body, headers)


def simulated(
    platform: Platform, name: str, *, profile: SimProfile | None = None, webhooks: bool = True
) -> SimulatedConnector:
    """A simulated PSP as the app builds one (its webhooks to the app's handler, unless `webhooks` is False)."""
    payments = platform.payments

    async def deliver(connector: str, body: bytes, headers: dict[str, str]) -> None:
        await payments.webhook(connector, body, headers)

    settings = platform.settings
    return SimulatedConnector(
        profile or replace(PROFILES[name], seed=PROFILES[name].seed + 100 * (settings.payments_sim_seed - 1)),
        clock=platform.clock,
        latency_scale=0.0,
        webhook_secret=settings.payments_sim_webhook_secret,
        deliver=deliver if webhooks else None,
    )


def captures_of(connector: SimulatedConnector, references: Iterable[str]) -> int:
    """How many of these charges the simulated PSP captured (its own record: the capture's webhook, sent once)."""
    wanted = set(references)
    return sum(
        1
        for body in connector.sent
        if (event := orjson.loads(body))["type"] == "charge.succeeded" and event["data"]["reference"] in wanted
    )


async def only(api: Api, keep: str) -> None:
    """Switch off every connector but `keep`."""
    staff = await api.new_staff("payments")
    for name in api.platform.payments.connectors:
        if name != keep:
            await api.platform.payments.switch(
                staff.id, name, enabled=False, outage=None, approval_rate=None, latency_ms=None, simulation_sent=False
            )


async def test_a_charge_that_times_out_is_resolved_later_and_credited_once(sqlite_url: str) -> None:
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        inner = simulated(platform, "sim-atlas", webhooks=False)  # no webhook: only a status query can tell
        unanswered = Unanswered(inner, status_failures=2)
        payments.connectors["sim-atlas"] = unanswered
        await only(api, "sim-atlas")
        ((player, currency),) = await new_players(platform, 1, random.Random(3))
        card = card_in(TestCard.APPROVED)

        first = await payments.deposit(player, currency, 5_000, currency, card, "t-1", "t-1")
        assert first.payment.status == "pending"
        assert [a.outcome for a in first.attempts] == [Outcome.TIMEOUT]  # asked once at once: no answer either
        again = await payments.deposit(player, currency, 5_000, currency, card, "t-1", "t-1")
        assert (again.payment.id, len(again.attempts)) == (first.payment.id, 1)
        assert await payments.resolve_unknown(older_than_s=30) == 0  # too recent to ask about
        api.clock.advance(31)
        assert await payments.resolve_unknown(older_than_s=30) == 0  # the PSP still does not answer
        assert (await payments.view(first.payment.id)).payment.status == "pending"
        assert (await platform.ledger.wallet(player, currency)).cash == 0
        api.clock.advance(31)
        assert await payments.resolve_unknown(older_than_s=30) == 1
        assert await payments.resolve_unknown(older_than_s=30) == 0
        view = await payments.view(first.payment.id)
        assert view.payment.status == "succeeded"
        assert [a.outcome for a in view.attempts] == [Outcome.APPROVED]
        assert (await platform.ledger.wallet(player, currency)).cash == 5_000
        # the card was charged once: one charge asked of the PSP, one capture in its own record
        assert unanswered.charges == [str(view.attempts[0].reference)]
        assert captures_of(inner, unanswered.charges) == 1
        assert (await platform.ledger.reconcile()).sound


async def test_a_timed_out_charge_whose_webhook_comes_first_is_credited_once(sqlite_url: str) -> None:
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        inner = simulated(platform, "sim-atlas")
        unanswered = Unanswered(inner, status_failures=1)
        payments.connectors["sim-atlas"] = unanswered
        await only(api, "sim-atlas")
        ((player, currency),) = await new_players(platform, 1, random.Random(4))
        view = await payments.deposit(player, currency, 7_000, currency, card_in(TestCard.APPROVED), "w-1", "w-1")
        await inner.drain()  # the PSP's charge.succeeded, twice at most, before anyone asks
        api.clock.advance(31)
        await payments.resolve_unknown(older_than_s=30)
        await inner.drain()
        view = await payments.view(view.payment.id)
        assert view.payment.status == "succeeded"
        assert (len(view.attempts), len(unanswered.charges)) == (1, 1)
        assert (await platform.ledger.wallet(player, currency)).cash == 7_000
        assert captures_of(inner, unanswered.charges) == 1


@pytest.mark.parametrize(("lost", "attempts"), [(0.0, 1), (1.0, 2)])
async def test_the_simulators_timeouts_are_resolved_by_a_status_query_before_any_retry(
    sqlite_url: str, lost: float, attempts: int
) -> None:
    """Every call to the first PSP times out; it either made the charge (the status query finds it: no retry) or
    never saw it (NOT_FOUND: the next connector is tried, and only it captures)."""
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        profile = replace(PROFILES["sim-atlas"], timeout_rate=1.0, lost_on_timeout_rate=lost)
        flaky = payments.connectors["sim-atlas"] = simulated(platform, "sim-atlas", profile=profile)
        steady = payments.connectors["sim-europa"] = simulated(platform, "sim-europa")
        staff = await api.new_staff("payments")
        await payments.switch(
            staff.id, "sim-harbour", enabled=False, outage=None, approval_rate=None, latency_ms=None,
            simulation_sent=False,
        )  # fmt: skip
        # A mandate keeps the timing-out PSP first, so every deposit meets its timeout (adaptive routing would
        # soon learn to avoid it, and whether any deposit started there would be up to its random draws).
        payments.routing = replace(
            payments.routing, rules=(Rule("atlas-first", ("sim-atlas", "sim-europa"), keep_order=True),)
        )
        ((player, currency),) = await new_players(platform, 1, random.Random(5))
        views = []
        for n in range(6):
            views.append(
                await payments.deposit(player, currency, 1_000, currency, card_in(TestCard.APPROVED), f"s{n}", f"s{n}")
            )
        await drain(platform)
        for view in views:
            view = await payments.view(view.payment.id)
            assert view.payment.status == "succeeded"
            references = [str(a.reference) for a in view.attempts]
            assert captures_of(flaky, references) + captures_of(steady, references) == 1
            assert view.attempts[0].connector == "sim-atlas"
            assert len(view.attempts) == attempts
            assert view.attempts[0].outcome == (Outcome.APPROVED if lost == 0.0 else Outcome.NOT_FOUND)
        assert (await platform.ledger.wallet(player, currency)).cash == 6 * 1_000


# ---- 5: the card networks' retry limits -----------------------------------------------------------------------------


def mastercard_outside_the_eea(rng: random.Random) -> str:
    text = files("sportsbook.payments").joinpath("data/bin-ranges.csv").read_text("utf-8")
    starts = [
        r["iin_start"]
        for r in csv.DictReader(io.StringIO(text))
        if r["scheme"] == "mastercard" and r["country"] == "US" and r["type"] == "credit" and not r["iin_end"]
    ]
    return luhn_complete(rng.choice(sorted(starts)), 16, rng)


async def declines_of(platform: Platform, payment_ids: Sequence[UUID]) -> int:
    async with platform.db.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        payment_attempts.c.payment_id.in_(payment_ids), payment_attempts.c.outcome == "declined"
                    )
                )
            ).scalar_one()
        )


def psp_calls(platform: Platform) -> int:
    return sum(len(c.sent) for c in sims(platform))  # a charge that reaches a simulated PSP emits one webhook


@pytest.mark.parametrize(("scheme", "window"), [("visa", timedelta(days=30)), ("mastercard", timedelta(hours=24))])
async def test_a_card_declined_again_and_again_reaches_its_networks_limit(
    sqlite_url: str, scheme: str, window: timedelta
) -> None:
    limit = RETRY_LIMITS[scheme][0].attempts
    async with open_api(sqlite_url, clock=ManualClock(START)) as api:
        platform, payments = api.platform, api.platform.payments
        rng = random.Random(6)
        if scheme == "visa":
            number = str(TestCard.INSUFFICIENT_FUNDS)  # 51 at every connector: soft, cascaded
        else:
            number = mastercard_outside_the_eea(rng)
            staff = await api.new_staff("payments")
            for name in payments.connectors:  # every issuer declines
                await payments.switch(
                    staff.id, name, enabled=None, outage=None, approval_rate=0.0, latency_ms=None, simulation_sent=True
                )
        ((player, currency),) = await new_players(platform, 1, rng)
        ids: list[UUID] = []
        refused: PaymentView | None = None
        for n in range(limit + 1):
            calls = psp_calls(platform)
            view = await payments.deposit(player, currency, 2_000, currency, card_in(number), f"r{n}", f"r{n}")
            api.clock.advance(60)
            if not view.attempts:
                refused = view
                assert psp_calls(platform) == calls  # refused without a connector call
                break
            ids.append(view.payment.id)
            assert view.payment.status in ("failed", "requires_action"), view
        assert refused is not None, "the limit was never reached"
        assert (refused.payment.status, refused.payment.decline_code) == ("failed", "retry_limit_reached")
        assert await declines_of(platform, ids) == limit
        assert (await platform.ledger.wallet(player, currency)).cash == 0
        # still refused just inside the window, allowed again once the first declines have left it
        first_decline = START
        api.clock.advance((first_decline + window - timedelta(minutes=1) - api.clock.now()).total_seconds())
        view = await payments.deposit(player, currency, 2_000, currency, card_in(number), "inside", "inside")
        assert (view.payment.decline_code, view.attempts) == ("retry_limit_reached", ())
        api.clock.advance((first_decline + window + timedelta(hours=1) - api.clock.now()).total_seconds())
        view = await payments.deposit(player, currency, 2_000, currency, card_in(number), "after", "after")
        assert view.attempts, view


async def test_deposits_at_once_on_one_card_never_pass_its_networks_limit(database_url: str) -> None:
    """Forty deposits of one card at once, declined at every connector: they count the card's declines in turn,
    under its lock, so no more than Visa's limit are ever made, and the rest are refused without a call."""
    limit = RETRY_LIMITS["visa"][0].attempts
    async with open_api(database_url, clock=ManualClock(START), payments_sim_latency_scale=0.02) as api:
        platform, payments = api.platform, api.platform.payments
        ((player, currency),) = await new_players(platform, 1, random.Random(7))
        number = str(TestCard.INSUFFICIENT_FUNDS)  # 51 at every connector: soft, cascaded
        views = await asyncio.gather(
            *(payments.deposit(player, currency, 1_000, currency, card_in(number), f"c{n}", f"c{n}") for n in range(40))
        )
        ids = [v.payment.id for v in views]
        assert await declines_of(platform, ids) <= limit
        assert sum(1 for v in views if v.payment.decline_code == "retry_limit_reached") > 0
        assert all(v.payment.status == "failed" for v in views)

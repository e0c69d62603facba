"""Payments' use cases: deposits, withdrawals, refunds, chargebacks, webhooks, and the staff's switches.

A PSP call is never made inside a database transaction: a payment is recorded first (with its Idempotency-Key
and its first attempt), each connector call runs outside any transaction, and its answer is recorded in a short
unit of work with what it causes (the ledger's transfer, the outbox event). An attempt recorded before its call
and never answered is `unknown`: it is resolved by a status query (or the PSP's webhook) before the payment
tries anything else, so a card is never charged twice and a wallet never credited twice. Every credit's
transfer id is derived from the payment's id: whichever of the request, a webhook or the resolver records the
capture first credits the wallet, and the others find it done."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from prometheus_client import Counter, Gauge, Histogram

from sportsbook.core.clock import Clock
from sportsbook.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
)
from sportsbook.core.ids import derived_id, new_id
from sportsbook.core.money import InvalidCurrency, check_amount
from sportsbook.db.engine import Database
from sportsbook.db.unit_of_work import UnitOfWork, reading, unit_of_work
from sportsbook.events.bus import EventBus
from sportsbook.events.model import Event
from sportsbook.ledger.service import Ledger
from sportsbook.ledger.verbs import Counterpart, Movements, Result
from sportsbook.payments import model, reconciliation
from sportsbook.payments.bins import BinTable
from sportsbook.payments.breakers import Breakers
from sportsbook.payments.connectors.base import (
    CardData,
    CardProfile,
    ChargeRequest,
    Connector,
    InvalidWebhook,
    Kind,
    Outcome,
    PayoutRequest,
    RefundRequest,
    Simulation,
    UnhandledWebhook,
    WebhookEvent,
    WebhookType,
)
from sportsbook.payments.connectors.base import Result as PspResult
from sportsbook.payments.events import CONNECTOR_CHANGED, ConnectorChangedV1, PaymentChangedV1
from sportsbook.payments.model import Direction, Status, Step
from sportsbook.payments.routing import (
    BlockList,
    ConnectorProfile,
    Decision,
    Policy,
    RouteRequest,
    Rule,
    SuccessStats,
    decide,
    segment_of,
)
from sportsbook.payments.store import (
    Attempt,
    Block,
    Card,
    ConnectorSwitches,
    Payment,
    PaymentStore,
    RateRow,
)
from sportsbook.players.model import Kyc

log = structlog.get_logger(__name__)

ATTEMPTS = Counter(
    "sportsbook_payment_attempts_total",
    "Attempts at the payment connectors, by connector, operation, outcome, issuer country and card type",
    ["connector", "operation", "outcome", "country", "card_type"],
)
PAYMENTS = Counter(
    "sportsbook_payments_total", "Payments that reached a final state, by direction and status", ["direction", "status"]
)
WEBHOOKS = Counter(
    "sportsbook_payment_webhooks_total", "Webhooks received, by connector and result", ["connector", "result"]
)
CALL_SECONDS = Histogram(
    "sportsbook_payment_call_seconds",
    "Time of one call to a payment connector",
    ["connector", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BREAKER_OPEN = Gauge(
    "sportsbook_payment_connector_open", "1 while a connector's circuit breaker is open", ["connector"]
)
DOUBLE_CAPTURES = Counter(
    "sportsbook_payment_double_captures_total", "Captures of a payment another attempt had captured (refunded)"
)

DEPOSIT = "deposit"
WITHDRAWAL = "withdrawal"
REFUND = "refund"
CHARGEBACK = "chargeback"
UNKNOWN_OUTCOMES = (None, Outcome.TIMEOUT)
_SEARCH_LAG = timedelta(minutes=10)  # after this, a lagging PSP's "not found" is final


class PaymentNotFound(NotFound):
    """No payment of yours has this id."""

    code = "payment_not_found"


class KycRequired(Forbidden):
    """Withdrawals need a verified identity: ask support to verify your account."""

    code = "kyc_required"


class ConnectorNotFound(NotFound):
    """No payment connector has this name."""

    code = "connector_not_found"


class NotSimulated(Conflict):
    """Simulation switches exist on simulated connectors only."""

    code = "connector_not_simulated"


class PaymentNotRefundable(Conflict):
    """Only a succeeded deposit can be refunded, up to what is not refunded yet."""

    code = "payment_not_refundable"


class NoActionRequired(Conflict):
    """This payment does not wait for a 3-D Secure answer."""

    code = "no_action_required"


class InvalidSignature(Conflict):
    """The webhook's signature does not verify, or it is too old."""

    code = "invalid_signature"
    status = 400


class NoConnector(Conflict):
    """No payment connector can take this payment now."""

    code = "no_connector_available"
    status = 503


@dataclass(frozen=True, slots=True)
class CardIn:
    number: str
    expiry_month: int
    expiry_year: int
    cvc: str
    holder: str


@dataclass(frozen=True, slots=True)
class PaymentView:
    """A payment with its attempts, as the API shows it."""

    payment: Payment
    attempts: tuple[Attempt, ...]


@dataclass(frozen=True, slots=True)
class ConnectorView:
    name: str
    enabled: bool
    state: str  # the circuit breaker's: closed, open, half-open
    simulation: Simulation | None
    attempts: int
    approved: int


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    rules: tuple[Rule, ...]
    profiles: Mapping[str, ConnectorProfile]
    policy: Policy


class Payments:
    """The payments of every player, through the configured connectors."""

    def __init__(
        self,
        *,
        db: Database,
        ledger: Ledger,
        profile_of_player: Callable[[UUID], Awaitable[tuple[str | None, Kyc]]],
        clock: Clock,
        connectors: Mapping[str, Connector],
        routing: RoutingConfig,
        breakers: Breakers,
        bins: BinTable,
        fingerprint_key: bytes,
        call_timeout_s: float = 30.0,
        bus: EventBus | None = None,
        node: str = "",
        seed: int | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.connectors = dict(connectors)
        self.routing = routing
        self.breakers = breakers
        self.bins = bins
        self.stats = SuccessStats()
        self._profile_of_player = profile_of_player
        self._key = fingerprint_key
        self._timeout = call_timeout_s
        self._rng = random.Random(seed)
        self._enabled: dict[str, bool] = dict.fromkeys(self.connectors, True)
        self._blocks = BlockList()
        self._background: set[asyncio.Task[None]] = set()
        if bus is not None:
            bus.subscribe(f"payments-connectors-{node}", [CONNECTOR_CHANGED], self._on_connector_changed, per_node=True)

    async def start(self) -> None:
        await self.reload()

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        for connector in self.connectors.values():
            await connector.close()

    async def reload(self) -> None:
        """Read the connectors' switches and the block list into memory."""
        async with reading(self.db) as uow:
            store = uow.store(PaymentStore)
            switches = await store.switches()
            blocks = await store.blocks()
        for s in switches:
            connector = self.connectors.get(s.name)
            if connector is None:
                continue
            self._enabled[s.name] = s.enabled
            if connector.simulation is not None:
                connector.simulate(Simulation(s.outage, s.approval_rate, s.latency_ms))
        self._blocks = _block_list(blocks)

    # ---- deposits ----

    async def deposit(
        self, player_id: UUID, currency: str, amount: int, currency_asked: str, card_in: CardIn, key: str, hash_: str
    ) -> PaymentView:
        """Charge a card and credit the player's cash once it is captured. A replay of the same key and request
        answers the payment as it stands; the same key with another request is refused."""
        now = self.clock.now()
        try:
            card, profile, fp = self._checked(card_in, amount, currency, currency_asked, now)
        except DomainError:
            found = await self._replay(player_id, Direction.DEPOSIT, key, hash_)  # answered once: answer the same
            if found is not None:
                return found
            raise
        payment = _asked(Direction.DEPOSIT, player_id, amount, currency, profile, fp, key, hash_, now)
        decision = self._decide(self._route_request(payment, profile, fp))
        try:
            return await self._charge_cascade(payment, card, profile, decision)
        except _Replay:
            found = await self._replay(player_id, Direction.DEPOSIT, key, hash_)
            if found is None:
                raise
            return found

    async def _replay(self, player_id: UUID, direction: Direction, key: str, hash_: str) -> PaymentView | None:
        async with reading(self.db) as uow:
            found = await uow.store(PaymentStore).by_key(player_id, direction, key)
        if found is None:
            return None
        if found.request_hash != hash_:
            raise IdempotencyKeyReused()
        return await self.view(found.id)

    def _checked(
        self, card_in: CardIn, amount: int, currency: str, currency_asked: str, now: datetime
    ) -> tuple[CardData, CardProfile, str]:
        """A payment request's card, amount and currency checked (the wallet's currency only)."""
        check_amount(amount)
        if currency_asked != currency:
            raise InvalidCurrency(f"your wallet holds {currency}")
        return self._card(card_in, now)

    def _card(self, card_in: CardIn, now: datetime) -> tuple[CardData, CardProfile, str]:
        card = model.card_from(
            card_in.number, card_in.expiry_month, card_in.expiry_year, card_in.cvc, card_in.holder, now
        )
        profile = model.profile_of(card, self.bins.lookup(card.number))
        return card, profile, model.fingerprint(card.number, self._key)

    def _route_request(self, payment: Payment, profile: CardProfile, fp: str) -> RouteRequest:
        return RouteRequest(
            bin=profile.bin,
            scheme=profile.scheme,
            card_type=profile.card_type,
            prepaid=profile.prepaid,
            country=profile.country,
            currency=payment.currency,
            amount=payment.amount,
            risk=0,  # the player risk score comes with the risk feature; until then every player is 0
            fingerprint=fp,
        )

    def _decide(self, request: RouteRequest, *, payouts: bool = False) -> Decision:
        unhealthy = self.breakers.unhealthy() | {n for n, on in self._enabled.items() if not on}
        if payouts:
            unhealthy |= {n for n, c in self.connectors.items() if not c.capabilities.payouts}
        profiles = {n: p for n, p in self.routing.profiles.items() if n in self.connectors}
        return decide(
            request,
            rules=self.routing.rules,
            connectors=profiles,
            stats=self.stats,
            unhealthy=frozenset(unhealthy),
            policy=self.routing.policy,
            rng=self._rng,
            blocklist=self._blocks,
        )

    async def _charge_cascade(
        self, payment: Payment, card: CardData, profile: CardProfile, decision: Decision
    ) -> PaymentView:
        """Record the payment, then try the decision's connectors in order until one captures, a decline forbids
        going on, or an attempt's answer is unknown. The payment and the first attempt go in one unit of work, with
        the card's recent declines counted under its lock (the retry limits); each answer in one more."""
        attempts: list[Attempt] = []
        three_ds = stepped_up = decision.force_3ds
        queue = list(decision.connectors)
        recorded = False
        fp = payment.card.fingerprint if payment.card else None
        while True:
            while queue and not self.breakers.allow(queue[0]):
                queue.pop(0)
            now = self.clock.now()
            async with unit_of_work(self.db) as uow:
                store = uow.store(PaymentStore)
                if not recorded:
                    if not await store.insert(payment):
                        raise _Replay()
                    recorded = True
                declines: list[datetime] = []
                if fp is not None and queue and decision.blocked is None:
                    # counted afresh under the card's lock before every attempt, which is added under it too:
                    # deposits on one card take turns here, so together they never pass a network's limit
                    await store.lock_card(fp)
                    declines = await store.declines_of_card(fp, now - model.longest_retry_window(profile.scheme))
                stop = _stop_before(decision, queue, attempts, profile, declines, now)
                if stop is not None:
                    # read again: a webhook may have recorded a capture since the last answer
                    current = await store.get(payment.id, for_update=True) if attempts else payment
                    assert current is not None
                    payment = current
                    if not payment.status.final:
                        payment = replace(payment, status=Status.FAILED, decline_code=stop, updated_at=now)
                        await store.save(payment)
                        await self._announce(uow, payment)
                        PAYMENTS.labels(DEPOSIT, "failed").inc()
                    attempt = None
                else:
                    attempt = Attempt(
                        reference=new_id(),
                        payment_id=payment.id,
                        seq=len(attempts) + 1,
                        connector=queue[0],
                        operation="charge",
                        started_at=now,
                        three_ds=three_ds,
                        card_fingerprint=fp,
                    )
                    await store.add_attempt(attempt)
            if attempt is None:
                return PaymentView(payment, tuple(attempts))
            name = attempt.connector
            connector = self.connectors[name]
            result = await self._call(
                name,
                "charge",
                connector.charge(
                    ChargeRequest(
                        reference=str(attempt.reference),
                        amount=payment.amount,
                        currency=payment.currency,
                        card=card,
                        profile=profile,
                        three_ds=three_ds,
                        attempt_number=attempt.seq,
                    )
                ),
            )
            if result.outcome is Outcome.TIMEOUT:
                # unknown: ask before anything else, never retry blind
                result = await self._ask(name, Kind.CHARGE, attempt.reference, result)
            if result.outcome is not Outcome.REQUIRES_ACTION:
                self.stats.record(name, decision.segment, result.outcome is Outcome.APPROVED)
            ATTEMPTS.labels(
                name, "charge", result.outcome.value, profile.country or "unknown", profile.card_type or "unknown"
            ).inc()
            decline = (
                model.classify(result.decline_code, result.advice_code) if result.outcome is Outcome.DECLINED else None
            )
            step = model.next_step(result.outcome, decline, stepped_up=stepped_up)
            payment, attempt = await self._record_charge(payment.id, attempt, result, step)
            attempts.append(attempt)
            if step is Step.STEP_UP:
                three_ds = stepped_up = True
                continue  # the same connector again, with 3-D Secure
            if step is Step.CASCADE:
                queue.pop(0)
                continue
            return PaymentView(payment, tuple(attempts))  # done, challenged, stopped, or unknown

    async def _ask(self, name: str, kind: Kind, reference: UUID, timed_out: PspResult) -> PspResult:
        """A status query after a timeout: what the PSP says, or still `timed_out` when it cannot tell yet (no
        answer, or "not found" from a PSP whose search lags behind what it took)."""
        connector = self.connectors[name]
        asked = await self._call(name, "status", connector.status(kind, str(reference)))
        if asked.outcome in (Outcome.TIMEOUT, Outcome.ERROR):
            return timed_out
        if asked.outcome is Outcome.NOT_FOUND and not connector.capabilities.consistent_status:
            return timed_out
        return asked

    async def _call(self, name: str, operation: str, call: Awaitable[PspResult]) -> PspResult:
        """One connector call, bounded in time, its failures counted by the connector's circuit breaker. A
        connector that raises is a connector error: nothing is known to have moved."""
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(call, self._timeout)
        except TimeoutError:
            result = PspResult(Outcome.TIMEOUT, message="no answer in time")
        except Exception as exc:
            log.warning("payments.connector_failed", connector=name, operation=operation, error=type(exc).__name__)
            result = PspResult(Outcome.ERROR, message=type(exc).__name__)
        CALL_SECONDS.labels(name, operation).observe(time.perf_counter() - started)
        self.breakers.record(name, result.outcome not in (Outcome.ERROR, Outcome.TIMEOUT))
        return result

    async def _record_charge(
        self, payment_id: UUID, attempt: Attempt, result: PspResult, step: Step
    ) -> tuple[Payment, Attempt]:
        """Record a charge attempt's answer and what it causes, in one unit of work with the payment locked."""
        async with unit_of_work(self.db) as uow:
            return await self._record_charge_in(uow, payment_id, attempt, result, step)

    async def _record_charge_in(
        self, uow: UnitOfWork, payment_id: UUID, attempt: Attempt, result: PspResult, step: Step
    ) -> tuple[Payment, Attempt]:
        now = self.clock.now()
        store = uow.store(PaymentStore)
        payment = await store.get(payment_id, for_update=True)  # first: the request and a webhook take turns
        assert payment is not None
        stored = await store.attempt(attempt.reference)
        if stored is not None and not _answer_changes(stored.outcome, result.outcome):
            return payment, stored  # recorded before (a webhook first, or a duplicate): nothing to write
        attempt = replace(
            attempt,
            outcome=result.outcome,
            decline_code=result.decline_code,
            advice_code=result.advice_code,
            psp_reference=result.psp_reference,
            finished_at=now,
        )
        await store.save_attempt(attempt)
        if step is Step.DONE:
            payment = await self._captured(uow, payment, attempt)
        elif step is Step.CHALLENGE and not payment.status.final:
            url = result.next_action.url if result.next_action else None
            payment = replace(
                payment,
                status=Status.REQUIRES_ACTION,
                connector=attempt.connector,
                psp_reference=result.psp_reference,
                three_ds=True,
                next_action_url=url,
                updated_at=now,
            )
            await store.save(payment)
            await self._announce(uow, payment)
        elif step is Step.STOP and not payment.status.final:
            payment = replace(
                payment,
                status=Status.FAILED,
                connector=attempt.connector,
                decline_code=result.decline_code,
                updated_at=now,
            )
            await store.save(payment)
            await self._announce(uow, payment)
            PAYMENTS.labels(str(payment.direction), "failed").inc()
        return payment, attempt

    async def _captured(self, uow: UnitOfWork, payment: Payment, attempt: Attempt) -> Payment:
        """A charge was captured: credit the player's cash from the connector's clearing, once."""
        store = uow.store(PaymentStore)
        if payment.status is Status.SUCCEEDED:
            if payment.psp_reference != attempt.psp_reference and payment.connector is not None:
                self._refund_double_capture(payment, attempt)
            return payment
        moves = Movements()
        moves.credit_cash(
            derived_id("deposit", payment.id),
            payment.player_id,
            payment.currency,
            payment.amount,
            DEPOSIT,
            f"payment:{payment.id}",
            Counterpart.PSP_CLEARING,
            sub=attempt.connector,
        )
        (result,) = await self.ledger.apply(uow, moves)
        if result not in (Result.OK, Result.EXISTS):
            raise RuntimeError(f"the ledger refused a captured deposit's credit: {result.value}")
        payment = replace(
            payment,
            status=Status.SUCCEEDED,
            connector=attempt.connector,
            psp_reference=attempt.psp_reference,
            decline_code=None,
            next_action_url=None,
            updated_at=self.clock.now(),
        )
        await store.save(payment)
        await self._announce(uow, payment)
        PAYMENTS.labels(DEPOSIT, "succeeded").inc()
        return payment

    def _refund_double_capture(self, payment: Payment, attempt: Attempt) -> None:
        """A second capture of a payment already credited (a late answer to an attempt thought not to have moved
        money): the wallet is credited once, and the extra capture goes back to the card."""
        DOUBLE_CAPTURES.inc()
        log.warning("payments.double_capture", payment_id=str(payment.id), connector=attempt.connector)
        connector = self.connectors.get(attempt.connector)
        if connector is None or attempt.psp_reference is None:
            return
        request = RefundRequest(
            str(derived_id("double_capture", attempt.reference)),
            attempt.psp_reference,
            payment.amount,
            payment.currency,
        )
        self._spawn(self._call(attempt.connector, "refund", connector.refund(request)))

    def _spawn(self, call: Awaitable[Any]) -> None:
        async def run() -> None:
            await call

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def authenticate(self, player_id: UUID, payment_id: UUID, passed: bool) -> PaymentView:
        """The player's answer to a 3-D Secure challenge: the connector completes the charge. The card's number
        is not kept, so a decline after the challenge ends the payment: the player tries again."""
        view = await self.view(payment_id, player_id=player_id)
        payment = view.payment
        if payment.status is not Status.REQUIRES_ACTION:
            raise NoActionRequired()
        attempt = next((a for a in reversed(view.attempts) if a.outcome is Outcome.REQUIRES_ACTION), None)
        if attempt is None or attempt.psp_reference is None:
            raise NoActionRequired()
        connector = self.connectors[attempt.connector]
        result = await self._call(
            attempt.connector,
            "authenticate",
            connector.complete_action(str(attempt.reference), attempt.psp_reference, passed),
        )
        profile = _profile_of(payment)
        if result.outcome in (Outcome.APPROVED, Outcome.DECLINED):
            fp = payment.card.fingerprint if payment.card else ""
            self.stats.record(
                attempt.connector,
                segment_of(self._route_request(payment, profile, fp)),
                result.outcome is Outcome.APPROVED,
            )
        ATTEMPTS.labels(
            attempt.connector,
            "charge",
            result.outcome.value,
            profile.country or "unknown",
            profile.card_type or "unknown",
        ).inc()
        if result.outcome is Outcome.APPROVED:
            step = Step.DONE
        elif result.outcome in (Outcome.TIMEOUT, Outcome.ERROR):
            return view  # still waiting: the player may answer again, or the resolver asks the PSP
        else:
            step = Step.STOP
        await self._record_charge(payment.id, attempt, result, step)
        return await self.view(payment.id)

    # ---- withdrawals ----

    async def withdraw(
        self, player_id: UUID, currency: str, amount: int, currency_asked: str, card_in: CardIn, key: str, hash_: str
    ) -> PaymentView:
        """Pay the player's cash out to a card: reserved at once, posted when the PSP pays, voided if it fails."""
        found = await self._replay(player_id, Direction.WITHDRAWAL, key, hash_)
        if found is not None:
            return found
        now = self.clock.now()
        card, profile, fp = self._checked(card_in, amount, currency, currency_asked, now)
        _country, kyc = await self._profile_of_player(player_id)
        if kyc is not Kyc.VERIFIED:
            raise KycRequired()
        payment = _asked(Direction.WITHDRAWAL, player_id, amount, currency, profile, fp, key, hash_, now)
        decision = self._decide(self._route_request(payment, profile, fp), payouts=True)
        if decision.blocked is not None:
            raise CardBlocked()
        if not decision.connectors:
            raise NoConnector()
        name = decision.connectors[0]
        payment = replace(payment, connector=name)
        attempt = Attempt(new_id(), payment.id, 1, name, "payout", now, card_fingerprint=fp)
        async with unit_of_work(self.db) as uow:
            store = uow.store(PaymentStore)
            if not await store.insert(payment):
                raise _Replay()
            moves = Movements()
            moves.hold_cash(
                _hold_id(payment),
                player_id,
                currency,
                amount,
                WITHDRAWAL,
                f"payment:{payment.id}",
                Counterpart.PSP_CLEARING,
                sub=name,
            )
            (result,) = await self.ledger.apply(uow, moves)
            if result is Result.INSUFFICIENT_FUNDS:
                raise InsufficientFunds("your cash balance does not cover the withdrawal")
            if result is not Result.OK:
                raise Conflict(f"the ledger refused the withdrawal: {result.value}")
            await store.add_attempt(attempt)
        result_ = await self._call(
            name,
            "payout",
            self.connectors[name].payout(PayoutRequest(str(attempt.reference), amount, currency, card, profile)),
        )
        if result_.outcome is Outcome.TIMEOUT:
            result_ = await self._ask(name, Kind.PAYOUT, attempt.reference, result_)
        ATTEMPTS.labels(
            name, "payout", result_.outcome.value, profile.country or "unknown", profile.card_type or "unknown"
        ).inc()
        await self._record_hold_answer(payment.id, attempt, result_)
        return await self.view(payment.id)

    async def _record_hold_answer(self, payment_id: UUID, attempt: Attempt, result: PspResult) -> Payment:
        """Record a payout's or refund's answer: approved posts its hold, declined or failed voids it, pending or
        unknown leaves it reserved until a webhook or the resolver says."""
        async with unit_of_work(self.db) as uow:
            return await self._record_hold_answer_in(uow, payment_id, attempt, result)

    async def _record_hold_answer_in(
        self, uow: UnitOfWork, payment_id: UUID, attempt: Attempt, result: PspResult
    ) -> Payment:
        now = self.clock.now()
        store = uow.store(PaymentStore)
        payment = await store.get(payment_id, for_update=True)
        assert payment is not None
        stored = await store.attempt(attempt.reference)
        if stored is not None and stored.outcome not in (*UNKNOWN_OUTCOMES, Outcome.PENDING):
            return payment
        outcome = result.outcome
        await store.save_attempt(
            replace(
                stored or attempt,
                outcome=outcome,
                decline_code=result.decline_code,
                psp_reference=result.psp_reference or (stored.psp_reference if stored else None),
                finished_at=now if outcome not in (Outcome.PENDING, Outcome.TIMEOUT) else None,
            )
        )
        if payment.status.final:
            return payment
        if outcome is Outcome.APPROVED:
            payment = await self._close_hold(uow, payment, posted=True, code=None, psp_reference=result.psp_reference)
        elif outcome in (Outcome.DECLINED, Outcome.ERROR, Outcome.NOT_FOUND):
            code = result.decline_code or ("connector_error" if outcome is Outcome.ERROR else "not_sent")
            payment = await self._close_hold(uow, payment, posted=False, code=code, psp_reference=None)
        elif result.psp_reference and payment.psp_reference is None:
            payment = replace(payment, psp_reference=result.psp_reference, updated_at=now)
            await store.save(payment)
        return payment

    async def _close_hold(
        self, uow: UnitOfWork, payment: Payment, *, posted: bool, code: str | None, psp_reference: str | None
    ) -> Payment:
        moves = Movements()
        hold = _hold_id(payment)
        if posted:
            moves.post_hold(derived_id(payment.direction, "post", payment.id), hold, payment.amount)
        else:
            moves.void_hold(derived_id(payment.direction, "void", payment.id), hold)
        (result,) = await self.ledger.apply(uow, moves)
        if result not in (Result.OK, Result.EXISTS):
            raise RuntimeError(f"the ledger refused to close a {payment.direction}'s hold: {result.value}")
        if not posted and payment.direction is Direction.REFUND and payment.parent_id is not None:
            await uow.store(PaymentStore).add_refunded(payment.parent_id, -payment.amount, self.clock.now())
        payment = replace(
            payment,
            status=Status.SUCCEEDED if posted else Status.FAILED,
            decline_code=code,
            psp_reference=psp_reference or payment.psp_reference,
            updated_at=self.clock.now(),
        )
        await uow.store(PaymentStore).save(payment)
        await self._announce(uow, payment)
        PAYMENTS.labels(str(payment.direction), payment.status.value).inc()
        return payment

    # ---- refunds and chargebacks ----

    async def refund(self, staff_id: UUID, deposit_id: UUID, amount: int | None, key: str, hash_: str) -> PaymentView:
        """Give (part of) a deposit back to its card: the player's cash is held, posted when the PSP refunds."""
        deposit = (await self.view(deposit_id)).payment
        found = await self._replay(deposit.player_id, Direction.REFUND, key, hash_)
        if found is not None:
            return found
        amount = deposit.amount - deposit.refunded if amount is None else amount
        check_amount(amount)
        if (
            deposit.direction is not Direction.DEPOSIT
            or deposit.status is not Status.SUCCEEDED
            or deposit.connector is None
        ):
            raise PaymentNotRefundable()
        if deposit.psp_reference is None:
            raise PaymentNotRefundable("the PSP's reference of this deposit is not known")
        now = self.clock.now()
        payment = Payment(
            id=new_id(),
            player_id=deposit.player_id,
            direction=Direction.REFUND,
            status=Status.PENDING,
            amount=amount,
            currency=deposit.currency,
            created_at=now,
            updated_at=now,
            parent_id=deposit.id,
            connector=deposit.connector,
            idempotency_key=key,
            request_hash=hash_,
            card=deposit.card,
        )
        attempt = Attempt(new_id(), payment.id, 1, deposit.connector, "refund", now)
        async with unit_of_work(self.db) as uow:
            store = uow.store(PaymentStore)
            if not await store.insert(payment):
                raise _Replay()
            if not await store.add_refunded(deposit.id, amount, now):
                raise PaymentNotRefundable(f"at most {deposit.amount - deposit.refunded} is left to refund")
            moves = Movements()
            moves.hold_cash(
                _hold_id(payment),
                payment.player_id,
                payment.currency,
                amount,
                REFUND,
                f"payment:{payment.id}",
                Counterpart.PSP_CLEARING,
                sub=deposit.connector,
            )
            (result,) = await self.ledger.apply(uow, moves)
            if result is Result.INSUFFICIENT_FUNDS:
                raise InsufficientFunds("the player's cash does not cover the refund")
            if result is not Result.OK:
                raise Conflict(f"the ledger refused the refund: {result.value}")
            await store.add_attempt(attempt)
        connector = self.connectors[deposit.connector]
        result_ = await self._call(
            deposit.connector,
            "refund",
            connector.refund(RefundRequest(str(attempt.reference), deposit.psp_reference, amount, deposit.currency)),
        )
        if result_.outcome is Outcome.TIMEOUT:
            result_ = await self._ask(deposit.connector, Kind.REFUND, attempt.reference, result_)
        await self._record_hold_answer(payment.id, attempt, result_)
        log.info("payments.refund", payment_id=str(payment.id), deposit_id=str(deposit.id), staff_id=str(staff_id))
        return await self.view(payment.id)

    async def _chargeback(self, uow: UnitOfWork, connector: str, event: WebhookEvent) -> str:
        """A cardholder's dispute won at the PSP: the amount comes back from the player's cash, what it does not
        cover is booked as owed."""
        store = uow.store(PaymentStore)
        reference = _uuid(event.reference)
        attempt = await store.attempt(reference) if reference is not None else None
        if attempt is None and event.psp_reference:  # a dispute may name the PSP's payment only
            attempt = await store.attempt_by_psp_reference(connector, event.psp_reference)
        deposit = await store.get(attempt.payment_id, for_update=True) if attempt else None
        if deposit is None or deposit.direction is not Direction.DEPOSIT or deposit.status is not Status.SUCCEEDED:
            return "unknown_reference"
        now = self.clock.now()
        chargeback = Payment(
            id=derived_id("chargeback", connector, event.id),
            player_id=deposit.player_id,
            direction=Direction.CHARGEBACK,
            status=Status.SUCCEEDED,
            amount=min(event.amount, deposit.amount),
            currency=deposit.currency,
            created_at=now,
            updated_at=now,
            parent_id=deposit.id,
            connector=connector,
            psp_reference=event.psp_reference,
            card=deposit.card,
        )
        if not await store.insert(chargeback):
            return "duplicate"
        moves = Movements()
        moves.take_back_cash(
            (derived_id("chargeback", "cash", chargeback.id), derived_id("chargeback", "owed", chargeback.id)),
            deposit.player_id,
            deposit.currency,
            chargeback.amount,
            CHARGEBACK,
            f"payment:{chargeback.id}",
            Counterpart.PSP_CLEARING,
            sub=connector,
        )
        (result,) = await self.ledger.apply(uow, moves)
        if result not in (Result.OK, Result.EXISTS):
            raise RuntimeError(f"the ledger refused a chargeback: {result.value}")
        await self._announce(uow, chargeback)
        PAYMENTS.labels(CHARGEBACK, "succeeded").inc()
        return "chargeback"

    # ---- webhooks ----

    async def webhook(self, connector_name: str, body: bytes, headers: Mapping[str, str]) -> str:
        """Take a PSP's webhook: verified, taken once whatever is resent, applied whatever order it comes in (a
        final state is never undone by a late message about an earlier one)."""
        connector = self.connectors.get(connector_name)
        if connector is None:
            raise ConnectorNotFound()
        try:
            event = connector.verify_webhook(body, {k.lower(): v for k, v in headers.items()})
        except UnhandledWebhook:
            WEBHOOKS.labels(connector_name, "ignored").inc()
            return "ignored"
        except InvalidWebhook as exc:
            WEBHOOKS.labels(connector_name, "invalid").inc()
            raise InvalidSignature(str(exc) or "the webhook's signature does not verify") from None
        outcome = await self._apply_webhook(connector_name, event)
        WEBHOOKS.labels(connector_name, outcome).inc()
        return outcome

    async def _apply_webhook(self, name: str, event: WebhookEvent) -> str:
        """Take the webhook and record what it causes in one unit of work: a webhook is applied once, or not at
        all and then again when the PSP resends it."""
        async with unit_of_work(self.db) as uow:
            store = uow.store(PaymentStore)
            if not await store.take_webhook(name, event.id, event.type.value, event.reference, self.clock.now()):
                return "duplicate"
            if event.type is WebhookType.CHARGEBACK:
                outcome = await self._chargeback(uow, name, event)
            else:
                reference = _uuid(event.reference)
                attempt = await store.attempt(reference) if reference else None
                if attempt is None:
                    outcome = "unknown_reference"
                elif event.type in (WebhookType.CHARGE_SUCCEEDED, WebhookType.CHARGE_FAILED):
                    outcome = await self._charge_webhook(uow, attempt, event)
                else:
                    outcome = await self._hold_webhook(uow, attempt, event)
            await store.webhook_result(name, event.id, outcome)
        return outcome

    async def _charge_webhook(self, uow: UnitOfWork, attempt: Attempt, event: WebhookEvent) -> str:
        if event.type is WebhookType.CHARGE_SUCCEEDED:
            if attempt.outcome is Outcome.APPROVED:
                return "recorded"  # the request recorded the capture already
            result = PspResult(Outcome.APPROVED, psp_reference=event.psp_reference)
            payment, _ = await self._record_charge_in(uow, attempt.payment_id, attempt, result, Step.DONE)
            return "captured" if payment.status is Status.SUCCEEDED else "ignored"
        if attempt.outcome is not Outcome.TIMEOUT:
            # recorded by its request already, or its request is still waiting for this answer and goes on from it
            # (the cascade's next connector, maybe): a decline that overtakes the answer must not end the payment.
            # A request whose node died is the resolver's: its status query says what the webhook says.
            return "ignored"
        result = PspResult(Outcome.DECLINED, psp_reference=event.psp_reference, decline_code=event.decline_code)
        # an attempt given up as unknown: the payment stops here (the request has returned; nothing retries it)
        await self._record_charge_in(uow, attempt.payment_id, attempt, result, Step.STOP)
        return "declined"

    async def _hold_webhook(self, uow: UnitOfWork, attempt: Attempt, event: WebhookEvent) -> str:
        approved = event.type in (WebhookType.PAYOUT_PAID, WebhookType.REFUND_SUCCEEDED)
        result = PspResult(
            Outcome.APPROVED if approved else Outcome.DECLINED,
            psp_reference=event.psp_reference,
            decline_code=event.decline_code or (None if approved else "psp_failed"),
        )
        payment = await self._record_hold_answer_in(uow, attempt.payment_id, attempt, result)
        return payment.status.value

    # ---- the resolver: answers nobody recorded ----

    async def resolve_unknown(self, *, older_than_s: float = 30.0, limit: int = 100) -> int:
        """Ask the PSPs about attempts sent more than `older_than_s` ago whose answer is unknown (timed out, or
        the node died before recording it), and record what they say. Returns how many were resolved."""
        before = self.clock.now() - timedelta(seconds=older_than_s)
        async with reading(self.db) as uow:
            open_ = await uow.store(PaymentStore).unresolved_attempts(before, limit)
        resolved = 0
        for attempt in open_:
            connector = self.connectors.get(attempt.connector)
            if connector is None:
                continue
            kind = Kind(attempt.operation)
            result = await self._call(attempt.connector, "status", connector.status(kind, str(attempt.reference)))
            if result.outcome in (Outcome.TIMEOUT, Outcome.ERROR):
                continue
            lagging = not connector.capabilities.consistent_status
            if result.outcome is Outcome.NOT_FOUND and lagging and attempt.started_at > self.clock.now() - _SEARCH_LAG:
                continue  # its search may not show it yet
            if kind is Kind.CHARGE:
                step = Step.DONE if result.outcome is Outcome.APPROVED else Step.STOP
                if result.outcome is Outcome.NOT_FOUND:
                    result = PspResult(Outcome.NOT_FOUND, decline_code="not_sent")
                await self._record_charge(attempt.payment_id, attempt, result, step)
            elif result.outcome is not Outcome.PENDING:
                await self._record_hold_answer(attempt.payment_id, attempt, result)
            resolved += 1
        return resolved

    def start_resolver(self, *, every_s: float, older_than_s: float) -> None:
        """Resolve unknown attempts every `every_s` seconds until `stop` (the worker role)."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await self.resolve_unknown(older_than_s=older_than_s)
                except Exception:  # the next round tries again; a failure must not end the loop
                    log.exception("payments.resolver_failed")

        task = asyncio.get_running_loop().create_task(loop())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- reconciliation ----

    async def reconcile(
        self, text: str, *, since: datetime | None = None, until: datetime | None = None, book_fees: bool = True
    ) -> reconciliation.Reconciliation:
        """Match a PSP's settlement report against what we recorded, and book its fees through the ledger once
        (a report imported again books nothing twice). Our side is what the report's connectors settled between
        `since` and `until` (by default the report's own span, from a day before its first row), and whatever
        the report names besides."""
        report = reconciliation.parse_report(text)
        connectors = sorted({r.connector for r in report.rows})
        times = [r.settled_at for r in report.rows]
        since = since or (min(times) - timedelta(days=1) if times else self.clock.now())
        until = until or (max(times) if times else self.clock.now())
        async with reading(self.db) as uow:
            store = uow.store(PaymentStore)
            found = {a.reference: (p, a) for p, a in await store.attempts_settled(connectors, since, until)}
            named = [u for r in report.rows if (u := _uuid(r.reference)) is not None and u not in found]
            found.update((a.reference, (p, a)) for p, a in await store.attempts_by_references(named))
            booked = [_booked(p, a) for p, a in found.values()]
            owners = {str(a.reference): p for p, a in found.values()}
            for chargeback in await store.chargebacks_between(connectors, since, until):
                charge = await store.approved_attempt(chargeback.parent_id) if chargeback.parent_id else None
                if charge is not None:
                    booked.append(
                        reconciliation.Booked(
                            reconciliation.SettlementType.CHARGEBACK,
                            str(charge.reference),
                            chargeback.connector or charge.connector,
                            chargeback.amount,
                            chargeback.currency,
                            chargeback.status.value,
                        )
                    )
                    owners.setdefault(str(charge.reference), chargeback)
        result = reconciliation.reconcile(report, booked)
        if book_fees and result.fees:
            already = await self._book_fees(result.fees, owners)
            result = replace(result, fees_already_booked=result.fees_already_booked + already)
        return result

    async def _book_fees(self, fees: Sequence[reconciliation.Fee], owners: Mapping[str, Payment]) -> int:
        """Book each fee on its payment's player's shard (PSP fees <- the connector's clearing), 500 to a unit of
        work; the transfer id is derived from the fee's key, so a fee is booked once whatever is imported again.
        Returns how many were booked before."""
        already = 0
        for at in range(0, len(fees), 500):
            moves = Movements()
            async with unit_of_work(self.db) as uow:
                for fee in fees[at : at + 500]:
                    owner = owners[fee.reference]
                    moves.book_fee(
                        derived_id("psp_fee", fee.key),
                        owner.player_id,
                        fee.currency,
                        fee.amount,
                        fee.connector,
                        fee.key,
                    )
                results = await self.ledger.apply(uow, moves)
            already += sum(1 for r in results if r is Result.EXISTS)
            refused = [r for r in results if r not in (Result.OK, Result.EXISTS)]
            if refused:
                raise Conflict(f"the ledger refused {len(refused)} fees: {refused[0].value}")
        return already

    # ---- reads ----

    async def view(self, payment_id: UUID, *, player_id: UUID | None = None) -> PaymentView:
        """A payment with its attempts; `payment_not_found` if it is not the player's (when one is given)."""
        async with reading(self.db) as uow:
            store = uow.store(PaymentStore)
            payment = await store.get(payment_id)
            if payment is None or (player_id is not None and payment.player_id != player_id):
                raise PaymentNotFound()
            attempts = (await store.attempts_of([payment_id]))[payment_id]
        return PaymentView(payment, tuple(attempts))

    async def of_player(self, player_id: UUID, limit: int = 50) -> list[PaymentView]:
        async with reading(self.db) as uow:
            store = uow.store(PaymentStore)
            found = await store.of_player(player_id, limit)
            attempts = await store.attempts_of([p.id for p in found])
        return [PaymentView(p, tuple(attempts[p.id])) for p in found]

    async def rates(self, group: str, since: datetime) -> list[RateRow]:
        async with reading(self.db) as uow:
            return await uow.store(PaymentStore).rates(group, since)

    # ---- staff: connectors and the block list ----

    async def connectors_view(self, since: datetime) -> list[ConnectorView]:
        rates = {r.key: r for r in await self.rates("connector", since)}
        out = []
        for name, connector in sorted(self.connectors.items()):
            rate = rates.get(name)
            out.append(
                ConnectorView(
                    name,
                    self._enabled.get(name, True),
                    self.breakers.state(name),
                    connector.simulation,
                    rate.attempts if rate else 0,
                    rate.approved if rate else 0,
                )
            )
        return out

    async def switch(
        self,
        staff_id: UUID,
        name: str,
        *,
        enabled: bool | None,
        outage: bool | None,
        approval_rate: float | None,
        latency_ms: float | None,
        simulation_sent: bool,
        clear: frozenset[str] = frozenset(),
    ) -> ConnectorView:
        """Switch a connector on or off, or set a simulated one's switches; every node follows."""
        connector = self.connectors.get(name)
        if connector is None:
            raise ConnectorNotFound()
        current = connector.simulation
        if simulation_sent and current is None:
            raise NotSimulated()
        sim = current or Simulation()
        switches = ConnectorSwitches(
            name,
            self._enabled.get(name, True) if enabled is None else enabled,
            sim.outage if outage is None else outage,
            None if "approval_rate" in clear else (sim.approval_rate if approval_rate is None else approval_rate),
            None if "latency_ms" in clear else (sim.latency_ms if latency_ms is None else latency_ms),
        )
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            await uow.store(PaymentStore).save_switches(switches, staff_id, now)
            await uow.outbox.add(
                [
                    ConnectorChangedV1(
                        name,
                        switches.enabled,
                        switches.outage,
                        switches.approval_rate,
                        switches.latency_ms,
                        staff_id,
                        now,
                    )
                ]
            )
        self._apply_switches(switches)
        log.info("payments.connector_switched", connector=name, staff_id=str(staff_id), enabled=switches.enabled)
        return next(v for v in await self.connectors_view(now - timedelta(hours=24)) if v.name == name)

    def _apply_switches(self, s: ConnectorSwitches) -> None:
        connector = self.connectors.get(s.name)
        if connector is None:
            return
        self._enabled[s.name] = s.enabled
        if connector.simulation is not None:
            connector.simulate(Simulation(s.outage, s.approval_rate, s.latency_ms))

    async def _on_connector_changed(self, event: Event) -> None:
        if event.version == 1:
            await self.reload()

    async def blocks(self) -> list[Block]:
        async with reading(self.db) as uow:
            return await uow.store(PaymentStore).blocks()

    async def block(self, staff_id: UUID, kind: str, value: str, reason: str) -> Block:
        """Block a card (by its fingerprint) or a BIN (6 or 8 digits) from deposits and withdrawals."""
        if kind == "bin" and not (value.isdigit() and value.isascii() and len(value) in (6, 8)):
            raise InvalidRequest("a BIN is 6 or 8 digits")
        if kind == "fingerprint" and not (len(value) == 32 and all(c in "0123456789abcdef" for c in value)):
            raise InvalidRequest("a card fingerprint is 32 hexadecimal digits")
        now = self.clock.now()
        async with unit_of_work(self.db) as uow:
            store = uow.store(PaymentStore)
            await store.add_block(kind, value, reason, staff_id, now)
            blocks = await store.blocks()
        self._blocks = _block_list(blocks)
        return next(b for b in blocks if (b.kind, b.value) == (kind, value))

    async def unblock(self, kind: str, value: str) -> None:
        async with unit_of_work(self.db) as uow:
            store = uow.store(PaymentStore)
            if not await store.remove_block(kind, value):
                raise NotFound("no such block")
            blocks = await store.blocks()
        self._blocks = _block_list(blocks)

    async def _announce(self, uow: UnitOfWork, payment: Payment) -> None:
        await uow.outbox.add(
            [
                PaymentChangedV1(
                    payment.id,
                    payment.player_id,
                    str(payment.direction),
                    payment.status.value,
                    payment.amount,
                    payment.currency,
                    payment.connector,
                    payment.decline_code,
                    self.clock.now(),
                )
            ]
        )


class CardBlocked(Forbidden):
    """This card cannot be used here."""

    code = "card_blocked"


class _Replay(IdempotencyKeyReused):
    """A concurrent request with the same Idempotency-Key got there first: retry to read its answer."""


_SETTLEMENT_TYPE = {
    "charge": reconciliation.SettlementType.CHARGE,
    "refund": reconciliation.SettlementType.REFUND,
    "payout": reconciliation.SettlementType.PAYOUT,
}


def _booked(payment: Payment, attempt: Attempt) -> reconciliation.Booked:
    """What we recorded of one attempt, as reconciliation compares it: settled when the attempt was approved and
    its payment succeeded (a capture of a payment another attempt had captured was given back)."""
    settled = attempt.outcome is Outcome.APPROVED and payment.status is Status.SUCCEEDED
    if settled and payment.direction is Direction.DEPOSIT and payment.psp_reference != attempt.psp_reference:
        settled = False
    return reconciliation.Booked(
        _SETTLEMENT_TYPE[attempt.operation],
        str(attempt.reference),
        attempt.connector,
        payment.amount,
        payment.currency,
        Status.SUCCEEDED.value if settled else (attempt.outcome.value if attempt.outcome else "unknown"),
    )


def _stop_before(
    decision: Decision,
    queue: Sequence[str],
    attempts: Sequence[Attempt],
    profile: CardProfile,
    declines: Sequence[datetime],
    now: datetime,
) -> str | None:
    """Why a deposit fails before its next attempt, or None to make it: a blocked card, no connector left, or the
    networks' retry limit on the card reached."""
    if decision.blocked is not None:
        return "card_blocked"
    if not queue:
        last = attempts[-1] if attempts else None
        if last is None:
            return "no_connector_available"
        return last.decline_code or ("connector_error" if last.outcome is Outcome.ERROR else "not_sent")
    if not model.retry_allowed(profile.scheme, declines, now):
        return "retry_limit_reached"
    return None


def _answer_changes(recorded: Outcome | None, new: Outcome) -> bool:
    """Whether a charge attempt's new answer replaces the one recorded: an unknown or a challenge is replaced
    by anything, and a capture the PSP reports later replaces "nothing moved" (the PSP's truth wins: money
    moved). A final answer is never replaced by another."""
    if recorded in UNKNOWN_OUTCOMES or recorded is Outcome.REQUIRES_ACTION:
        return True
    return new is Outcome.APPROVED and recorded in (Outcome.NOT_FOUND, Outcome.ERROR)


def _hold_id(payment: Payment) -> UUID:
    return derived_id(payment.direction, "hold", payment.id)


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


def _asked(
    direction: Direction,
    player_id: UUID,
    amount: int,
    currency: str,
    profile: CardProfile,
    fp: str,
    key: str,
    hash_: str,
    now: datetime,
) -> Payment:
    """A player's new deposit or withdrawal, pending, under its Idempotency-Key."""
    return Payment(
        id=new_id(),
        player_id=player_id,
        direction=direction,
        status=Status.PENDING,
        amount=amount,
        currency=currency,
        created_at=now,
        updated_at=now,
        idempotency_key=key,
        request_hash=hash_,
        card=_card_row(profile, fp),
    )


def _card_row(profile: CardProfile, fp: str) -> Card:
    return Card(fp, profile.bin, profile.last4, profile.scheme, profile.card_type, profile.prepaid, profile.country)


def _profile_of(payment: Payment) -> CardProfile:
    card = payment.card
    if card is None:
        return CardProfile("", "", "other", None, False, None)
    return CardProfile(card.bin, card.last4, card.scheme, card.card_type, card.prepaid, card.country)


def _block_list(blocks: Sequence[Block]) -> BlockList:
    return BlockList(
        fingerprints=frozenset(b.value for b in blocks if b.kind == "fingerprint"),
        bins6=frozenset(b.value for b in blocks if b.kind == "bin" and len(b.value) == 6),
        bins8=frozenset(b.value for b in blocks if b.kind == "bin" and len(b.value) == 8),
    )

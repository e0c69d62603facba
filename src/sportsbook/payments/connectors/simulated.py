"""Simulated PSPs: in-memory acquirers with a realistic approval model, latency, timeouts, outages, 3-D Secure,
ISO 8583 decline codes and signed webhooks delivered with chaos (late, twice, out of order).

Every decision is a function of (profile seed, our reference, what is asked): the uniform draws come from a hash,
not from a shared random stream, so a drill replays exactly and concurrency never changes an outcome.

The test cards of API.md behave as written on every profile (any expiry, any CVC); every other card follows the
profile's approval model. Decline codes are the networks' two-digit codes, plus two words of our own:
`authentication_required` (an SCA soft decline: retry with 3-D Secure) and `authentication_failed` (the
cardholder failed the challenge). Payouts answer `PENDING`; their result comes by webhook (and `status`). A test
card whose charges decline has its payouts fail with the same code (the card is the problem); 4000 0000 0000 0119
and 3220 pay out.

Webhooks are JSON `{id, type, created, data: {reference, psp_reference, amount, currency, decline_code}}`, signed
as Stripe signs its own: header `Sim-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib.resources import files
from math import exp
from statistics import NormalDist

import structlog

from sportsbook.core.clock import Clock, SystemClock
from sportsbook.payments.connectors.base import (
    CardProfile,
    ChargeRequest,
    Connector,
    InvalidWebhook,
    Kind,
    NextAction,
    Outcome,
    PayoutRequest,
    RefundRequest,
    Result,
    Simulation,
    WebhookEvent,
    WebhookType,
)

log = structlog.get_logger(__name__)

Deliver = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
"""Sends one webhook: (connector name, body, headers)."""

SIGNATURE_HEADER = "Sim-Signature"
TOLERANCE_S = 300
AUTHENTICATION_REQUIRED = "authentication_required"  # SCA soft decline: the same card passes with 3-D Secure
AUTHENTICATION_FAILED = "authentication_failed"  # the cardholder failed (or abandoned) the challenge
HARD_DECLINES = frozenset({"04", "07", "14", "15", "41", "43", "54", "57", "59", "62"})  # never retried as is


def _load_eea() -> frozenset[str]:
    text = files("sportsbook.payments").joinpath("data/eea-countries.csv").read_text("utf-8")
    return frozenset(row["alpha2"] for row in csv.DictReader(io.StringIO(text)))


EEA: frozenset[str] = _load_eea()
"""The European Economic Area's states (ISO alpha-2), from `payments/data/eea-countries.csv`."""


class TestCard(StrEnum):
    """API.md's test cards."""

    __test__ = False  # not a pytest class

    APPROVED = "4242424242424242"
    STOLEN = "4100000000000019"
    EXPIRED = "4000000000000069"
    INSUFFICIENT_FUNDS = "4000000000009995"
    FIRST_ATTEMPT_MALFUNCTION = "4000000000000119"
    THREE_DS = "4000000000003220"


_TEST_CARD_DECLINES = {TestCard.STOLEN: "43", TestCard.EXPIRED: "54", TestCard.INSUFFICIENT_FUNDS: "51"}


@dataclass(frozen=True)
class SimProfile:
    """One simulated acquirer's behaviour. Factors multiply the base approval rate; amounts are minor units."""

    name: str
    base_approval: float
    # by the issuer's region: "eea" (the card was issued in the EEA), "other", "unknown" (no BIN data)
    region_factors: Mapping[str, float]
    # by the card: "debit", "credit", "prepaid" (wins over the type), "unknown"
    card_type_factors: Mapping[str, float]
    # ((up to this amount, factor), ...) ascending; above the last bound, `large_amount_factor`
    amount_tiers: tuple[tuple[int, float], ...]
    large_amount_factor: float
    median_latency_ms: float
    latency_sigma: float  # of the lognormal: 0.5 puts the 95th percentile at 2.3 times the median
    timeout_ms: float
    timeout_rate: float  # an attempt that gets no answer whatever its latency (a dropped connection)
    lost_on_timeout_rate: float  # of those, the share that never reached the PSP (a status query: NOT_FOUND)
    decline_codes: tuple[tuple[str, float], ...]  # (ISO 8583 code, weight)
    advice_rate: float  # the share of Mastercard hard declines that carry a merchant advice code
    challenge_rate: float  # the issuer asks for 3-D Secure though it was not requested
    sca_decline_rate: float  # an EEA card without 3-D Secure: soft decline `authentication_required`
    payout_failure_rate: float
    payout_decline_codes: tuple[tuple[str, float], ...]
    fee_bp: int  # per charge: basis points of the amount ...
    fee_fixed: int  # ... plus a fixed part, minor units
    seed: int = 0


def _mix(spec: str) -> tuple[tuple[str, float], ...]:
    """Weighted codes from "code:weight code:weight ..."."""
    return tuple((code, float(weight)) for code, _, weight in (item.partition(":") for item in spec.split()))


PROFILES: dict[str, SimProfile] = {
    p.name: p
    for p in (
        # An EU acquirer: strong on EEA-issued cards (domestic processing), weaker on the rest; fast.
        SimProfile(
            name="sim-europa",
            base_approval=0.93,
            region_factors={"eea": 1.0, "other": 0.82, "unknown": 0.88},
            card_type_factors={"debit": 1.0, "credit": 0.98, "prepaid": 0.78, "unknown": 0.95},
            amount_tiers=((10_000, 1.0), (50_000, 0.96), (200_000, 0.9)),
            large_amount_factor=0.8,
            median_latency_ms=120,
            latency_sigma=0.35,
            timeout_ms=3_000,
            timeout_rate=0.002,
            lost_on_timeout_rate=0.3,
            decline_codes=_mix("05:30 51:26 61:5 65:5 91:4 96:3 62:4 57:5 14:3 54:4 43:1 41:1"),
            advice_rate=0.5,
            challenge_rate=0.05,
            sca_decline_rate=0.03,
            payout_failure_rate=0.01,
            payout_decline_codes=_mix("57:5 14:2 54:2 62:1"),
            fee_bp=120,
            fee_fixed=10,
            seed=1,
        ),
        # A global acquirer: the same approval wherever the card comes from, slower, times out now and then.
        SimProfile(
            name="sim-atlas",
            base_approval=0.88,
            region_factors={"eea": 1.0, "other": 1.0, "unknown": 1.0},
            card_type_factors={"debit": 1.0, "credit": 1.0, "prepaid": 0.9, "unknown": 1.0},
            amount_tiers=((10_000, 1.0), (50_000, 0.97), (200_000, 0.92)),
            large_amount_factor=0.85,
            median_latency_ms=250,
            latency_sigma=0.5,
            timeout_ms=2_500,
            timeout_rate=0.01,
            lost_on_timeout_rate=0.3,
            decline_codes=_mix("05:35 51:20 91:8 96:6 57:6 62:5 14:4 54:4 61:5 65:4 59:3"),
            advice_rate=0.5,
            challenge_rate=0.03,
            sca_decline_rate=0.02,
            payout_failure_rate=0.02,
            payout_decline_codes=_mix("57:4 14:2 54:2 91:2"),
            fee_bp=180,
            fee_fixed=20,
            seed=2,
        ),
        # A high-risk acquirer: takes prepaid and gambling traffic others refuse, approves less of everything,
        # challenges often, slow.
        SimProfile(
            name="sim-harbour",
            base_approval=0.76,
            region_factors={"eea": 0.97, "other": 0.95, "unknown": 0.95},
            card_type_factors={"debit": 1.0, "credit": 0.97, "prepaid": 0.93, "unknown": 0.97},
            amount_tiers=((10_000, 1.0), (50_000, 0.93), (200_000, 0.85)),
            large_amount_factor=0.7,
            median_latency_ms=400,
            latency_sigma=0.6,
            timeout_ms=4_000,
            timeout_rate=0.02,
            lost_on_timeout_rate=0.3,
            decline_codes=_mix("05:30 51:25 57:12 62:10 61:6 91:5 96:4 14:3 54:3 65:2"),
            advice_rate=0.6,
            challenge_rate=0.35,
            sca_decline_rate=0.01,
            payout_failure_rate=0.04,
            payout_decline_codes=_mix("57:5 62:3 14:1 54:1"),
            fee_bp=350,
            fee_fixed=25,
            seed=3,
        ),
    )
}


# --- The decision model: pure -------------------------------------------------------------------------------------


def draw(seed: int, reference: str, purpose: str) -> float:
    """A uniform draw in (0, 1), a pure function of its arguments."""
    digest = hashlib.blake2b(f"{seed}\x1f{reference}\x1f{purpose}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest) + 0.5) / 2**64


def _weighted(choices: tuple[tuple[str, float], ...], u: float) -> str:
    total = sum(weight for _, weight in choices)
    point = u * total
    for code, weight in choices:
        point -= weight
        if point < 0:
            return code
    return choices[-1][0]


def card_region(card: CardProfile) -> str:
    if card.country is None:
        return "unknown"
    return "eea" if card.country.upper() in EEA else "other"


def approval_probability(profile: SimProfile, card: CardProfile, amount: int, base: float | None = None) -> float:
    """The chance the profile's issuers approve this card for this amount."""
    kind = "prepaid" if card.prepaid else (card.card_type or "unknown")
    amount_factor = profile.large_amount_factor
    for bound, factor in profile.amount_tiers:
        if amount <= bound:
            amount_factor = factor
            break
    p = (
        (profile.base_approval if base is None else base)
        * profile.region_factors.get(card_region(card), 1.0)
        * profile.card_type_factors.get(kind, profile.card_type_factors.get("unknown", 1.0))
        * amount_factor
    )
    return min(1.0, max(0.0, p))


@dataclass(frozen=True, slots=True)
class Authorisation:
    """An issuer's answer: approved, or declined with a code (and maybe Mastercard's merchant advice code)."""

    approved: bool
    decline_code: str | None = None
    advice_code: str | None = None


@dataclass(frozen=True, slots=True)
class ChargeDecision:
    """Whether the issuer challenges first, and its answer (given now, or once the challenge is passed)."""

    challenge: bool
    authorisation: Authorisation


def _declined(profile: SimProfile, card: CardProfile, reference: str, code: str) -> Authorisation:
    advice = None
    if (
        card.scheme == "mastercard"
        and code in HARD_DECLINES
        and draw(profile.seed, reference, "advice") < (profile.advice_rate)
    ):
        advice = "03" if draw(profile.seed, reference, "advice-code") < 0.7 else "21"
    return Authorisation(False, code, advice)


def decide_charge(
    profile: SimProfile,
    *,
    reference: str,
    number: str,
    card: CardProfile,
    amount: int,
    three_ds: bool,
    attempt_number: int,
    approval_rate: float | None = None,
) -> ChargeDecision:
    """What the profile's issuers answer to a charge: the test cards as API.md says, else the approval model."""
    digits = number.replace(" ", "")
    seed = profile.seed
    if digits in _TEST_CARD_DECLINES:
        return ChargeDecision(three_ds, Authorisation(False, _TEST_CARD_DECLINES[TestCard(digits)]))
    if digits == TestCard.FIRST_ATTEMPT_MALFUNCTION:
        return ChargeDecision(three_ds, Authorisation(False, "96") if attempt_number == 1 else Authorisation(True))
    if digits in (TestCard.APPROVED, TestCard.THREE_DS):
        return ChargeDecision(three_ds or digits == TestCard.THREE_DS, Authorisation(True))
    challenge = three_ds or draw(seed, reference, "challenge") < profile.challenge_rate
    if not challenge and card_region(card) == "eea" and draw(seed, reference, "sca") < profile.sca_decline_rate:
        return ChargeDecision(False, Authorisation(False, AUTHENTICATION_REQUIRED))
    if draw(seed, reference, "approve") < approval_probability(profile, card, amount, approval_rate):
        return ChargeDecision(challenge, Authorisation(True))
    code = _weighted(profile.decline_codes, draw(seed, reference, "decline-code"))
    return ChargeDecision(challenge, _declined(profile, card, reference, code))


def decide_payout(profile: SimProfile, *, reference: str, number: str) -> Authorisation:
    """Whether a payout to this card is paid: a test card that declines charges fails payouts with its code."""
    digits = number.replace(" ", "")
    if digits in _TEST_CARD_DECLINES:
        return Authorisation(False, _TEST_CARD_DECLINES[TestCard(digits)])
    if digits in set(TestCard):
        return Authorisation(True)
    if draw(profile.seed, reference, "payout") < profile.payout_failure_rate:
        return Authorisation(False, _weighted(profile.payout_decline_codes, draw(profile.seed, reference, "po-code")))
    return Authorisation(True)


_NORMAL = NormalDist()


def sample_latency(profile: SimProfile, key: str, median_ms: float | None = None) -> float:
    """One call's latency in ms: lognormal around the median."""
    median = profile.median_latency_ms if median_ms is None else median_ms
    return median * exp(profile.latency_sigma * _NORMAL.inv_cdf(draw(profile.seed, key, "latency")))


def fee(profile: SimProfile, amount: int) -> int:
    """What the acquirer keeps of a charge, minor units (basis points rounded half up, plus the fixed part)."""
    return (amount * profile.fee_bp + 5_000) // 10_000 + profile.fee_fixed


# --- Webhook signatures -------------------------------------------------------------------------------------------


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The signature header's value for a body sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(body: bytes, header: str | None, secret: str, now: datetime, tolerance_s: int) -> None:
    """Raises InvalidWebhook unless one v1 signature matches and `t` is within the tolerance of `now`."""
    if not header:
        raise InvalidWebhook("no signature header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidWebhook("malformed signature header")
    expected = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    # every candidate is compared, in constant time, so timing tells nothing of which one was close
    matches = [hmac.compare_digest(expected, s) for s in signatures]
    if not any(matches):
        raise InvalidWebhook("signature does not match")
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise InvalidWebhook("signature timestamp outside the tolerance")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (the interface promises lower case; a test may not)."""
    lowered = name.lower()
    found = headers.get(lowered)
    if found is not None:
        return found
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def parse_event(body: bytes) -> WebhookEvent:
    """A simulated PSP's webhook body as a WebhookEvent, or InvalidWebhook."""
    try:
        payload = json.loads(body)
        data = payload["data"]
        return WebhookEvent(
            id=str(payload["id"]),
            type=WebhookType(payload["type"]),
            reference=str(data["reference"]),
            psp_reference=None if data.get("psp_reference") is None else str(data["psp_reference"]),
            amount=int(data["amount"]),
            currency=str(data["currency"]),
            occurred_at=datetime.fromtimestamp(int(payload["created"]), UTC),
            decline_code=None if data.get("decline_code") is None else str(data["decline_code"]),
        )
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        raise InvalidWebhook(f"unreadable webhook: {type(exc).__name__}") from exc


# --- Chaos in delivery --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookChaos:
    """How badly webhooks are delivered: each after a delay drawn from `delay_ms`, some twice, some held back by
    `reorder_window_ms` so that later ones overtake them. Seeded, like everything else."""

    delay_ms: tuple[float, float] = (0.0, 0.0)
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    reorder_window_ms: float = 0.0
    seed: int = 0
    max_attempts: int = 5  # deliveries that raise are retried, with doubling backoff, this many times in all
    retry_backoff_ms: float = 50.0


# --- The connector ------------------------------------------------------------------------------------------------


@dataclass
class _Operation:
    """What the PSP holds of one operation, by our reference (card data never kept: last four only)."""

    kind: Kind
    reference: str
    psp_reference: str
    amount: int
    currency: str
    first: Result  # what the first call answered had it come back in time: a replay answers it
    outcome: Outcome  # now
    decline_code: str | None = None
    advice_code: str | None = None
    next_action: NextAction | None = None
    pending: Authorisation | None = None  # a challenged charge's answer once the challenge is passed
    refunded: int = 0
    disputed: int = 0
    params: tuple[object, ...] = field(default=())

    def result(self) -> Result:
        return Result(
            outcome=self.outcome,
            psp_reference=self.psp_reference,
            decline_code=self.decline_code,
            advice_code=self.advice_code,
            next_action=self.next_action if self.outcome is Outcome.REQUIRES_ACTION else None,
        )


_REFUSED = Result(Outcome.ERROR, message="connection refused")


class SimulatedConnector(Connector):
    """A simulated PSP, in memory, behaving as its profile says. `latency_scale` multiplies every latency
    (0: no sleeping at all, for tests and benchmarks). `deliver` sends webhooks, with `chaos`."""

    def __init__(
        self,
        profile: SimProfile,
        *,
        clock: Clock | None = None,
        latency_scale: float = 1.0,
        webhook_secret: str | None = None,
        deliver: Deliver | None = None,
        chaos: WebhookChaos = WebhookChaos(),
        name: str | None = None,
        challenge_base_url: str | None = None,
    ) -> None:
        self.name = name or profile.name
        self.profile = profile
        self.clock: Clock = clock or SystemClock()
        self.latency_scale = latency_scale
        # a predictable default: every node of a deployment must verify what any node's simulator signed
        self.webhook_secret = webhook_secret or f"whsec_{self.name}_simulated"
        self.chaos = chaos
        self._deliver = deliver
        self._challenge_base_url = challenge_base_url or f"https://3ds.{self.name}.sim.invalid/challenge"
        self._simulation = Simulation()
        self._ops: dict[tuple[Kind, str], _Operation] = {}
        self._charges_by_psp: dict[str, _Operation] = {}
        self._calls: dict[tuple[Kind | str, str], int] = {}
        self._events = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent: list[bytes] = []  # every webhook body emitted, in order (deliveries may differ)
        self.undelivered = 0  # webhooks given up after `chaos.max_attempts`

    # -- switches

    @property
    def simulation(self) -> Simulation:
        return self._simulation

    def simulate(self, simulation: Simulation) -> None:
        if simulation.approval_rate is not None and not 0.0 <= simulation.approval_rate <= 1.0:
            raise ValueError("approval_rate must be within 0..1")
        if simulation.latency_ms is not None and simulation.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        self._simulation = simulation

    def fee(self, amount: int) -> int:
        """This PSP's fee on a charge of `amount`."""
        return fee(self.profile, amount)

    # -- operations

    async def charge(self, request: ChargeRequest) -> Result:
        params = (request.amount, request.currency)

        def decide() -> _Operation:
            decision = decide_charge(
                self.profile,
                reference=request.reference,
                number=request.card.number,
                card=request.profile,
                amount=request.amount,
                three_ds=request.three_ds,
                attempt_number=request.attempt_number,
                approval_rate=self._simulation.approval_rate,
            )
            op = _Operation(
                Kind.CHARGE, request.reference, self._psp_reference("ch", request.reference), request.amount,
                request.currency, first=Result(Outcome.ERROR), outcome=Outcome.ERROR, params=params,
            )  # fmt: skip
            if decision.challenge:
                op.outcome, op.pending = Outcome.REQUIRES_ACTION, decision.authorisation
                op.next_action = NextAction("three_ds_challenge", f"{self._challenge_base_url}/{op.psp_reference}")
            else:
                self._authorise(op, decision.authorisation)
            op.first = op.result()
            self._charges_by_psp[op.psp_reference] = op
            return op

        return await self._operate(Kind.CHARGE, request.reference, params, decide)

    async def complete_action(self, reference: str, psp_reference: str, passed: bool) -> Result:
        if self._simulation.outage:
            return _REFUSED
        await self._sleep(self._latency(f"complete:{reference}"))
        op = self._ops.get((Kind.CHARGE, reference))
        if op is None or op.psp_reference != psp_reference:
            return Result(Outcome.NOT_FOUND, message="no such charge")
        if op.outcome is Outcome.REQUIRES_ACTION:
            assert op.pending is not None
            self._authorise(op, op.pending if passed else Authorisation(False, AUTHENTICATION_FAILED))
            op.pending = None
        return op.result()

    async def refund(self, request: RefundRequest) -> Result:
        params = (request.charge_psp_reference, request.amount, request.currency)

        def decide() -> _Operation:
            op = _Operation(
                Kind.REFUND, request.reference, self._psp_reference("re", request.reference), request.amount,
                request.currency, first=Result(Outcome.ERROR), outcome=Outcome.DECLINED, params=params,
            )  # fmt: skip
            charge = self._charges_by_psp.get(request.charge_psp_reference)
            if charge is None or charge.outcome is not Outcome.APPROVED or charge.currency != request.currency:
                op.decline_code = "12"  # invalid transaction: no captured charge in that currency
            elif request.amount <= 0 or charge.refunded + request.amount > charge.amount:
                op.decline_code = "13"  # invalid amount: beyond what is left of the capture
            else:
                charge.refunded += request.amount
                op.outcome = Outcome.APPROVED
                self._emit(WebhookType.REFUND_SUCCEEDED, op)
            op.first = op.result()
            return op

        return await self._operate(Kind.REFUND, request.reference, params, decide)

    async def payout(self, request: PayoutRequest) -> Result:
        params = (request.amount, request.currency)

        def decide() -> _Operation:
            op = _Operation(
                Kind.PAYOUT, request.reference, self._psp_reference("po", request.reference), request.amount,
                request.currency, first=Result(Outcome.PENDING), outcome=Outcome.PENDING, params=params,
            )  # fmt: skip
            op.first = op.result()
            # the simulator settles at once; the caller learns it as from a real PSP: by webhook or status
            answer = decide_payout(self.profile, reference=request.reference, number=request.card.number)
            if answer.approved:
                op.outcome = Outcome.APPROVED
                self._emit(WebhookType.PAYOUT_PAID, op)
            else:
                op.outcome, op.decline_code = Outcome.DECLINED, answer.decline_code
                self._emit(WebhookType.PAYOUT_FAILED, op)
            return op

        return await self._operate(Kind.PAYOUT, request.reference, params, decide)

    async def status(self, kind: Kind, reference: str) -> Result:
        if self._simulation.outage:
            return _REFUSED
        await self._sleep(self._latency(f"status:{kind}:{reference}:{self._count('status', reference)}"))
        op = self._ops.get((kind, reference))
        if op is None:
            return Result(Outcome.NOT_FOUND)
        return op.result()

    async def chargeback(self, reference: str, amount: int | None = None) -> None:
        """A cardholder disputes a captured charge (by our reference): the PSP sends a chargeback webhook."""
        op = self._ops.get((Kind.CHARGE, reference))
        if op is None or op.outcome is not Outcome.APPROVED:
            raise ValueError(f"no captured charge {reference!r}")
        disputed = op.amount - op.disputed if amount is None else amount
        if not 0 < disputed <= op.amount - op.disputed:
            raise ValueError("a chargeback is for part or all of what is not yet disputed")
        op.disputed += disputed
        self._emit(WebhookType.CHARGEBACK, op, amount=disputed)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        verify_signature(
            body, header_value(headers, SIGNATURE_HEADER), self.webhook_secret, self.clock.now(), TOLERANCE_S
        )
        return parse_event(body)

    def signature_headers(self, body: bytes) -> dict[str, str]:
        """The headers this PSP sends a webhook with, signed now."""
        timestamp = int(self.clock.now().timestamp())
        return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.webhook_secret, timestamp)}

    async def drain(self) -> None:
        """Wait until every scheduled webhook delivery has been made (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- machinery

    async def _operate(
        self, kind: Kind, reference: str, params: tuple[object, ...], decide: Callable[[], _Operation]
    ) -> Result:
        """One money-moving call: refused in an outage; else the PSP decides (once per reference, before the
        answer travels back), and the answer comes after the latency, or TIMEOUT past `timeout_ms`."""
        if self._simulation.outage:
            return _REFUSED  # connection-level: nothing reached the PSP
        call = f"{kind}:{reference}:{self._count(kind, reference)}"
        latency = self._latency(call)
        timed_out = latency > self.profile.timeout_ms or draw(self.profile.seed, call, "timeout") < (
            self.profile.timeout_rate
        )
        op = self._ops.get((kind, reference))
        if op is None and not (timed_out and draw(self.profile.seed, call, "lost") < self.profile.lost_on_timeout_rate):
            op = self._ops[(kind, reference)] = decide()  # recorded before any await: a concurrent replay sees it
        if timed_out:
            await self._sleep(self.profile.timeout_ms)
            return Result(Outcome.TIMEOUT, message=f"no answer within {self.profile.timeout_ms:.0f} ms")
        await self._sleep(latency)
        assert op is not None
        if op.params != params:
            return Result(Outcome.ERROR, message="reference reused with different parameters")
        return op.first

    def _authorise(self, op: _Operation, answer: Authorisation) -> None:
        if answer.approved:
            op.outcome = Outcome.APPROVED
            self._emit(WebhookType.CHARGE_SUCCEEDED, op)
        else:
            op.outcome, op.decline_code, op.advice_code = Outcome.DECLINED, answer.decline_code, answer.advice_code
            self._emit(WebhookType.CHARGE_FAILED, op)

    def _count(self, kind: Kind | str, reference: str) -> int:
        n = self._calls.get((kind, reference), 0) + 1
        self._calls[(kind, reference)] = n
        return n

    def _latency(self, key: str) -> float:
        return sample_latency(self.profile, key, self._simulation.latency_ms)

    async def _sleep(self, ms: float) -> None:
        if self.latency_scale > 0 and ms > 0:
            await asyncio.sleep(ms * self.latency_scale / 1000)

    def _psp_reference(self, prefix: str, reference: str) -> str:
        digest = hashlib.blake2b(f"{self.name}\x1f{self.profile.seed}\x1f{reference}".encode(), digest_size=12)
        return f"{prefix}_{digest.hexdigest()}"

    def _emit(self, type_: WebhookType, op: _Operation, amount: int | None = None) -> None:
        self._events += 1
        event_id = (
            "evt_"
            + hashlib.blake2b(
                f"{self.name}\x1f{self.profile.seed}\x1f{self._events}\x1f{type_}\x1f{op.reference}".encode(),
                digest_size=12,
            ).hexdigest()
        )
        event = {
            "id": event_id,
            "type": str(type_),
            "created": int(self.clock.now().timestamp()),
            "data": {
                "reference": op.reference,
                "psp_reference": op.psp_reference,
                "amount": op.amount if amount is None else amount,
                "currency": op.currency,
                "decline_code": op.decline_code,
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        self.sent.append(body)
        if self._deliver is not None:
            self._schedule(event_id, body)

    def _schedule(self, event_id: str, body: bytes) -> None:
        chaos = self.chaos
        low, high = chaos.delay_ms
        delay = low + (high - low) * draw(chaos.seed, event_id, "delay")
        if draw(chaos.seed, event_id, "reorder") < chaos.reorder_rate:
            delay += chaos.reorder_window_ms  # held back: the events after it arrive first
        self._spawn(body, delay)
        if draw(chaos.seed, event_id, "duplicate") < chaos.duplicate_rate:
            self._spawn(body, delay + (high - low) * draw(chaos.seed, event_id, "duplicate-delay"))

    def _spawn(self, body: bytes, delay_ms: float) -> None:
        task = asyncio.get_running_loop().create_task(self._send(body, delay_ms))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, body: bytes, delay_ms: float) -> None:
        """One delivery: after its delay, signed at the moment it is sent (as Stripe signs each attempt), retried
        with doubling backoff while the receiver fails."""
        assert self._deliver is not None
        # delivery delays are real time and not scaled: chaos is the point of them, and tests keep them small
        await asyncio.sleep(delay_ms / 1000)
        for attempt in range(self.chaos.max_attempts):
            try:
                await self._deliver(self.name, body, self.signature_headers(body))
                return
            except Exception as exc:  # any failure of the receiver: retry, as a PSP does
                log.warning("webhook delivery failed", connector=self.name, attempt=attempt + 1, error=repr(exc))
                if attempt + 1 < self.chaos.max_attempts:
                    await asyncio.sleep(self.chaos.retry_backoff_ms * 2**attempt / 1000)
        self.undelivered += 1
        log.error("webhook given up", connector=self.name, attempts=self.chaos.max_attempts)


def simulated_connectors(
    *,
    clock: Clock | None = None,
    latency_scale: float = 1.0,
    deliver: Deliver | None = None,
    chaos: WebhookChaos = WebhookChaos(),
    secrets: Mapping[str, str] | None = None,
) -> list[SimulatedConnector]:
    """The three simulated PSPs of `PROFILES`, ready to route to."""
    return [
        SimulatedConnector(
            profile,
            clock=clock,
            latency_scale=latency_scale,
            deliver=deliver,
            chaos=chaos,
            webhook_secret=(secrets or {}).get(name),
        )
        for name, profile in PROFILES.items()
    ]

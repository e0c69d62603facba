"""The interface every payment connector implements: the simulated PSPs, Stripe's, an operator's own.

A connector owns one PSP's wire format and credentials. It authorises and captures a card payment (`charge`),
completes a 3-D Secure challenge (`complete_action`), refunds, pays out, answers a status query by our own
reference, and verifies the PSP's signed webhooks. It never raises for a PSP's answer: a decline, an error, a
timeout are outcomes (`Outcome`). What it must never do is leave the caller unsure whether money moved without
saying so: an attempt that got no answer in time is `TIMEOUT`, and the caller resolves it with `status` before
it tries anything else.

`reference` is ours, one per attempt: the PSP's idempotency key, and the key of a status query. A connector
sends the same reference twice only to mean the same attempt, and the PSP answers the first answer."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


class Outcome(enum.StrEnum):
    """What a PSP said of an operation."""

    APPROVED = "approved"  # authorised and captured (a charge), done (a refund), paid (a payout)
    DECLINED = "declined"  # refused, with a decline code
    REQUIRES_ACTION = "requires_action"  # a 3-D Secure challenge for the cardholder (`next_action`)
    PENDING = "pending"  # accepted; the result comes by webhook (a payout on its way)
    ERROR = "error"  # the PSP answered that it failed to process: nothing moved
    TIMEOUT = "timeout"  # no answer in time: unknown until a status query says
    NOT_FOUND = "not_found"  # a status query: the PSP never saw this reference (nothing moved)


class Kind(enum.StrEnum):
    """What an operation is, for a status query and for webhooks."""

    CHARGE = "charge"
    REFUND = "refund"
    PAYOUT = "payout"


@dataclass(frozen=True, slots=True)
class CardData:
    """A card as the player typed it: in memory for one request only, never stored, logged or put in an event."""

    number: str
    expiry_month: int
    expiry_year: int
    cvc: str
    holder: str

    def __repr__(self) -> str:  # a stray log line or traceback never shows the number
        return f"CardData(last4={self.number[-4:]!r})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class CardProfile:
    """What may be known of a card beyond the request: its BIN, last four, and what the BIN tables say."""

    bin: str  # the first 8 digits (6 for a 15-digit card or shorter)
    last4: str
    scheme: str  # visa, mastercard, amex, ...
    card_type: str | None  # credit, debit
    prepaid: bool
    country: str | None  # issuer's, ISO 3166 alpha-2


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the cardholder must do before a charge completes: a 3-D Secure challenge."""

    type: str  # "three_ds_challenge"
    url: str  # where the challenge is answered


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    reference: str
    amount: int  # minor units
    currency: str
    card: CardData
    profile: CardProfile
    three_ds: bool = False  # ask for 3-D Secure (forced by rule, or a step-up after `authentication_required`)
    attempt_number: int = 1  # this attempt's place in the payment's cascade, from 1


@dataclass(frozen=True, slots=True)
class RefundRequest:
    reference: str
    charge_psp_reference: str
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    reference: str
    amount: int
    currency: str
    card: CardData
    profile: CardProfile


@dataclass(frozen=True, slots=True)
class Result:
    """A PSP's answer to one operation (or to a status query about it)."""

    outcome: Outcome
    psp_reference: str | None = None
    decline_code: str | None = None  # the network's code ("05", "51", "96"...), or "authentication_required"
    advice_code: str | None = None  # Mastercard's merchant advice code ("03", "21"...), when given
    next_action: NextAction | None = None
    message: str = ""


class WebhookType(enum.StrEnum):
    CHARGE_SUCCEEDED = "charge.succeeded"
    CHARGE_FAILED = "charge.failed"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    CHARGEBACK = "chargeback.created"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified webhook, in our terms. `id` is the PSP's event id (a duplicate carries the same one);
    `reference` is our reference of the operation it is about (for a chargeback: the charge's)."""

    id: str
    type: WebhookType
    reference: str
    psp_reference: str | None
    amount: int
    currency: str
    occurred_at: datetime
    decline_code: str | None = None


class InvalidWebhook(Exception):
    """A webhook whose signature does not verify, that is too old, or that cannot be read."""


class UnhandledWebhook(InvalidWebhook):
    """A genuine webhook (its signature verifies) about something the platform does not act on: answered 2xx,
    or the PSP resends it for days."""


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulated connector's switches, set at run time by staff."""

    outage: bool = False  # every call fails to connect
    approval_rate: float | None = None  # overrides the approval model's base rate (0..1)
    latency_ms: float | None = None  # overrides the median latency


@dataclass(frozen=True, slots=True)
class Capabilities:
    currencies: frozenset[str] = field(default_factory=frozenset)  # empty: any
    payouts: bool = True
    three_ds: bool = True
    # whether a status query sees an operation the moment the PSP took it: then "not found" after a timeout means
    # nothing moved; where the PSP's search lags (Stripe's), it means "not known yet" and the attempt stays unknown
    consistent_status: bool = True


class Connector(ABC):
    """One PSP. `name` is its stable name in routing rules, metrics and the staff API."""

    name: str
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    async def charge(self, request: ChargeRequest) -> Result:
        """Authorise and capture; `REQUIRES_ACTION` with a `next_action` when the issuer challenges."""

    @abstractmethod
    async def complete_action(self, reference: str, psp_reference: str, passed: bool) -> Result:
        """The cardholder's answer to a 3-D Secure challenge, and the charge's result after it."""

    @abstractmethod
    async def refund(self, request: RefundRequest) -> Result:
        """Refund (part of) a captured charge."""

    @abstractmethod
    async def payout(self, request: PayoutRequest) -> Result:
        """Pay money out to a card: `APPROVED`, `DECLINED`, or `PENDING` with the result by webhook."""

    @abstractmethod
    async def status(self, kind: Kind, reference: str) -> Result:
        """What the PSP knows of the operation with our `reference` (`NOT_FOUND` if nothing)."""

    @abstractmethod
    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """The webhook if its signature verifies and it is recent, else `InvalidWebhook`. Headers are
        lower-cased."""

    @property
    def simulation(self) -> Simulation | None:
        """The switches of a simulated connector; None for a real PSP's."""
        return None

    def simulate(self, simulation: Simulation) -> None:
        """Set a simulated connector's switches (a real PSP's connector refuses)."""
        raise NotImplementedError(f"{self.name} is not simulated")

    async def close(self) -> None:  # noqa: B027 - most connectors hold nothing to release
        """Release connections."""

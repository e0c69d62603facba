"""HTTP for payments: players' deposits and withdrawals, the PSPs' webhooks, the staff's refunds, connectors and
block list. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from sportsbook.core.errors import IdempotencyKeyReused, InsufficientFunds, NotFound
from sportsbook.core.money import InvalidAmount, InvalidCurrency
from sportsbook.idempotency.service import idempotency_key, request_fingerprint
from sportsbook.ops.openapi import error_responses
from sportsbook.payments.model import InvalidCard, fingerprint
from sportsbook.payments.service import (
    CardBlocked,
    CardIn,
    ConnectorNotFound,
    ConnectorView,
    InvalidSignature,
    KycRequired,
    NoActionRequired,
    NoConnector,
    NotSimulated,
    PaymentNotFound,
    PaymentNotRefundable,
    PaymentView,
)
from sportsbook.platform import Platform, get_platform
from sportsbook.players.auth import current_player, require_role
from sportsbook.players.model import Principal, Role

router = APIRouter(tags=["payments"])


class CardBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(min_length=12, max_length=23, description="12 to 19 digits; spaces allowed")
    expiry_month: StrictInt = Field(ge=1, le=12)
    expiry_year: StrictInt = Field(ge=2000, le=2100)
    cvc: str = Field(min_length=3, max_length=4)
    holder: str = Field(min_length=1, max_length=100)


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(description="Minor units")
    currency: str = Field(min_length=3, max_length=3)
    card: CardBody


class AuthenticateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool = Field(description="Whether the cardholder passed the issuer's challenge")


class AttemptOut(BaseModel):
    connector: str
    outcome: str | None
    decline_code: str | None


class CardOut(BaseModel):
    bin: str
    last4: str
    scheme: str
    card_type: str | None
    prepaid: bool
    country: str | None


class NextActionOut(BaseModel):
    type: Literal["three_ds_challenge"] = "three_ds_challenge"
    url: str | None


class PaymentOut(BaseModel):
    id: UUID
    direction: str
    status: str
    amount: int
    currency: str
    connector: str | None
    decline_code: str | None
    attempts: list[AttemptOut]
    card: CardOut | None
    next_action: NextActionOut | None
    parent_id: UUID | None
    refunded: int
    created_at: datetime
    updated_at: datetime


class StaffAttemptOut(AttemptOut):
    reference: UUID
    advice_code: str | None
    psp_reference: str | None
    three_ds: bool
    started_at: datetime
    finished_at: datetime | None


class StaffPaymentOut(PaymentOut):
    player_id: UUID
    psp_reference: str | None
    card_fingerprint: str | None
    staff_attempts: list[StaffAttemptOut]


class PaymentsOut(BaseModel):
    items: list[PaymentOut]


def _out(view: PaymentView) -> PaymentOut:
    p = view.payment
    card = p.card
    return PaymentOut(
        id=p.id,
        direction=str(p.direction),
        status=p.status.value,
        amount=p.amount,
        currency=p.currency,
        connector=p.connector,
        decline_code=p.decline_code,
        attempts=[
            AttemptOut(
                connector=a.connector, outcome=a.outcome.value if a.outcome else None, decline_code=a.decline_code
            )
            for a in view.attempts
        ],
        card=CardOut(
            bin=card.bin[:6],
            last4=card.last4,
            scheme=card.scheme,
            card_type=card.card_type,
            prepaid=card.prepaid,
            country=card.country,
        )
        if card
        else None,
        next_action=NextActionOut(url=p.next_action_url) if p.status.value == "requires_action" else None,
        parent_id=p.parent_id,
        refunded=p.refunded,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def _staff_out(view: PaymentView) -> StaffPaymentOut:
    p = view.payment
    return StaffPaymentOut(
        **_out(view).model_dump(),
        player_id=p.player_id,
        psp_reference=p.psp_reference,
        card_fingerprint=p.card.fingerprint if p.card else None,
        staff_attempts=[
            StaffAttemptOut(
                connector=a.connector,
                outcome=a.outcome.value if a.outcome else None,
                decline_code=a.decline_code,
                reference=a.reference,
                advice_code=a.advice_code,
                psp_reference=a.psp_reference,
                three_ds=a.three_ds,
                started_at=a.started_at,
                finished_at=a.finished_at,
            )
            for a in view.attempts
        ],
    )


def _request_hash(platform: Platform, path: str, body: PaymentIn) -> str:
    """The request's fingerprint for its Idempotency-Key: the body with the card number replaced by its keyed
    fingerprint and the security code left out, so no hash of a card number is ever stored."""
    dumped: dict[str, Any] = body.model_dump(mode="json")
    card = dumped.pop("card")
    digits = "".join(ch for ch in card["number"] if ch.isdigit())
    dumped["card"] = {
        "fingerprint": fingerprint(digits, platform.payments_key),
        "expiry": [card["expiry_month"], card["expiry_year"]],
        "holder": card["holder"],
    }
    return request_fingerprint("POST", path, dumped)


def _card(body: PaymentIn) -> CardIn:
    c = body.card
    return CardIn(c.number, c.expiry_month, c.expiry_year, c.cvc, c.holder)


_PAYMENT_ERRORS = (InvalidCard, InvalidAmount, InvalidCurrency, IdempotencyKeyReused)


@router.post(
    "/api/v1/deposits",
    status_code=201,
    response_model=PaymentOut,
    responses=error_responses(*_PAYMENT_ERRORS),
)
async def post_deposit(
    body: PaymentIn,
    request: Request,
    key: str = Depends(idempotency_key),
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> PaymentOut:
    """Deposit with a card: the cash is credited once the PSP captures. `requires_action` asks for 3-D Secure
    (answer at `POST /api/v1/payments/{id}/authenticate`); `pending` waits for the PSP's answer."""
    assert player.currency is not None
    view = await platform.payments.deposit(
        player.id,
        player.currency,
        body.amount,
        body.currency,
        _card(body),
        key,
        _request_hash(platform, request.url.path, body),
    )
    return _out(view)


@router.post(
    "/api/v1/withdrawals",
    status_code=201,
    response_model=PaymentOut,
    responses=error_responses(*_PAYMENT_ERRORS, InsufficientFunds, KycRequired, CardBlocked, NoConnector),
)
async def post_withdrawal(
    body: PaymentIn,
    request: Request,
    key: str = Depends(idempotency_key),
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> PaymentOut:
    """Withdraw cash to a card: reserved at once, paid out by the PSP (`pending` until it says)."""
    assert player.currency is not None
    view = await platform.payments.withdraw(
        player.id,
        player.currency,
        body.amount,
        body.currency,
        _card(body),
        key,
        _request_hash(platform, request.url.path, body),
    )
    return _out(view)


@router.get("/api/v1/payments", response_model=PaymentsOut)
async def get_payments(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> PaymentsOut:
    """The player's payments, newest first."""
    return PaymentsOut(items=[_out(v) for v in await platform.payments.of_player(player.id, limit)])


@router.get("/api/v1/payments/{payment_id}", response_model=PaymentOut, responses=error_responses(PaymentNotFound))
async def get_payment(
    payment_id: UUID, player: Principal = Depends(current_player), platform: Platform = Depends(get_platform)
) -> PaymentOut:
    return _out(await platform.payments.view(payment_id, player_id=player.id))


@router.post(
    "/api/v1/payments/{payment_id}/authenticate",
    response_model=PaymentOut,
    responses=error_responses(PaymentNotFound, NoActionRequired),
)
async def post_authenticate(
    payment_id: UUID,
    body: AuthenticateIn,
    player: Principal = Depends(current_player),
    platform: Platform = Depends(get_platform),
) -> PaymentOut:
    """The player's answer to a deposit's 3-D Secure challenge (the simulated issuer's; with a PSP that hosts the
    challenge, its return page calls this)."""
    return _out(await platform.payments.authenticate(player.id, payment_id, body.passed))


@router.post(
    "/api/v1/payments/webhooks/{connector}",
    responses=error_responses(ConnectorNotFound, InvalidSignature),
)
async def post_webhook(connector: str, request: Request, platform: Platform = Depends(get_platform)) -> dict[str, str]:
    """A PSP's signed webhook: taken once, whatever is resent."""
    body = await request.body()
    result = await platform.payments.webhook(connector, body, dict(request.headers))
    return {"result": result}


# ---- staff ----

_STAFF = require_role(Role.PAYMENTS)


class SimulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outage: bool | None = None
    approval_rate: float | None = Field(default=None, ge=0, le=1)
    latency_ms: float | None = Field(default=None, ge=0, le=60_000)


class ConnectorPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    simulation: SimulationIn | None = None


class SimulationOut(BaseModel):
    outage: bool
    approval_rate: float | None
    latency_ms: float | None


class ConnectorOut(BaseModel):
    name: str
    enabled: bool
    state: str = Field(description="The circuit breaker's: closed, open or half-open")
    simulated: bool
    simulation: SimulationOut | None
    attempts_24h: int
    approved_24h: int
    success_rate_24h: float | None


class ConnectorsOut(BaseModel):
    items: list[ConnectorOut]


def _connector_out(v: ConnectorView) -> ConnectorOut:
    sim = v.simulation
    return ConnectorOut(
        name=v.name,
        enabled=v.enabled,
        state=v.state,
        simulated=sim is not None,
        simulation=SimulationOut(outage=sim.outage, approval_rate=sim.approval_rate, latency_ms=sim.latency_ms)
        if sim
        else None,
        attempts_24h=v.attempts,
        approved_24h=v.approved,
        success_rate_24h=round(v.approved / v.attempts, 4) if v.attempts else None,
    )


@router.get("/api/v1/admin/payments/connectors", response_model=ConnectorsOut)
async def get_connectors(
    staff: Principal = Depends(_STAFF), platform: Platform = Depends(get_platform)
) -> ConnectorsOut:
    """Each connector's state (enabled, circuit breaker, simulation switches) and its success rate over 24 h."""
    since = platform.clock.now() - timedelta(hours=24)
    return ConnectorsOut(items=[_connector_out(v) for v in await platform.payments.connectors_view(since)])


@router.patch(
    "/api/v1/admin/payments/connectors/{name}",
    response_model=ConnectorOut,
    responses=error_responses(ConnectorNotFound, NotSimulated),
)
async def patch_connector(
    name: str,
    body: ConnectorPatch,
    staff: Principal = Depends(_STAFF),
    platform: Platform = Depends(get_platform),
) -> ConnectorOut:
    """Switch a connector on or off; on a simulated one, set an outage, an approval rate or a latency (null
    returns a setting to the connector's own model)."""
    sim = body.simulation
    sent = sim.model_fields_set if sim is not None else set()
    view = await platform.payments.switch(
        staff.id,
        name,
        enabled=body.enabled,
        outage=sim.outage if sim else None,
        approval_rate=sim.approval_rate if sim else None,
        latency_ms=sim.latency_ms if sim else None,
        simulation_sent=sim is not None,
        clear=frozenset(f for f in sent if getattr(sim, f) is None),
    )
    return _connector_out(view)


class RateOut(BaseModel):
    key: str
    attempts: int
    approved: int
    success_rate: float | None


class RatesOut(BaseModel):
    by: str
    since: datetime
    items: list[RateOut]


@router.get("/api/v1/admin/payments/success-rates", response_model=RatesOut)
async def get_rates(
    by: Annotated[Literal["connector", "country", "card_type"], Query()] = "connector",
    hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    staff: Principal = Depends(_STAFF),
    platform: Platform = Depends(get_platform),
) -> RatesOut:
    """Card payment success rate (approved attempts over attempts answered) by connector, issuer country or card
    type."""
    since = platform.clock.now() - timedelta(hours=hours)
    rows = await platform.payments.rates(by, since)
    return RatesOut(
        by=by,
        since=since,
        items=[
            RateOut(
                key=r.key,
                attempts=r.attempts,
                approved=r.approved,
                success_rate=round(r.approved / r.attempts, 4) if r.attempts else None,
            )
            for r in rows
        ],
    )


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["fingerprint", "bin"]
    value: str = Field(min_length=6, max_length=32)
    reason: str = Field(min_length=1, max_length=200)


class BlockOut(BaseModel):
    kind: str
    value: str
    reason: str
    created_at: datetime


@router.get("/api/v1/admin/payments/blocks", response_model=list[BlockOut])
async def get_blocks(staff: Principal = Depends(_STAFF), platform: Platform = Depends(get_platform)) -> list[BlockOut]:
    return [
        BlockOut(kind=b.kind, value=b.value, reason=b.reason, created_at=b.created_at)
        for b in await platform.payments.blocks()
    ]


@router.post("/api/v1/admin/payments/blocks", status_code=201, response_model=BlockOut)
async def post_block(
    body: BlockIn, staff: Principal = Depends(_STAFF), platform: Platform = Depends(get_platform)
) -> BlockOut:
    """Block a card (its fingerprint, from a payment's staff view) or a 6- or 8-digit BIN."""
    b = await platform.payments.block(staff.id, body.kind, body.value, body.reason)
    return BlockOut(kind=b.kind, value=b.value, reason=b.reason, created_at=b.created_at)


@router.delete("/api/v1/admin/payments/blocks/{kind}/{value}", status_code=204, responses=error_responses(NotFound))
async def delete_block(
    kind: str, value: str, staff: Principal = Depends(_STAFF), platform: Platform = Depends(get_platform)
) -> None:
    await platform.payments.unblock(kind, value)


@router.get(
    "/api/v1/admin/payments/{payment_id}", response_model=StaffPaymentOut, responses=error_responses(PaymentNotFound)
)
async def get_staff_payment(
    payment_id: UUID, staff: Principal = Depends(_STAFF), platform: Platform = Depends(get_platform)
) -> StaffPaymentOut:
    """A payment with every attempt, PSP references and the card's fingerprint (for the block list)."""
    return _staff_out(await platform.payments.view(payment_id))


@router.get("/api/v1/admin/players/{player_id}/payments", response_model=list[StaffPaymentOut])
async def get_player_payments(
    player_id: UUID,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    staff: Principal = Depends(require_role(Role.PAYMENTS, Role.SUPPORT, Role.RISK)),
    platform: Platform = Depends(get_platform),
) -> list[StaffPaymentOut]:
    return [_staff_out(v) for v in await platform.payments.of_player(player_id, limit)]


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt | None = Field(default=None, description="Minor units; all that is left when absent")


@router.post(
    "/api/v1/admin/payments/{payment_id}/refunds",
    status_code=201,
    response_model=StaffPaymentOut,
    responses=error_responses(PaymentNotFound, PaymentNotRefundable, InsufficientFunds, InvalidAmount),
)
async def post_refund(
    payment_id: UUID,
    body: RefundIn,
    request: Request,
    key: str = Depends(idempotency_key),
    staff: Principal = Depends(_STAFF),
    platform: Platform = Depends(get_platform),
) -> StaffPaymentOut:
    """Refund (part of) a deposit to its card: the player's cash goes back through the ledger."""
    hash_ = request_fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    return _staff_out(await platform.payments.refund(staff.id, payment_id, body.amount, key, hash_))

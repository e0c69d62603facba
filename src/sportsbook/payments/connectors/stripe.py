"""Stripe, through its official Python SDK (`stripe`): PaymentIntents, refunds, payouts and signed webhooks.

Tested against `sportsbook psp-sim stripe`, which speaks the same HTTP API; an operator with a Stripe account
changes only `base_url` (to Stripe's, the default) and the keys. What a live account needs beyond that:
- Card data goes to Stripe's API as typed by the player (`payment_methods.create` with the card number), which
  Stripe allows only to accounts with raw-card-data access (PCI DSS SAQ D); without it, the front end tokenises
  with Stripe.js and the connector would take a PaymentMethod id instead.
- A payout to a card goes to a card attached as an external account of the (connected) account it pays from;
  the connector tokenises the card (`tokens.create`) and pays out to the token's card. On a platform account
  that card must first be attached with Connect.
- The 3-D Secure challenge is a redirect to Stripe's page (`next_action.redirect_to_url`); the cardholder answers
  there and `complete_action` only reads the result. Against the simulator (any `base_url` but Stripe's), it
  first posts the cardholder's answer to the simulator's test helper.
- Search (the status query when this process did not make the call itself) is eventually consistent on Stripe:
  an intent made a moment ago on another node can be missing for up to a minute.

Decline words map to the networks' codes (`payments.stripe_codes`); the word is kept in `Result.message`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import PaymentIntentCreateParams

from sportsbook.core.clock import Clock, SystemClock
from sportsbook.payments.connectors.base import (
    Capabilities,
    ChargeRequest,
    Connector,
    InvalidWebhook,
    Kind,
    NextAction,
    Outcome,
    PayoutRequest,
    RefundRequest,
    Result,
    UnhandledWebhook,
    WebhookEvent,
    WebhookType,
)
from sportsbook.payments.stripe_codes import stripe_to_network

STRIPE_API = "https://api.stripe.com"
TOLERANCE_S = 300


class StripeConnector(Connector):
    """Stripe's PaymentIntents API as a connector."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        base_url: str = STRIPE_API,
        timeout_s: float = 10.0,
        name: str = "stripe",
        clock: Clock | None = None,
        return_url: str = "https://sportsbook.invalid/payments/3ds-return",
    ) -> None:
        self.name = name
        self.capabilities = Capabilities(consistent_status=False)  # Stripe's search lags by up to a minute
        self._webhook_secret = webhook_secret
        self._clock: Clock = clock or SystemClock()
        self._return_url = return_url
        self._test_helpers = base_url.rstrip("/") != STRIPE_API
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        # no retries inside the SDK: a call that gets no answer is TIMEOUT at once, and the caller resolves it
        self._client = stripe.StripeClient(
            api_key, base_addresses={"api": base_url}, http_client=self._http, max_network_retries=0
        )
        self._ids: dict[tuple[Kind, str], str] = {}  # our reference -> Stripe's id, for what this process did
        self._references: dict[str, str] = {}  # PaymentIntent id -> our reference (a dispute names the intent)

    # -- operations

    async def charge(self, request: ChargeRequest) -> Result:
        card = request.card
        try:
            method = await self._client.v1.payment_methods.create_async(
                {
                    "type": "card",
                    "card": {
                        "number": card.number,
                        "exp_month": card.expiry_month,
                        "exp_year": card.expiry_year,
                        "cvc": card.cvc,
                    },
                    "billing_details": {"name": card.holder},
                },
                {"idempotency_key": f"{request.reference}:payment-method"},
            )
            params: PaymentIntentCreateParams = {
                "amount": request.amount,
                "currency": request.currency.lower(),
                "payment_method": method.id,
                "confirm": True,
                "return_url": self._return_url,
                # the attempt's place in the cascade: the simulator's 0119 card needs it; Stripe ignores metadata
                "metadata": {"reference": request.reference, "attempt_number": str(request.attempt_number)},
            }
            if request.three_ds:
                params["payment_method_options"] = {"card": {"request_three_d_secure": "any"}}
            intent = await self._client.v1.payment_intents.create_async(params, {"idempotency_key": request.reference})
        except stripe.CardError as exc:
            return self._card_error(request.reference, exc)
        except stripe.StripeError as exc:
            return _failure(exc)
        return self._intent_result(request.reference, intent)

    async def complete_action(self, reference: str, psp_reference: str, passed: bool) -> Result:
        try:
            if self._test_helpers:
                await self._client.raw_request_async(
                    "post",
                    f"/v1/test_helpers/payment_intents/{psp_reference}/authenticate",
                    result="pass" if passed else "fail",
                )
            intent = await self._client.v1.payment_intents.retrieve_async(psp_reference)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                return Result(Outcome.NOT_FOUND, message=str(exc.user_message or ""))
            return _failure(exc)
        except stripe.StripeError as exc:
            return _failure(exc)
        return self._intent_result(reference, intent)

    async def refund(self, request: RefundRequest) -> Result:
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": request.charge_psp_reference,
                    "amount": request.amount,
                    "metadata": {"reference": request.reference},
                },
                {"idempotency_key": request.reference},
            )
        except stripe.InvalidRequestError as exc:
            refused = {
                "amount_too_large": "13", "charge_already_refunded": "13", "charge_not_refundable": "12",
                "resource_missing": "12",
            }.get(exc.code or "")  # fmt: skip
            if refused is not None:
                return Result(Outcome.DECLINED, decline_code=refused, message=exc.code or "")
            return _failure(exc)
        except stripe.StripeError as exc:
            return _failure(exc)
        self._ids[(Kind.REFUND, request.reference)] = refund.id
        return _refund_result(refund)

    async def payout(self, request: PayoutRequest) -> Result:
        card = request.card
        try:
            token = await self._client.v1.tokens.create_async(
                {
                    "card": {
                        "number": card.number,
                        "exp_month": str(card.expiry_month),
                        "exp_year": str(card.expiry_year),
                        "cvc": card.cvc,
                        "name": card.holder,
                        "currency": request.currency.lower(),
                    }
                },
                {"idempotency_key": f"{request.reference}:card"},
            )
            assert token.card is not None
            payout = await self._client.v1.payouts.create_async(
                {
                    "amount": request.amount,
                    "currency": request.currency.lower(),
                    "method": "instant",
                    "destination": token.card.id,
                    "metadata": {"reference": request.reference},
                },
                {"idempotency_key": request.reference},
            )
        except stripe.CardError as exc:
            return self._card_error(request.reference, exc)
        except stripe.StripeError as exc:
            return _failure(exc)
        self._ids[(Kind.PAYOUT, request.reference)] = payout.id
        return _payout_result(payout)

    async def status(self, kind: Kind, reference: str) -> Result:
        try:
            known = self._ids.get((kind, reference))
            if kind is Kind.CHARGE:
                if known is not None:
                    return self._intent_result(reference, await self._client.v1.payment_intents.retrieve_async(known))
                found = await self._client.v1.payment_intents.search_async(
                    {"query": f"metadata['reference']:'{_quoted(reference)}'", "limit": 1}
                )
                if not found.data:
                    return Result(Outcome.NOT_FOUND)
                return self._intent_result(reference, found.data[0])
            if kind is Kind.REFUND:
                if known is not None:
                    return _refund_result(await self._client.v1.refunds.retrieve_async(known))
                # Stripe has no refund search: the most recent refunds, by the metadata we gave them
                refunds = await self._client.v1.refunds.list_async({"limit": 100})
                refund = next((r for r in refunds.data if _reference_of(r) == reference), None)
                return Result(Outcome.NOT_FOUND) if refund is None else _refund_result(refund)
            if known is not None:
                return _payout_result(await self._client.v1.payouts.retrieve_async(known))
            payouts = await self._client.v1.payouts.list_async({"limit": 100})
            payout = next((p for p in payouts.data if _reference_of(p) == reference), None)
            return Result(Outcome.NOT_FOUND) if payout is None else _payout_result(payout)
        except stripe.StripeError as exc:
            return _failure(exc)

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        header = headers.get("stripe-signature") or next(
            (v for k, v in headers.items() if k.lower() == "stripe-signature"), None
        )
        try:
            # the SDK checks the signature; its age is checked below against our clock (the SDK reads time.time())
            event = self._client.construct_event(body, header, self._webhook_secret, tolerance=0)
        except stripe.SignatureVerificationError as exc:
            raise InvalidWebhook(f"signature: {exc.user_message or exc}") from exc
        except ValueError as exc:
            raise InvalidWebhook("unreadable webhook") from exc
        assert header is not None
        signed_at = next(int(v) for k, _, v in (i.partition("=") for i in header.split(",")) if k.strip() == "t")
        if abs(self._clock.now().timestamp() - signed_at) > TOLERANCE_S:
            raise InvalidWebhook("signature timestamp outside the tolerance")
        try:
            return self._event(event.to_dict())
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidWebhook(f"unreadable webhook: {type(exc).__name__}") from exc

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # -- mapping

    def _intent_result(self, reference: str, intent: stripe.PaymentIntent) -> Result:
        self._ids[(Kind.CHARGE, reference)] = intent.id
        self._references[intent.id] = reference
        status = intent.status
        if status == "succeeded":
            return Result(Outcome.APPROVED, psp_reference=intent.id)
        if status == "requires_action":
            redirect = intent.next_action.redirect_to_url if intent.next_action else None
            url = (redirect.url if redirect else None) or ""
            return Result(Outcome.REQUIRES_ACTION, intent.id, next_action=NextAction("three_ds_challenge", url))
        if status == "processing":
            return Result(Outcome.PENDING, psp_reference=intent.id)
        if status in ("requires_payment_method", "canceled"):
            error = intent.last_payment_error
            if error is None:
                return Result(Outcome.DECLINED, intent.id, decline_code="05", message=status)
            return _decline(intent.id, error.to_dict())
        return Result(Outcome.ERROR, intent.id, message=f"unexpected status {status}")

    def _card_error(self, reference: str, exc: stripe.CardError) -> Result:
        payload = exc.json_body if isinstance(exc.json_body, dict) else {}
        body: dict[str, Any] = payload.get("error") or {}
        intent = body.get("payment_intent")
        psp_reference = intent.get("id") if isinstance(intent, dict) else None
        if psp_reference is not None:
            self._ids[(Kind.CHARGE, reference)] = psp_reference
            self._references[psp_reference] = reference
        return _decline(psp_reference, body)

    def _event(self, event: dict[str, Any]) -> WebhookEvent:
        type_ = event["type"]
        obj: dict[str, Any] = event["data"]["object"]
        reference = (obj.get("metadata") or {}).get("reference")
        decline_code = None
        psp_reference = obj["id"]
        if type_ == "payment_intent.succeeded":
            ours = WebhookType.CHARGE_SUCCEEDED
        elif type_ == "payment_intent.payment_failed":
            ours = WebhookType.CHARGE_FAILED
            decline_code = _decline(obj["id"], obj.get("last_payment_error") or {}).decline_code
        elif type_ in ("refund.created", "refund.updated", "refund.failed"):
            if obj.get("status") == "succeeded" and type_ != "refund.failed":
                ours = WebhookType.REFUND_SUCCEEDED
            elif obj.get("status") in ("failed", "canceled") or type_ == "refund.failed":
                ours = WebhookType.REFUND_FAILED
                decline_code = stripe_to_network(obj.get("failure_reason"))
            else:
                raise UnhandledWebhook(f"refund {obj.get('status')} is not final")
        elif type_ == "payout.paid":
            ours = WebhookType.PAYOUT_PAID
        elif type_ == "payout.failed":
            ours = WebhookType.PAYOUT_FAILED
            decline_code = stripe_to_network(obj.get("failure_code"))
        elif type_ == "charge.dispute.created":
            ours = WebhookType.CHARGEBACK
            psp_reference = obj["payment_intent"]
            # a dispute carries no metadata of ours: the intent's reference, if this process made it
            reference = self._references.get(psp_reference, reference)
        else:
            raise UnhandledWebhook(f"event type {type_} is not handled")
        if not reference and ours is not WebhookType.CHARGEBACK:  # a dispute is found by the intent's id
            raise UnhandledWebhook(f"{type_} {obj['id']} names no reference of ours")
        return WebhookEvent(
            id=str(event["id"]),
            type=ours,
            reference=str(reference or ""),
            psp_reference=str(psp_reference),
            amount=int(obj["amount"]),
            currency=str(obj["currency"]).upper(),
            occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
            decline_code=decline_code,
        )


def _reference_of(obj: stripe.StripeObject) -> str | None:
    reference = (obj.to_dict().get("metadata") or {}).get("reference")
    return None if reference is None else str(reference)


def _quoted(value: str) -> str:
    """A value inside single quotes of Stripe's search language."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _decline(psp_reference: str | None, error: Mapping[str, Any]) -> Result:
    """A decline from Stripe's error object: the network's code where Stripe gives it, else the word mapped."""
    word = error.get("decline_code") or error.get("code")
    code = error.get("network_decline_code") or stripe_to_network(word)
    return Result(
        Outcome.DECLINED,
        psp_reference,
        decline_code=str(code),
        advice_code=error.get("network_advice_code"),
        message=str(word or error.get("message") or "declined"),
    )


def _refund_result(refund: stripe.Refund) -> Result:
    if refund.status == "succeeded":
        return Result(Outcome.APPROVED, refund.id)
    if refund.status in ("pending", "requires_action"):
        return Result(Outcome.PENDING, refund.id)
    reason = refund.failure_reason
    return Result(Outcome.DECLINED, refund.id, decline_code=stripe_to_network(reason), message=str(reason or ""))


def _payout_result(payout: stripe.Payout) -> Result:
    if payout.status == "paid":
        return Result(Outcome.APPROVED, payout.id)
    if payout.status in ("failed", "canceled"):
        code = payout.failure_code
        return Result(Outcome.DECLINED, payout.id, decline_code=stripe_to_network(code), message=str(code or ""))
    return Result(Outcome.PENDING, payout.id)


def _failure(exc: stripe.StripeError) -> Result:
    """A call that did not give Stripe's answer about the money. No connection, a 5xx (Stripe documents a 500 as
    indeterminate) or a 409 (the same key's first request still running): TIMEOUT, for a status query to resolve.
    A request Stripe refused (another 4xx): nothing moved."""
    status = exc.http_status or 0
    if isinstance(exc, stripe.APIConnectionError) or status >= 500 or status == 409:
        return Result(Outcome.TIMEOUT, message=f"{type(exc).__name__}: {exc.user_message or ''}")
    return Result(Outcome.ERROR, message=f"{type(exc).__name__}: {exc.user_message or exc.code or ''}")
